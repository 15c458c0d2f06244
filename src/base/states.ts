/**
 * states.ts — the shared service state model.
 *
 * Every adapter reports its services in these words, through one mapping table of its own.
 * `state` is what we observe; `target` is what the user (or the boot) wants. They are never one
 * variable: a service can be `respawn` (observed) while its target is `up`, or `stopping` while
 * its target is `down`.
 *
 * The architecture vocabulary (inactive | activating | active | deactivating | failed) maps onto
 * these states as shown in STATE_CLASS; the zos words (ok, error, respawn) are kept because users
 * of zinit type them.
 */
import { z } from 'zod';

type StateClass = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';

/**
 * The shared states, one row each: its architecture-level class (systemd-like words, used by docs
 * and `roles`) and what it means — the table docs/adapters.md and every adapter's
 * states.ts mapping speak of. Order is the life of a service.
 */
export const STATES = {
  waiting: { class: 'activating', description: 'target up, waiting for every `after` dependency to be ready' },
  starting: { class: 'activating', description: 'process spawned (or init script running), readiness not yet signalled' },
  running: { class: 'active', description: 'up and ready' },
  ok: { class: 'active', description: 'a oneshot that finished with exit code 0; never respawned' },
  respawn: { class: 'activating', description: 'exited unexpectedly; a restart is scheduled after the backoff delay' },
  stopping: { class: 'deactivating', description: 'stop signal sent, waiting for the process to exit (then SIGKILL at stop_timeout)' },
  stopped: { class: 'inactive', description: 'not running and not wanted (also: vetoed by the role registry, with the reason)' },
  error: { class: 'failed', description: 'failed and not being restarted; `reason` says why (dependency failed, binary missing, exit code, cycle …)' },
} as const satisfies Record<string, { class: StateClass; description: string }>;

export const ServiceState = z.enum(Object.keys(STATES) as [keyof typeof STATES, ...Array<keyof typeof STATES>]);
export type ServiceState = z.infer<typeof ServiceState>;

export const Target = z.enum(['up', 'down']);
export type Target = z.infer<typeof Target>;

/** Architecture-level class of each state (from STATES). */
export const STATE_CLASS: Record<ServiceState, StateClass> = Object.fromEntries(Object.entries(STATES).map(([k, v]) => [k, v.class])) as Record<ServiceState, StateClass>;

/** Is a dependency in this state satisfied (dependents may start)? */
export function isReady(state: ServiceState): boolean {
  return state === 'running' || state === 'ok';
}

/** Has a dependency in this state failed for good (dependents get error "dependency failed")? */
export function isFailed(state: ServiceState): boolean {
  return state === 'error';
}

/**
 * What a service *is*, as its init calls it. `status` shows services and oneshots by default and
 * every kind with `--all` (systemd's sockets, timers, targets, mounts …).
 */
export const ServiceKind = z.enum([
  /** a long-running process (a daemon) */
  'service',
  /** runs once to completion (a native oneshot, an init script without a daemon, Type=oneshot) */
  'oneshot',
  /** a listening socket that starts its service on demand */
  'socket',
  /** starts its service on a schedule */
  'timer',
  /** a synchronisation point grouping other units */
  'target',
  /** a mount point (systemd .mount, .automount, .swap) */
  'mount',
  /** a path watch (systemd .path) */
  'path',
  /** a device, a slice or a scope: systemd's bookkeeping units */
  'other',
]);
export type ServiceKind = z.infer<typeof ServiceKind>;

/** The kinds `status` shows without `--all`. */
export const DEFAULT_KINDS: readonly ServiceKind[] = ['service', 'oneshot'];

export const ServiceStatus = z.object({
  /** "instance/service" */
  id: z.string(),
  instance: z.string(),
  name: z.string(),
  adapter: z.string(),
  state: ServiceState,
  target: Target,
  /** why the service is in `error` / `respawn` / `waiting` (human-readable) */
  reason: z.string().optional(),
  pid: z.number().int().optional(),
  /** ms since epoch of the last state change */
  since: z.number(),
  /** number of automatic restarts since the service was last started by hand or by the boot */
  restarts: z.number().int(),
  oneshot: z.boolean(),
  /** what the thing is (see ServiceKind) */
  kind: ServiceKind,
  after: z.array(z.string()),
  /** last exit: code or signal name */
  lastExit: z.object({ code: z.number().nullable(), signal: z.string().nullable() }).optional(),
  /** its definition changed on disk since the running one was read: `metainit apply NAME` applies it */
  changed: z.boolean().optional(),
});
export type ServiceStatus = z.infer<typeof ServiceStatus>;
