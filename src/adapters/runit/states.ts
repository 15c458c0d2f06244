/**
 * states.ts — runit's view of a service, and the ONE table mapping it onto the shared states.
 *
 * runsv keeps the state of a service in supervise/status, 20 bytes (runit's runsv.c,
 * update_status; the layout daemontools' `supervise` used, which `sv status` decodes):
 *
 *   0..11   TAI64N time of the last change        16  paused (1 after `sv pause`)
 *   12..15  pid, little-endian (0 when none)      17  want: 'u' (up) or 'd' (down)
 *                                                 18  got TERM (1 while stopping)
 *                                                 19  phase: 0 down, 1 run, 2 finish
 *
 * `want` is runsv's target. A phase × target pair maps to one shared state; "down, want up" is
 * runsv's one-second pause before the next start, so it reads `respawn` (runit has no readiness:
 * `run` is `running`). Supervise/status is written by rename, so a read never sees half a file.
 */
import type { Observation } from '../scandir/scandir.js';
import type { ServiceState, Target } from '../../base/states.js';

export type RunitPhase = 'down' | 'run' | 'finish';

export const RUNIT_STATES: Record<RunitPhase, Record<Target, ServiceState>> = {
  /** ./run is running: up, or being stopped (TERM sent) */
  run: { up: 'running', down: 'stopping' },
  /** ./finish is running after ./run exited */
  finish: { up: 'respawn', down: 'stopping' },
  /** nothing runs: runsv restarts it within a second, or it was stopped */
  down: { up: 'respawn', down: 'stopped' },
};

export interface RunitStatus {
  phase: RunitPhase;
  want: Target;
  pid: number;
  paused: boolean;
}

const PHASES: readonly RunitPhase[] = ['down', 'run', 'finish'];

/** Decode supervise/status; undefined when it is not runit's 20-byte format. */
export function parseRunitStatus(buf: Buffer): RunitStatus | undefined {
  if (buf.length !== 20) return undefined;
  const phase = PHASES[buf[19]!];
  const want = buf[17] === 0x75 ? 'up' : buf[17] === 0x64 ? 'down' : undefined;
  if (!phase || !want) return undefined;
  return { phase, want, pid: buf.readUInt32LE(12), paused: buf[16] !== 0 };
}

export function runitObservation(buf: Buffer): Observation | undefined {
  const st = parseRunitStatus(buf);
  if (!st) return undefined;
  const obs: Observation = { state: RUNIT_STATES[st.phase][st.want], target: st.want };
  if (st.phase !== 'down' && st.pid > 0) obs.pid = st.pid;
  if (st.paused) obs.reason = 'paused';
  else if (st.phase === 'finish') obs.reason = 'running ./finish';
  return obs;
}
