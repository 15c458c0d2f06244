/**
 * adapter.ts — the Adapter interface (version 2): how metainit drives one init family.
 *
 * Think of systemd's UnitVTable: the manager (src/manager/manager.ts) knows nothing about
 * runit, s6, sysv rc, OpenRC or metainit's own YAML services; it only calls the methods below.
 * One *instance* (a file `adapters.d/<name>.yaml`) creates one Adapter object. No adapter
 * imports another; shared machinery lives in src/supervisor (and, for the scan-dir inits runit
 * and s6, in adapters/scandir/). Every adapter folder has the same files: `index.ts` (the
 * factory and its instance schema) and `states.ts` (its ONE mapping onto the shared states).
 *
 * Life cycle, in the order the manager calls it:
 *   1. `load()`        read the instance's own configuration (service files, scan dirs, init
 *                      scripts). Bad entries are reported as diagnostics — never thrown — and the
 *                      rest loads. Only reads: the offline `check` and `plan` call it too.
 *   2. `claims()`      which roles each service could provide (role registry input).
 *   3. `applyRoles()`  the registry's decision: services that must NOT run because another
 *                      instance holds their role. Applied with runtime-only means (never by
 *                      editing /etc).
 *      `plan()`        how the instance orders its services, for `metainit plan` (offline too).
 *   4. `start()`       prepare the instance's sandbox (its root's API filesystems, namespaces,
 *                      cgroup — through supervisor helpers: the manager prepares nothing) and
 *                      bring the instance up. Resolves once the start has been *scheduled*;
 *                      progress is reported through `emit`.
 *   5. at run time     `list()`, `status()`, `startService()`, `stopService()`,
 *                      `restartService()`, `reloadService()`, `applyService()`,
 *                      `killService()`, `logs()`, `sync()`.
 *   6. `stop(deadline)` stop every service (reverse dependency order inside the instance) and
 *                      any helper process (runsvdir, s6-svscan …) before `deadline` (ms epoch);
 *                      what is still alive at the deadline is SIGKILLed by the adapter. Then
 *                      release the sandbox: nothing the hosted init did outlives it on the
 *                      machine (no mount, cgroup or file left behind).
 *
 * Two words users confuse, kept apart here: `reloadService` asks the *service* to re-read its
 * own configuration (SIGHUP, an init script's `reload`/`force-reload`, systemd's ReloadUnit);
 * `applyService` makes *metainit* re-read the service's definition (a native YAML file, an init
 * script's header, a run directory). Native services have no reload of their own: for them
 * `reload` applies the changed file, which is what `metainit reload` has always done there.
 *
 * States: every adapter maps its own states onto the shared `ServiceState` in ONE table (see
 * base/states.ts) and reports each change as a `state` event carrying the full `ServiceStatus`,
 * whose `kind` says what the thing is (service, oneshot, socket, timer, target …).
 */
import type { Mode } from '../base/mode.js';
import type { ServiceStatus } from '../base/states.js';
import type { Sys } from '../base/sys.js';
import type { Diagnostic, Logger } from '../base/types.js';
import type { ChildWatch } from '../supervisor/reaper.js';
import type { NativeServiceEntry } from '../config/loader.js';
import type { RootHooks } from '../supervisor/sandbox.js';
import type { ConsoleTap } from '../supervisor/console-tap.js';

/** An instance's service could provide a role (input to the role registry). */
export interface RoleClaim {
  role: string;
  /** service name inside the instance */
  service: string;
}

export type { AdapterEvent } from '../base/events.js';
import type { AdapterEvent } from '../base/events.js';

/** who a kill reaches: every process of the service, or its main process only (systemctl --kill-whom) */
export type KillWhom = 'all' | 'main';

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
  /** hand to `prepareSandbox`: what the manager does on the instance's root (policy-rc.d) */
  rootHooks: RootHooks;
  /** PID 1's reaper: pids to leave to their owner (pty children), pids to watch (adopted after a re-exec) */
  reaper: ChildWatch;
  /** how metainit runs: only in `machine` mode is the cgroup2 mount (and the machine) its own */
  mode: Mode;
  deps: DependencyView;
  /** the other enabled instances of the same configuration (what an adapter may leave to them) */
  peers?: readonly InstancePeer[];
  /** report an event (state change, log line, message) */
  emit(ev: AdapterEvent): void;
  /** native only: services given in memory instead of a directory (the main command of `metainit -- CMD`) */
  inlineServices?: ReadonlyMap<string, NativeServiceEntry>;
}

/** Another instance of the configuration, as its instance file names it. */
export interface InstancePeer {
  instance: string;
  adapter: string;
  /** its root (absolute; / when the file gives none) */
  root: string;
}

export interface SyncOptions {
  /** load new services, start none of them until releaseHeld() */
  hold?: boolean;
}

export interface Adapter {
  /** adapter family: "native" | "runit" | "s6" | "sysv" | "openrc" | "systemd" */
  readonly kind: string;
  readonly instance: string;

  load(): Promise<Diagnostic[]>;
  claims(): RoleClaim[];
  /** roles this instance can never hold, with the reason (`check` names it when the policy asks for one) */
  unholdable?(): Readonly<Record<string, string>>;
  applyRoles(vetoed: ReadonlySet<string>): void;
  /** how the instance orders its services (valid after load/applyRoles; makes no system call) */
  plan(): InstancePlan;
  start(): Promise<void>;

  /** snapshot of every service of the instance, in name order */
  list(): ServiceStatus[];
  /** one service, without building the whole list; undefined when there is no such service */
  status(name: string): ServiceStatus | undefined;
  /**
   * a terminal to attach to (`metainit console`): the instance's own console when `name` is
   * undefined (a hosted systemd's /dev/console), else that service's; undefined when there is none
   */
  console?(name: string | undefined): ConsoleTap | undefined;
  /** where a service is defined (its file) and what it runs, as far as the adapter knows */
  describe?(name: string): { file?: string | undefined; command?: string[] | undefined };
  startService(name: string): Promise<void>;
  stopService(name: string): Promise<void>;
  restartService(name: string): Promise<void>;
  /** ask the service to re-read its own configuration (HUP, `reload`, ReloadUnit) */
  reloadService(name: string): Promise<Diagnostic[]>;
  /** re-read the service's definition and apply it (may restart it if what it runs changed) */
  applyService(name: string): Promise<Diagnostic[]>;
  /**
   * send a signal, by its canonical name (`SIGHUP`, `SIGRTMIN+3`: config/schema.ts SignalName), to
   * every process of the service (`all`, the default: its process group, its cgroup) or to its
   * main process only; an init that cannot tell them apart signals what it can
   */
  killService(name: string, signal: string, whom?: KillWhom): Promise<void>;
  /** last n log lines of a service (in-memory tail; a hosted journal may answer through a child) */
  logs(name: string, n: number, opts?: { raw?: boolean }): Promise<string[]>;
  /**
   * Someone follows the live lines of a service (undefined: of every service): emit them as 'log'
   * events until the returned function is called. Adapters that always emit their (few) lines
   * need not implement it; the native adapter's lines are moved by the logger process and reach
   * PID 1 only while followed.
   */
  follow?(name: string | undefined): () => void;
  /**
   * Re-read configuration: schedule new services, stop deleted ones, leave unchanged ones alone.
   * With `hold`, new services are loaded but not started until `releaseHeld()`: the manager
   * decides the roles again in between (a claimant installed at run time is vetoed before it
   * ever runs). Adapters without `releaseHeld` start them at once.
   */
  sync(opts?: SyncOptions): Promise<Diagnostic[]>;
  /** start what the last `sync({hold: true})` held back (applyRoles has run since) */
  releaseHeld?(): void;
  /**
   * Host directories whose changes mean the instance should be re-read (a package installed at
   * run time): the manager watches them and syncs (manager/config-watch.ts). Adapters whose init
   * watches its own tree (systemd) name none.
   */
  watchPaths?(): string[];
  stop(deadline: number): Promise<void>;

  /** pids this instance wants re-adopted after a re-exec of PID 1, with enough to rebuild state */
  snapshot(): unknown;
  /** restore from `snapshot()` output after a re-exec, before `start()` */
  adopt(snapshot: unknown): void;
}

/**
 * How an instance orders its services, for `metainit plan`: as a graph metainit can level (each
 * service's `after:` as written — names of the same instance, "instance/name", "role:NAME"), or
 * in one sentence when the hosted init orders them itself.
 */
export type InstancePlan =
  | { services: Array<{ name: string; after: readonly string[]; file?: string | undefined }> }
  | { summary: string };

/** Every adapter module exports a factory of this shape from src/adapters/<kind>/index.ts. */
export type AdapterFactory = (ctx: AdapterContext) => Adapter;
