/**
 * adapter.ts — the Adapter interface: how metainit drives one init family.
 *
 * Think of systemd's UnitVTable: the manager (src/supervisor/manager.ts) knows nothing about
 * runit, s6, sysv rc, OpenRC or metainit's own YAML services; it only calls the methods below.
 * One *instance* (a file `adapters.d/<name>.yaml`) creates one Adapter object. No adapter
 * imports another; shared machinery lives in src/supervisor.
 *
 * Life cycle, in the order the manager calls it:
 *   1. `load()`        read the instance's own configuration (service files, scan dirs, init
 *                      scripts). Bad entries are reported as diagnostics — never thrown — and the
 *                      rest loads. Returns the diagnostics.
 *   2. `claims()`      which roles each service could provide (role registry input).
 *   3. `applyRoles()`  the registry's decision: services that must NOT run because another
 *                      instance holds their role. Applied with runtime-only means (never by
 *                      editing /etc).
 *   4. `start()`       bring the instance up: schedule/start its services. Resolves once the
 *                      start has been *scheduled* (not when everything is ready); progress is
 *                      reported through `onEvent`.
 *   5. at run time     `list()`, `startService()`, `stopService()`, `restartService()`,
 *                      `reloadService()`, `killService()`, `logs()`, `sync()`.
 *   6. `stop(deadline)` stop every service (reverse dependency order inside the instance) and
 *                      any helper process (runsvdir, s6-svscan …) before `deadline` (ms epoch);
 *                      what is still alive at the deadline is SIGKILLed by the adapter.
 *
 * States: every adapter maps its own states onto the shared `ServiceState` in ONE table (see
 * states.ts) and reports each change as a `state` event carrying the full `ServiceStatus`.
 */
import type { ServiceStatus } from '../supervisor/states.js';
import type { Sys } from '../pid1/sys.js';

/** One problem found while loading configuration: names the file, the key and the fix. */
export interface Diagnostic {
  level: 'error' | 'warning';
  /** file the problem is in (absolute path) */
  file: string;
  /** offending key path, e.g. "restart.max_delay" ('' when the whole file is the problem) */
  key: string;
  /** full message: "<subject>: unable to <verb> <object>: <reason> (fix: …)" */
  message: string;
  /** service id the diagnostic concerns, when there is one */
  service?: string;
}

/** An instance's service could provide a role (input to the role registry). */
export interface RoleClaim {
  role: string;
  /** service name inside the instance */
  service: string;
}

export type AdapterEvent =
  | { type: 'state'; status: ServiceStatus }
  | { type: 'log'; id: string; stream: 'stdout' | 'stderr'; line: string; time: number }
  | { type: 'message'; level: 'info' | 'warning' | 'error'; text: string };

/** Where a dependency named in `after:` stands. */
export type DepState = 'ready' | 'pending' | 'failed' | 'unknown';

/**
 * Cross-instance dependency view, provided by the manager. A reference is either
 * "instance/service", "role:NAME", or a bare service name local to the asking instance.
 */
export interface DependencyView {
  state(ref: string, fromInstance: string): DepState;
  /** called after any service state change anywhere; returns an unsubscribe function */
  onChange(cb: () => void): () => void;
}

export interface Logger {
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

/** What the manager hands an adapter when it creates it. */
export interface AdapterContext {
  /** instance name = file stem of adapters.d/<name>.yaml */
  instance: string;
  /** the validated instance config (adapter-specific options included) */
  config: Record<string, unknown> & { adapter: string; root?: string | undefined; after?: string[] | undefined };
  /** the config directory (DIR of DIR/metainit.yaml) */
  configDir: string;
  /** the instance file (adapters.d/<instance>.yaml): diagnostics about instance keys name it */
  file: string;
  /** runtime directory of this instance, e.g. /run/metainit/<instance> (created by the manager) */
  runDir: string;
  /** directory for per-service log files */
  logDir: string;
  sys: Sys;
  log: Logger;
  deps: DependencyView;
  /** report an event (state change, log line, message) */
  emit(ev: AdapterEvent): void;
}

export interface Adapter {
  /** adapter family: "native" | "runit" | "s6" | "sysv" | "openrc" | "systemd" */
  readonly kind: string;
  readonly instance: string;

  load(): Promise<Diagnostic[]>;
  claims(): RoleClaim[];
  applyRoles(vetoed: ReadonlySet<string>): void;
  start(): Promise<void>;

  /** snapshot of every service of the instance */
  list(): ServiceStatus[];
  startService(name: string): Promise<void>;
  stopService(name: string): Promise<void>;
  restartService(name: string): Promise<void>;
  /** apply a changed definition of one service (may restart it if its command changed) */
  reloadService(name: string): Promise<Diagnostic[]>;
  killService(name: string, signal: NodeJS.Signals): Promise<void>;
  /** last n log lines of a service (in-memory tail) */
  logs(name: string, n: number): string[];
  /** re-read configuration: schedule new services, stop deleted ones, leave unchanged ones alone */
  sync(): Promise<Diagnostic[]>;
  stop(deadline: number): Promise<void>;

  /** pids this instance wants re-adopted after a re-exec of PID 1, with enough to rebuild state */
  snapshot(): unknown;
  /** restore from `snapshot()` output after a re-exec, before `start()` */
  adopt(snapshot: unknown): void;
}

/** Every adapter module exports a factory of this shape from src/adapters/<kind>/index.ts. */
export type AdapterFactory = (ctx: AdapterContext) => Adapter;
