/**
 * states.ts — s6's view of a service, and the ONE table mapping it onto the shared states.
 *
 * s6-supervise keeps the state of a service in supervise/status (skarnet/s6,
 * src/libs6/s6_svstatus_pack.c). Two sizes exist; both are read:
 *
 *   35 bytes (s6 ≤ 2.11, Debian bookworm)     43 bytes (s6 ≥ 2.12, adds the process group)
 *   0..11   TAIN of the last up/down change   same
 *   12..23  TAIN of the last readiness        same
 *   24..31  pid, big-endian (0 = down)        same; 32..39 pgid
 *   32..33  wait status of the last exit      40..41
 *   34      flags                             42
 *
 * flags: 1 paused · 2 finishing (./finish runs) · 4 want up · 8 ready.
 *
 * Readiness: a service whose directory has a `notification-fd` file writes a newline to that fd
 * when it is ready; until then it is `starting`. A service without one is ready once up (its
 * ready flag stays 0, so the flag alone is not the answer).
 */
import { constants } from 'node:os';
import type { Observation } from '../scandir/scandir.js';
import type { ServiceState, Target } from '../../base/states.js';

export type S6Phase = 'ready' | 'up' | 'finishing' | 'down';

export const S6_STATES: Record<S6Phase, Record<Target, ServiceState>> = {
  /** up and ready (or up, with no readiness notification to wait for) */
  ready: { up: 'running', down: 'stopping' },
  /** up, has a notification-fd, has not written to it yet */
  up: { up: 'starting', down: 'stopping' },
  /** ./run exited, ./finish is running */
  finishing: { up: 'respawn', down: 'stopping' },
  /** nothing runs: s6-supervise starts it again within a second, or it was stopped */
  down: { up: 'respawn', down: 'stopped' },
};

export interface S6Status {
  pid: number;
  wstat: number;
  paused: boolean;
  finishing: boolean;
  wantUp: boolean;
  ready: boolean;
}

/** Decode supervise/status; undefined when the size is neither known format. */
export function parseS6Status(buf: Buffer): S6Status | undefined {
  const at = buf.length === 35 ? { wstat: 32, flags: 34 } : buf.length === 43 ? { wstat: 40, flags: 42 } : undefined;
  if (!at) return undefined;
  const flags = buf[at.flags]!;
  return {
    pid: Number(buf.readBigUInt64BE(24)),
    wstat: buf.readUInt16BE(at.wstat),
    paused: (flags & 1) !== 0,
    finishing: (flags & 2) !== 0,
    wantUp: (flags & 4) !== 0,
    ready: (flags & 8) !== 0,
  };
}

export function s6Phase(st: S6Status, notify: boolean): S6Phase {
  if (st.pid === 0) return 'down';
  if (st.finishing) return 'finishing';
  return st.ready || !notify ? 'ready' : 'up';
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, num]) => [num, name]));

export function s6Observation(buf: Buffer, notify: boolean): Observation | undefined {
  const st = parseS6Status(buf);
  if (!st) return undefined;
  const phase = s6Phase(st, notify);
  const target: Target = st.wantUp ? 'up' : 'down';
  const obs: Observation = { state: S6_STATES[phase][target], target };
  if (phase === 'ready' || phase === 'up') obs.pid = st.pid;
  if (phase === 'up') obs.reason = 'waiting for readiness on notification-fd';
  // A zero wait status is also what a never-started service shows: only report real failures.
  if ((phase === 'down' || phase === 'finishing') && st.wstat !== 0) {
    const sig = st.wstat & 0x7f;
    obs.lastExit = sig === 0 ? { code: (st.wstat >> 8) & 0xff, signal: null } : { code: null, signal: SIGNAL_NAMES.get(sig) ?? `signal ${sig}` };
    obs.reason = sig === 0 ? `exited with code ${obs.lastExit.code}` : `killed by ${obs.lastExit.signal}`;
  }
  if (st.paused) obs.reason = 'paused';
  return obs;
}
