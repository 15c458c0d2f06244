/**
 * states.ts — systemd's view of a unit, and the ONE table mapping it onto the shared states.
 *
 * systemd reports a unit as ActiveState (the general state, the same words for every unit type)
 * and SubState (the type's own state: `running`, `exited`, `listening`, `waiting`, `auto-restart`
 * …; org.freedesktop.systemd1(5)). The table below maps ActiveState to a shared state and target,
 * with the few SubStates that mean something else overriding it:
 *   - `active/exited`: a oneshot (or RemainAfterExit=) service that finished well → `ok`;
 *   - `activating/auto-restart`: the service died and systemd restarts it after RestartSec=
 *     → `respawn`, which is exactly our word;
 * `failed` is `error`, with the reason built from the unit's Result= and ExecMainStatus= when
 * they are known. A unit whose LoadState is `masked` is `stopped` with the reason "masked" (or the
 * veto reason, when metainit masked it for a role).
 *
 * What a unit is comes from its suffix (`cron.service`, `tangd.socket`, `apt-daily.timer`).
 */
import type { ServiceKind, ServiceState, Target } from '../../base/states.js';

export type ActiveState = 'active' | 'reloading' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'maintenance' | 'refreshing';

interface Row {
  state: ServiceState;
  target: Target;
  /** SubStates that map elsewhere */
  sub?: Partial<Record<string, ServiceState>>;
}

export const SYSTEMD_STATES: Record<ActiveState, Row> = {
  active: { state: 'running', target: 'up', sub: { exited: 'ok' } },
  reloading: { state: 'running', target: 'up' },
  refreshing: { state: 'running', target: 'up' },
  activating: { state: 'starting', target: 'up', sub: { 'auto-restart': 'respawn' } },
  deactivating: { state: 'stopping', target: 'down' },
  maintenance: { state: 'stopping', target: 'down' },
  inactive: { state: 'stopped', target: 'down' },
  failed: { state: 'error', target: 'up' },
};

/** What systemd says about one unit (ListUnits' row plus what signals and Get add). */
export interface UnitView {
  name: string;
  load: string;
  active: string;
  sub: string;
  /** unit object path on the bus */
  path?: string | undefined;
  /** Service.MainPID (0: none) */
  mainPid?: number | undefined;
  /** Service.Result / Unit-type Result (`success`, `exit-code`, `signal`, `timeout` …) */
  result?: string | undefined;
  /** Service.ExecMainCode (1 exited, 2 killed, 3 dumped) and ExecMainStatus */
  execCode?: number | undefined;
  execStatus?: number | undefined;
}

const RESULT_WORDS: Record<string, string> = {
  'exit-code': 'exited with code',
  signal: 'killed by signal',
  'core-dump': 'dumped core, signal',
  timeout: 'timed out',
  watchdog: 'watchdog timeout',
  'start-limit-hit': 'start limit hit (restarted too often)',
  resources: 'resources unavailable (a file, socket or cgroup could not be set up)',
  protocol: 'protocol violation (e.g. no PID file, bad sd_notify)',
  'oom-kill': 'killed by the OOM killer',
  'exec-condition': 'ExecCondition= failed',
};

/** Why a failed unit failed, in words, from Result= and ExecMainStatus=. */
export function failureReason(u: UnitView): string {
  const r = u.result;
  if (!r || r === 'success') return `${u.name} failed`;
  const words = RESULT_WORDS[r] ?? r;
  if ((r === 'exit-code' || r === 'signal' || r === 'core-dump') && u.execStatus !== undefined) return `${words} ${u.execStatus}`;
  return words;
}

/** The unit's kind, by its suffix. */
export function unitKind(name: string): ServiceKind {
  const suffix = name.slice(name.lastIndexOf('.') + 1);
  switch (suffix) {
    case 'service':
      return 'service';
    case 'socket':
      return 'socket';
    case 'timer':
      return 'timer';
    case 'target':
      return 'target';
    case 'mount':
    case 'automount':
    case 'swap':
      return 'mount';
    case 'path':
      return 'path';
    default:
      return 'other';
  }
}

/** One unit as shared state, target and reason. */
export function unitObservation(u: UnitView): { state: ServiceState; target: Target; reason?: string } {
  if (u.load === 'masked') return { state: 'stopped', target: 'down', reason: 'masked' };
  if (u.load === 'not-found') return { state: u.active === 'failed' ? 'error' : 'stopped', target: 'down', reason: 'no such unit file' };
  const row = SYSTEMD_STATES[u.active as ActiveState] ?? { state: 'error' as const, target: 'up' as const };
  const state = row.sub?.[u.sub] ?? row.state;
  if (state === 'error') return { state, target: row.target, reason: SYSTEMD_STATES[u.active as ActiveState] ? failureReason(u) : `unknown ActiveState ${u.active}` };
  if (u.active === 'reloading') return { state, target: row.target, reason: 'reloading' };
  return { state, target: row.target };
}
