/**
 * states.ts — sysv init scripts in the shared state words: the LSB status table.
 *
 * An init script has no state of its own that metainit could watch; it answers `script status`
 * with an exit code (LSB core 4.1 §20.2). LSB_STATUS is the ONE table mapping that code onto
 * the shared ServiceState, in two columns: what the code means while the service is wanted
 * (target up: "not running" is then a failure) and while it is not (target down: "not
 * running" is the goal). `null` means the code tells nothing: keep the state we had.
 *
 * Around it: what the exit code of `start` / `stop` means (for reasons shown to the user), and
 * the states an init script passes through that need no table — `waiting` (dependencies not
 * ready), `starting` / `stopping` (the action is running on its pty), `ok` (a script without a
 * status action whose start succeeded: a oneshot, like rc.local).
 */
import type { ServiceState, Target } from '../../base/states.js';

export interface LsbStatusRow {
  /** the LSB's words */
  meaning: string;
  /** state while the target is up; null: unchanged */
  up: ServiceState | null;
  /** state while the target is down; null: unchanged */
  down: ServiceState | null;
}

/** `script status` exit code → state. Codes 5–199 are reserved or application-specific: like 4. */
export const LSB_STATUS: Readonly<Record<0 | 1 | 2 | 3 | 4, LsbStatusRow>> = {
  0: { meaning: 'program is running or service is OK', up: 'running', down: 'running' },
  1: { meaning: 'program is dead and /var/run pid file exists', up: 'error', down: 'stopped' },
  2: { meaning: 'program is dead and /var/lock lock file exists', up: 'error', down: 'stopped' },
  3: { meaning: 'program is not running', up: 'error', down: 'stopped' },
  4: { meaning: 'program or service status is unknown', up: null, down: null },
};

/** The row for any status exit code. */
export function statusRow(code: number): LsbStatusRow {
  return code in LSB_STATUS ? LSB_STATUS[code as keyof typeof LSB_STATUS] : LSB_STATUS[4];
}

/** State (and reason, for a failure) after `script status` exited with `code`; null: no news. */
export function stateFromStatus(code: number, target: Target): { state: ServiceState; reason?: string } | null {
  const row = statusRow(code);
  const state = target === 'up' ? row.up : row.down;
  if (state === null) return null;
  return state === 'error' ? { state, reason: `status ${code}: ${row.meaning}` } : { state };
}

/** What the exit code of `start`, `stop`, `restart` … means (LSB core 4.1 §20.2). */
export const LSB_ACTION_EXIT: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'generic or unspecified error',
  2: 'invalid or excess argument(s)',
  3: 'unimplemented feature',
  4: 'user had insufficient privilege',
  5: 'program is not installed',
  6: 'program is not configured',
  7: 'program is not running',
};

/** "exit 6 (program is not configured)" */
export function describeActionExit(code: number | null, signal: string | null): string {
  if (signal) return `killed by ${signal}`;
  if (code === null) return 'did not run';
  const meaning = LSB_ACTION_EXIT[code];
  return meaning ? `exit ${code} (${meaning})` : `exit ${code}`;
}
