/**
 * main-service.ts — the container's main service (metainit.yaml `main:`), like tini's child: the
 * container ends when it ends (even if it would be respawned), and its exit status becomes
 * metainit's (128+n when it was killed by signal n).
 */
import { constants as osConstants } from 'node:os';
import type { Event } from '../base/events.js';
import type { ServiceStatus } from '../base/states.js';

/** The states in which the main service has ended. */
const ENDED = new Set(['ok', 'error', 'respawn']);

/** Calls `ended` the first time an event says `mainId` ended. Returns the event listener to attach. */
export function watchMain(mainId: string, ended: () => void): (ev: Event) => void {
  return (ev) => {
    if (ev.type === 'state' && ev.status.id === mainId && ENDED.has(ev.status.state)) ended();
  };
}

/** exit status in container mode: the main service's (128+n if killed), else 0 */
export function mainExitCode(main: ServiceStatus | undefined): number {
  const last = main?.lastExit;
  if (!last) return 0;
  if (last.code !== null) return last.code;
  if (last.signal) return 128 + ((osConstants.signals as Record<string, number>)[last.signal] ?? 0);
  return 0;
}
