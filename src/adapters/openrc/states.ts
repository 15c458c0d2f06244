/**
 * states.ts — OpenRC services in the shared state words.
 *
 * OpenRC keeps each service's state as a symlink in one directory of its state dir
 * (RC_SVCDIR, /run/openrc on Debian): started/cron, failed/foo … Reading those directories is
 * what `rc-status` does, minus the process spawn, so metainit reads them itself. OPENRC_STATES
 * is the ONE table mapping a directory onto the shared ServiceState; a service can sit in more
 * than one (starting and wasinactive, started and hotplugged), so the table is in precedence
 * order and the first directory holding the service wins. A service in none is `stopped`.
 *
 * Not states but flags, and so not in the table: `hotplugged` (started by a device event),
 * `wasinactive` (was inactive before it began to stop), `scheduled` (waits for another service
 * to start; it is then still in no state directory, hence stopped). One state is derived:
 * OpenRC calls a started service whose daemon is gone *crashed* (rc-status shows it so);
 * metainit shows it as `error` with reason CRASHED.
 */
import type { ServiceState } from '../../base/states.js';

export interface OpenrcStateRow {
  /** directory under RC_SVCDIR */
  dir: string;
  state: ServiceState;
  /** reason shown with the state */
  reason?: string;
}

/** State directories, highest precedence first. */
export const OPENRC_STATES: readonly OpenrcStateRow[] = [
  /** its stop function runs */
  { dir: 'stopping', state: 'stopping' },
  /** its start function runs */
  { dir: 'starting', state: 'starting' },
  /** its start function failed (cleared by the next `openrc` runlevel change) */
  { dir: 'failed', state: 'error', reason: 'failed to start (see metainit logs)' },
  /** started, but waiting for an event before it counts as up (e.g. a network interface's link) */
  { dir: 'inactive', state: 'waiting', reason: 'inactive: waiting for an event (e.g. a network link)' },
  /** its start function succeeded */
  { dir: 'started', state: 'running' },
];

/** The state directories to create before OpenRC runs for the first time (as its sysinit would). */
export const OPENRC_STATE_DIRS: readonly string[] = [
  'started', 'starting', 'stopping', 'inactive', 'wasinactive', 'failed', 'hotplugged',
  'daemons', 'options', 'exclusive', 'scheduled', 'tmp',
];

/** Reason for a started service whose pid file names no live process. */
export const CRASHED = 'crashed: its daemon is gone (pid file names no live process)';

/** State of a service from the set of directories it is in. */
export function stateFromDirs(dirs: ReadonlySet<string>): { state: ServiceState; reason?: string } {
  for (const row of OPENRC_STATES) {
    if (dirs.has(row.dir)) return row.reason === undefined ? { state: row.state } : { state: row.state, reason: row.reason };
  }
  return { state: 'stopped' };
}
