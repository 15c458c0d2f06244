/**
 * main-service.ts — the container's main service (`metainit -- CMD`, or metainit.yaml `main:`),
 * like tini's child: the container ends when it ends (even if it would be respawned), and its
 * exit status becomes metainit's (128+n when it was killed by signal n; 127/126 when it could
 * not be executed). Signals to PID 1 are forwarded to it (signals.ts); a stop signal stops it
 * first — the entrypoint's command with that very signal, as tini passes it on, a configured
 * main with its own stop_signal — and only then the other services.
 */
import { constants as osConstants } from 'node:os';
import type { Event } from '../base/events.js';
import type { ServiceStatus } from '../base/states.js';
import type { Logger } from '../base/types.js';
import type { EntrySpec } from '../config/entry.js';
import type { Manager } from '../manager/manager.js';
import type { MainSignals } from './signals.js';

/** how long an entrypoint's command is given to end after the stop signal before it is stopped the hard way */
const MAIN_STOP_MS = 10_000;

/** The states in which the main service has ended. */
const ENDED = new Set(['ok', 'error', 'respawn']);

/**
 * Calls `ended` once main has ended: at once if it already has (a command that could not be
 * executed fails before anyone listens), else at the first event that says so.
 */
export function watchMain(manager: Pick<Manager, 'status' | 'events'>, mainId: string, ended: () => void): void {
  let called = false;
  const once = (): void => {
    if (!called) (called = true), ended();
  };
  manager.events.on('event', (ev: Event) => {
    if (ev.type === 'state' && ev.status.id === mainId && ENDED.has(ev.status.state)) once();
  });
  let now: ServiceStatus | undefined;
  try {
    now = manager.status(mainId)[0];
  } catch {
    now = undefined; // no such service: the configuration names a main that is not there
  }
  if (now && ENDED.has(now.state)) once();
}

/** exit status in container mode: the main service's (128+n if killed), else 0 */
export function mainExitCode(main: ServiceStatus | undefined): number {
  const last = main?.lastExit;
  if (!last) return 0;
  if (last.code !== null) return last.code;
  if (last.signal) return 128 + ((osConstants.signals as Record<string, number>)[last.signal] ?? 0);
  return 0;
}

/** Where signals for main go: the entrypoint's flags, else metainit.yaml's main_signals. */
export function mainSignals(manager: Manager, mainId: string, entry: EntrySpec | undefined, log?: Logger): MainSignals {
  const cfg = manager.global.main_signals;
  const group = entry ? entry.group : cfg.group;
  return {
    stop: entry ? entry.stopSignals : cfg.stop,
    forward: (sig) => {
      manager.kill(mainId, sig, group ? 'all' : 'main').catch((e: unknown) => log?.info(`${sig}: not forwarded: ${(e as Error).message}`));
    },
  };
}

const ACTIVE = new Set(['starting', 'running', 'stopping']);

function active(manager: Manager, id: string): boolean {
  const st = manager.status(id)[0];
  return st !== undefined && ACTIVE.has(st.state);
}

/** resolves once `id` is no longer active, or after `ms` */
function ended(manager: Manager, id: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      manager.events.off('event', onEvent);
      resolve();
    };
    const onEvent = (ev: Event): void => {
      if (ev.type === 'state' && ev.status.id === id && !ACTIVE.has(ev.status.state)) done();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    manager.events.on('event', onEvent);
    if (!active(manager, id)) done();
  });
}

/**
 * Stage 3's first step with a main service: stop it before the rest. `signal` (the stop signal
 * that came, for the entrypoint's command) is passed on first, the way every other signal is
 * (`main.forward`); whatever still runs after that gets the service's own stop (its stop_signal,
 * KILL after its stop_timeout).
 */
export async function stopMainFirst(manager: Manager, main: MainSignals, id: string, signal: string | undefined, deadline: number): Promise<void> {
  if (!active(manager, id)) return;
  if (signal) {
    main.forward(signal);
    await ended(manager, id, Math.min(deadline - Date.now(), MAIN_STOP_MS));
  }
  if (active(manager, id)) await manager.control('stop', id).catch(() => undefined);
}
