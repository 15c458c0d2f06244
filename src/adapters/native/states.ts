/**
 * states.ts — the native service's transition table: state × event → action.
 *
 * The native adapter reports the shared states of src/supervisor/states.ts as they are (it needs
 * no state mapping of its own); what it needs is this table, read by Service.dispatch
 * (service.ts, where the model is told in prose). A state × event pair that is missing here is
 * ignored: a late exit of an old run, a second start while running, a stop when already down.
 *
 * Actions:
 *   wait       target up; → waiting, then check the dependencies at once (error if blocked by a
 *              cycle, stopped if vetoed by the role registry)
 *   spawn      launch a run → starting (→ running at once for ready: spawn); error if it cannot run
 *   respawn    a new run after a crash (restarts + 1)
 *   depFailed  → error "dependency failed: instance/x"
 *   up         → running
 *   abort      readiness failed: terminate the run, then → error with that reason
 *   exited     the restart policy and backoff decide: ok | respawn | error
 *   drop       target down; cancel a pending respawn → stopped
 *   terminate  target down; stop_signal to the pid, arm stop_timeout → stopping
 *   wantUp     target up again: start anew once the run is gone
 *   down       the run is gone: SIGKILL what is left of its group → stopped (or waiting if wanted up)
 *   kill       SIGKILL to the process group
 */
import type { ServiceState } from '../../base/states.js';
import type { ExitStatus } from '../../supervisor/process.js';

export type EventKind =
  /** start requested (by hand, the boot, or a sync) */
  | 'start'
  /** every `after` reference is ready */
  | 'depsReady'
  /** an `after` reference is in error */
  | 'depFailed'
  /** the readiness protocol says the run is up */
  | 'ready'
  /** the readiness protocol failed (timeout, test command missing) */
  | 'notReady'
  /** the run ended */
  | 'exited'
  /** the restart delay elapsed */
  | 'backoff'
  /** stop requested */
  | 'stop'
  /** stop_timeout elapsed after stop_signal */
  | 'stopTimeout';

export interface ServiceEvent {
  kind: EventKind;
  reason?: string;
  exit?: ExitStatus;
}

export type Action = 'wait' | 'spawn' | 'respawn' | 'depFailed' | 'up' | 'abort' | 'exited' | 'drop' | 'terminate' | 'wantUp' | 'down' | 'kill';

export const TABLE: Record<ServiceState, Partial<Record<EventKind, Action>>> = {
  stopped: { start: 'wait' },
  waiting: { depsReady: 'spawn', depFailed: 'depFailed', stop: 'drop' },
  starting: { ready: 'up', notReady: 'abort', exited: 'exited', stop: 'terminate' },
  running: { exited: 'exited', stop: 'terminate' },
  ok: { stop: 'drop' },
  respawn: { start: 'respawn', backoff: 'respawn', stop: 'drop' },
  stopping: { start: 'wantUp', exited: 'down', stopTimeout: 'kill' },
  error: { start: 'wait', stop: 'drop' },
};
