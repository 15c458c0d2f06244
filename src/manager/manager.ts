/**
 * manager.ts — the stage-2 manager: every instance of every adapter, under one roof.
 *
 * Model. The manager owns a list of *instances* (one per adapters.d file), each driven through
 * the Adapter interface; it knows nothing about runit, s6 or YAML services. It:
 *   1. loads the config dir (global file, instance files) and asks each adapter to load its own
 *      configuration — a broken file becomes a diagnostic, never a stop;
 *   2. collects role claims, lets the role registry pick one owner per role and tells every
 *      adapter which of its services are vetoed — before any instance starts;
 *   3. starts each instance as soon as everything in its `after:` (instances or roles) is ready;
 *      independent instances start together;
 *   4. keeps the latest ServiceStatus of every service (from the adapters' `state` events) and
 *      answers cross-instance dependency questions (DependencyView) from it;
 *   5. routes control requests (`instance/service` or a unique bare service name);
 *   6. stops the instances in reverse start order within one shutdown deadline.
 *
 * Every event (state, log, message, orphan) goes out on `events`, which the API server streams.
 */
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import type { AdapterEvent, DependencyView, DepState, KillWhom } from '../adapters/adapter.js';
import { NO_CHILD_WATCH, type ChildWatch } from '../supervisor/reaper.js';
import { watchConfig, type ConfigWatch } from './config-watch.js';
import { decideStageRoles, loadStage2, type InstanceFile, type LoadedInstance, type StageEnv } from './pipeline.js';
import type { Diagnostic, Logger } from '../base/types.js';
import type { Event } from '../base/events.js';
import type { GlobalConfig } from '../config/schema.js';
import type { Sys } from '../base/sys.js';
import { closest } from '../config/errors.js';
import { grantId, holderOf, type RoleDecision } from '../roles/registry.js';
import { lsbHookScript, removeLsbHook, writeLsbHook } from './lsb-hook.js';
import { lsbHookPlan, policyRcDHolders, policyRcDNames, removePolicyRcD, writePolicyRcD } from './policy-rc-d.js';
import { resolveRef, type Ref } from '../supervisor/graph.js';
import { processTree, procArgv, type TreeProc } from '../supervisor/proctree.js';
import type { ConsoleTap } from '../supervisor/console-tap.js';
import type { RootHooks } from '../supervisor/sandbox.js';
import type { Mode } from '../base/mode.js';
import type { EntrySpec } from '../config/entry.js';
import { DEFAULT_KINDS, isFailed, isReady, type ServiceStatus } from '../base/states.js';

export interface Instance extends LoadedInstance {
  started: boolean;
  startedAt?: number;
}

/** Everything on the manager's event stream (adapters' events plus the reaper's orphans). */
export type ManagerEvent = Event;

/** `status NAME`: the detail view's data */
export interface ServiceDetail {
  status: ServiceStatus;
  /** the instance's adapter kind */
  kind: string;
  /** the definition: a native YAML file, an init script, a run directory, a unit (or the instance file) */
  file: string;
  command?: string[];
  /** services whose after: names this one */
  dependents: string[];
  processes: TreeProc[];
  log: string[];
}

export class Manager {
  readonly events = new EventEmitter();
  global!: GlobalConfig;
  instances: Instance[] = [];
  /** every instance file found, enabled or not */
  files: InstanceFile[] = [];
  diagnostics: Diagnostic[] = [];
  roles: RoleDecision | undefined;
  private readonly statuses = new Map<string, ServiceStatus>();
  private readonly depListeners = new Set<() => void>();
  private startOrder: string[] = [];
  private stopping = false;

  private readonly policyRoots = new Set<string>();
  /** the instances' directories, watched for packages installed at run time */
  private watcher: ConfigWatch | undefined;
  /** the names each root's policy-rc.d refuses now (space-joined) */
  private readonly policyNames = new Map<string, string>();
  /** roots whose sandbox is ready (policy-rc.d may go in at any sync) */
  private readonly readyRoots = new Set<string>();

  /**
   * @param opts.ownMountNamespace metainit is PID 1 (machine or container): runtime mounts such as
   *   the policy-rc.d bind are its own. False when running as a plain supervisor on a host.
   * @param opts.reaper PID 1's reaper, handed to every adapter (none: nothing adopted is watched)
   * @param opts.mode how metainit runs (base/mode.ts), handed to every adapter (default supervisor)
   */
  private readonly ownMountNamespace: boolean;
  private readonly mode: Mode;
  private readonly reaper: ChildWatch;
  /** what the last load or sync found wrong (status shows files that failed to load) */
  private lastDiagnostics: Diagnostic[] = [];
  /** the main command of `metainit -- CMD` (configDir '' when it came without a directory) */
  readonly entry: EntrySpec | undefined;

  constructor(
    readonly configDir: string,
    private readonly sys: Sys,
    private readonly log: Logger,
    opts: { ownMountNamespace?: boolean; reaper?: ChildWatch; mode?: Mode; entry?: EntrySpec } = {},
  ) {
    this.entry = opts.entry;
    this.ownMountNamespace = opts.ownMountNamespace ?? false;
    this.mode = opts.mode ?? 'supervisor';
    this.reaper = opts.reaper ?? NO_CHILD_WATCH;
    this.events.setMaxListeners(0);
  }

  // ------------------------------------------------------------------------------ loading

  /** Load global config, instances and each adapter's own config, and decide the roles (pipeline.ts). Never throws for bad input. */
  async load(): Promise<void> {
    const env: StageEnv = { sys: this.sys, log: this.log, reaper: this.reaper, rootHooks: this.rootHooks, deps: this.depView, emit: (ev) => this.onAdapterEvent(ev), live: true, mode: this.mode };
    const stage = await loadStage2(this.configDir, env, { entry: this.entry });
    this.global = stage.global;
    this.instances = stage.instances.map((i) => ({ ...i, started: false }));
    this.files = stage.files;
    this.diagnostics = stage.diagnostics;
    this.lastDiagnostics = stage.diagnostics;
    this.roles = stage.roles;
    for (const d of this.diagnostics) (d.level === 'error' ? this.log.error : this.log.warn).call(this.log, d.message);
  }

  // ------------------------------------------------------------------------------ starting

  /** Start every instance as soon as its `after:` is satisfied. Returns once all are scheduled. */
  async start(adopt?: Record<string, unknown>): Promise<void> {
    if (adopt) {
      for (const i of this.instances) if (adopt[i.name] !== undefined) i.adapter.adopt(adopt[i.name]);
    }
    const tryStart = (): void => {
      for (const i of this.instances) {
        if (i.started || this.stopping) continue;
        const waiting = i.after.filter((ref) => this.depView.state(ref, i.name) !== 'ready');
        if (waiting.length > 0) continue;
        i.started = true;
        i.startedAt = Date.now();
        this.startOrder.push(i.name);
        this.log.info(`${i.name}: starting instance (${i.kind}${i.root !== '/' ? `, root ${i.root}` : ''})`);
        i.adapter.start().catch((e: unknown) => this.log.error(`${i.name}: unable to start instance: ${(e as Error).message}`));
      }
    };
    this.depView.onChange(tryStart);
    tryStart();
    // what a package installs while metainit runs is picked up without a manual sync
    const paths = this.instances.flatMap((i) => i.adapter.watchPaths?.() ?? []);
    this.watcher = watchConfig(
      paths,
      async (why) => {
        this.log.info(`sync: ${why} changed: re-reading`);
        await this.sync();
      },
      (line) => this.log.warn(line),
    );
  }

  /** An adapter's sandbox reports its root ready (policy-rc.d goes in) and released (it comes out). */
  private readonly rootHooks: RootHooks = {
    ready: (root) => this.installPolicyRcD(root),
    releasing: (root) => {
      this.readyRoots.delete(root);
      this.policyNames.delete(resolve(root));
      if (!this.policyRoots.delete(root)) return;
      removePolicyRcD(root, join(this.global.run_dir, 'policy-rc.d'), this.sys);
      removeLsbHook(root, join(this.global.run_dir, 'lsb-hook'), this.sys);
    },
  };

  /** Debian's invoke-rc.d must not start a second cron: policy-rc.d answering 101 for vetoed names. */
  private installPolicyRcD(root: string): void {
    this.readyRoots.add(root);
    if (!this.roles || !this.global.roles.policy_rc_d || !this.ownMountNamespace) return;
    const byRoot = policyRcDNames(this.roles, this.instances);
    const names = byRoot.get(resolve(root)) ?? [];
    const key = names.join(' ');
    // installed when a name is to be refused; rewritten in place when the names change (a sync)
    if (this.policyRoots.has(resolve(root)) ? this.policyNames.get(resolve(root)) === key : names.length === 0) return;
    try {
      const holders = policyRcDHolders(this.roles, this.instances).get(resolve(root)) ?? {};
      const inst = writePolicyRcD(root, join(this.global.run_dir, 'policy-rc.d'), names, this.sys, holders);
      this.policyRoots.add(resolve(root));
      this.policyNames.set(resolve(root), key);
      this.log.info(`roles: policy-rc.d in ${root} refuses ${names.length ? names.join(', ') : 'nothing'} (${inst.mode})`);
      // `service NAME restart` runs the script without asking policy-rc.d: the LSB hook sends it to the holder
      const plan = lsbHookPlan(this.roles, this.instances, byRoot).get(resolve(root)) ?? { refused: {}, forward: [] };
      writeLsbHook(root, join(this.global.run_dir, 'lsb-hook'), lsbHookScript(plan.refused, plan.forward), this.sys);
    } catch (e) {
      this.log.warn(`roles: unable to install policy-rc.d in ${root}: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------------------ state

  private onAdapterEvent(ev: AdapterEvent): void {
    if (ev.type === 'state') {
      const prev = this.statuses.get(ev.status.id);
      // errors are reported by the adapter as "<id>: unable to …" messages; log every other change
      // (services and oneshots only, as `status` shows them: a hosted systemd's targets, sockets
      // and mounts would flood the log at every boot)
      if (prev?.state !== ev.status.state && ev.status.state !== 'error' && DEFAULT_KINDS.includes(ev.status.kind)) {
        const s = ev.status;
        const line = `${s.id}: ${s.state}${s.pid !== undefined && s.state === 'running' ? ` (pid ${s.pid})` : ''}${s.reason ? ` — ${s.reason}` : ''}`;
        this.log.info(line);
      }
      this.statuses.set(ev.status.id, ev.status);
      // publish before waking dependents: what they emit in turn must follow this event
      this.events.emit('event', ev);
      for (const l of [...this.depListeners]) l();
      return;
    }
    if (ev.type === 'message') {
      (ev.level === 'error' ? this.log.error : ev.level === 'warning' ? this.log.warn : this.log.info).call(this.log, ev.text);
    }
    this.events.emit('event', ev);
  }

  /**
   * What a dependency reference names, by the one rule graph.ts's resolveRef gives: "role:x",
   * "inst/svc", or a bare name — a service of `from` if it has one, else an instance of that name.
   */
  private classify(ref: string, from: string): Ref {
    const known = (id: string): boolean => this.statuses.has(id) || (this.instances.find((i) => i.name === from)?.adapter.list().some((s) => s.id === id) ?? false);
    return resolveRef(ref, from, known, this.instances.map((i) => i.name));
  }

  /** the service holding `role`, unless metainit holds it or nobody does */
  private roleHolder(role: string): string | undefined {
    const holder = this.roles ? holderOf(this.roles, role) : null;
    return holder && holder !== 'metainit' ? `${holder.instance}/${holder.service}` : undefined;
  }

  /** emit an orphan-reaped event (from the reaper) */
  orphan(pid: number, code: number | null, signal: string | null): void {
    this.events.emit('event', { type: 'orphan', pid, code, signal } satisfies ManagerEvent);
  }

  /** Every service of every instance, in instance then name order. */
  list(): ServiceStatus[] {
    return this.instances.flatMap((i) => i.adapter.list());
  }

  readonly depView: DependencyView = {
    state: (ref: string, from: string): DepState => this.depState(ref, from),
    onChange: (cb) => {
      this.depListeners.add(cb);
      return () => this.depListeners.delete(cb);
    },
  };

  private depState(ref: string, from: string): DepState {
    const r = this.classify(ref, from);
    if ('role' in r) {
      // metainit holds it, or nobody provides it: nothing to wait for (like systemd's After= on an absent unit)
      const holder = this.roleHolder(r.role);
      return holder ? this.depState(holder, from) : 'ready';
    }
    if ('instance' in r) return this.instanceState(this.instances.find((i) => i.name === r.instance)!);
    const st = this.statusOf(r.id);
    if (!st) return 'unknown';
    if (isReady(st.state)) return 'ready';
    if (isFailed(st.state)) return 'failed';
    return 'pending';
  }

  /**
   * The dependencies of service `id` (its `after:`, roles through their holder) that nothing is
   * going to start: stopped (or failed) with their target down. A start of `id` would wait for
   * them for ever, so a job names them instead (or starts them first: `start --with-deps`).
   * With `deep`, their own such dependencies too, deepest first.
   */
  stoppedDeps(id: string, deep = false, seen = new Set<string>()): ServiceStatus[] {
    const st = this.status(id)[0];
    if (!st) return [];
    seen.add(st.id);
    const out: ServiceStatus[] = [];
    for (const ref of st.after) {
      const depId = this.serviceOf(ref, st.instance);
      if (depId === undefined || seen.has(depId)) continue;
      const dep = this.statusOf(depId);
      if (!dep || dep.target !== 'down' || !(dep.state === 'stopped' || isFailed(dep.state))) continue;
      if (deep) out.push(...this.stoppedDeps(dep.id, true, seen));
      out.push(dep);
    }
    return out;
  }

  /** An instance is ready once started and none of its wanted services is still on its way up. */
  private instanceState(i: Instance): DepState {
    if (!i.started) return 'pending';
    const wanted = i.adapter.list().filter((s) => s.target === 'up');
    if (wanted.some((s) => s.state === 'waiting' || s.state === 'starting')) return 'pending';
    return 'ready';
  }

  // ------------------------------------------------------------------------------ control

  /** Resolve "instance/service" or a unique bare service name. Throws a user-facing error. */
  resolve(name: string): { inst: Instance; service: string } {
    const slash = name.indexOf('/');
    if (slash > 0) {
      const inst = this.instances.find((i) => i.name === name.slice(0, slash));
      const service = name.slice(slash + 1);
      if (inst?.adapter.status(service)) return { inst, service };
      throw new Error(`${name}: unable to find service: no such service (fix: ${this.suggest(name)}see metainit status)`);
    }
    const hits = this.instances.flatMap((i) => i.adapter.status(name) ?? []);
    if (hits.length === 1) {
      const inst = this.instances.find((i) => i.name === hits[0]!.instance)!;
      return { inst, service: name };
    }
    if (hits.length > 1) {
      throw new Error(`${name}: unable to find service: ambiguous, it exists in ${hits.map((h) => h.instance).join(', ')} (fix: write instance/${name})`);
    }
    throw new Error(`${name}: unable to find service: no such service (fix: ${this.suggest(name)}see metainit status)`);
  }

  /** "did you mean native/web? " for a mistyped service name, or '' */
  private suggest(name: string): string {
    const ids = this.list().map((s) => s.id);
    const hit = name.includes('/') ? closest(name, ids) : closest(name, [...new Set(ids.map((id) => id.slice(id.indexOf('/') + 1)))]);
    if (!hit) return '';
    const id = hit.includes('/') ? hit : ids.find((i) => i.endsWith(`/${hit}`)) ?? hit;
    return `did you mean ${id}? `;
  }

  /** Every service, or the one `name` resolves to. */
  status(name?: string): ServiceStatus[] {
    if (!name) return this.list();
    const { inst, service } = this.resolve(name);
    return inst.adapter.status(service) ? [inst.adapter.status(service)!] : [];
  }

  async control(verb: 'start' | 'stop' | 'restart', name: string): Promise<void> {
    const { inst, service } = this.resolve(name);
    if (verb === 'start') await inst.adapter.startService(service);
    else if (verb === 'stop') await inst.adapter.stopService(service);
    else await inst.adapter.restartService(service);
  }

  /**
   * Everything `status NAME` shows: the status, where the service is defined and what it runs,
   * who depends on it, its processes, its last log lines.
   */
  async describe(name: string, logLines = 10): Promise<ServiceDetail> {
    const { inst, service } = this.resolve(name);
    const st = inst.adapter.status(service)!;
    const d = inst.adapter.describe?.(service) ?? {};
    const plan = inst.adapter.plan();
    const file = d.file ?? ('services' in plan ? plan.services.find((s) => s.name === service)?.file : undefined) ?? inst.file;
    const dependents = this.list()
      .filter((s) => s.id !== st.id && s.after.some((ref) => this.serviceOf(ref, s.instance) === st.id))
      .map((s) => s.id);
    const processes = st.pid !== undefined ? processTree(st.pid) : [];
    const argv = d.command ?? (st.pid !== undefined ? procArgv(st.pid) : []);
    const command = argv.length ? argv : undefined;
    const log = await this.logs(st.id, logLines).catch(() => [] as string[]);
    return { status: st, kind: inst.kind, file, ...(command ? { command } : {}), dependents, processes, log };
  }

  /**
   * The terminal `metainit console NAME` attaches to: NAME an instance (its own console, e.g. a
   * hosted systemd's /dev/console) or a service with one. A user-facing error when there is none.
   */
  console(name: string): { id: string; tap: ConsoleTap } {
    const inst = this.instances.find((i) => i.name === name);
    const own = inst?.adapter.console?.(undefined);
    if (inst && own) return { id: inst.name, tap: own };
    const have = this.instances.filter((i) => i.adapter.console?.(undefined)).map((i) => i.name);
    let target: { inst: Instance; service: string } | undefined;
    try {
      target = inst ? undefined : this.resolve(name);
    } catch (e) {
      if (have.length === 0) throw e;
    }
    const tap = target?.inst.adapter.console?.(target.service);
    if (target && tap) return { id: `${target.inst.name}/${target.service}`, tap };
    throw new Error(`${target ? `${target.inst.name}/${target.service}` : name}: unable to attach to its console: it has none (fix: ${have.length ? `try metainit console ${have[0]}, or ` : ''}give a native service console: true; a hosted systemd instance has one while it runs)`);
  }

  /** the service an after: entry of a service of `from` names, directly or as a role's holder (undefined: an instance, or nobody) */
  private serviceOf(ref: string, from: string): string | undefined {
    const r = this.classify(ref, from);
    if ('role' in r) return this.roleHolder(r.role);
    return 'id' in r ? r.id : undefined;
  }

  /** the last status of service `id`, without building every list when it is known */
  private statusOf(id: string): ServiceStatus | undefined {
    return this.statuses.get(id) ?? this.list().find((s) => s.id === id);
  }

  /** definitions that failed to load (errors naming a service that is not there): status shows them as bad-config rows */
  problems(): Array<{ id: string; file: string; message: string }> {
    const present = new Set(this.list().map((s) => s.id));
    const out = new Map<string, { id: string; file: string; message: string }>();
    for (const d of this.lastDiagnostics) {
      if (d.level !== 'error' || !d.service || present.has(d.service) || out.has(d.service)) continue;
      out.set(d.service, { id: d.service, file: d.file, message: d.message });
    }
    return [...out.values()];
  }

  /** `metainit sync`: re-read, and say what was added, removed and changed */
  async syncReport(): Promise<{ added: string[]; removed: string[]; changed: string[]; diagnostics: Diagnostic[] }> {
    const before = new Map(this.list().map((s) => [s.id, s]));
    const diagnostics = await this.sync();
    const after = this.list();
    const now = new Set(after.map((s) => s.id));
    return {
      added: after.filter((s) => !before.has(s.id)).map((s) => s.id),
      removed: [...before.keys()].filter((id) => !now.has(id)),
      changed: after.filter((s) => s.changed && !before.get(s.id)?.changed).map((s) => s.id),
      diagnostics,
    };
  }

  /** The service re-reads its own configuration (native: its changed file is applied). */
  async reload(name: string): Promise<Diagnostic[]> {
    const { inst, service } = this.resolve(name);
    return inst.adapter.reloadService(service);
  }

  /** metainit re-reads the service's definition and applies it. */
  async apply(name: string): Promise<Diagnostic[]> {
    const { inst, service } = this.resolve(name);
    return inst.adapter.applyService(service);
  }

  /** `all`: the service's processes (its process group, its cgroup); `main`: its main process only */
  async kill(name: string, signal: string, whom: KillWhom = 'all'): Promise<void> {
    const { inst, service } = this.resolve(name);
    await inst.adapter.killService(service, signal, whom);
  }

  /** last n lines; `raw`: with `<time> <stream> ` in front where the adapter files them so */
  async logs(name: string, n: number, raw = false): Promise<string[]> {
    if (name === 'metainit') return (this.log as { tail?: (n: number) => string[] }).tail?.(n) ?? [];
    const { inst, service } = this.resolve(name);
    return inst.adapter.logs(service, n, raw ? { raw } : undefined);
  }

  /**
   * Live lines of a service ("instance/name") or, undefined, of every service, as 'log' events
   * until the returned function is called (adapters that move lines outside PID 1 send them only
   * while followed).
   */
  follow(name: string | undefined): () => void {
    if (name !== undefined) {
      const { inst, service } = this.resolve(name);
      return inst.adapter.follow?.(service) ?? (() => undefined);
    }
    const stops = this.instances.map((i) => i.adapter.follow?.(undefined));
    return () => {
      for (const stop of stops) stop?.();
    };
  }

  /**
   * Re-scan every instance's configuration (SIGHUP / `metainit sync`), then decide the roles
   * again — before anything new starts, so a claimant installed at run time (a second cron from
   * `dpkg -i`) is vetoed before it ever runs, and `metainit roles` and policy-rc.d say what the
   * next boot would say.
   */
  async sync(): Promise<Diagnostic[]> {
    const out: Diagnostic[] = [];
    for (const i of this.instances) {
      try {
        out.push(...(await i.adapter.sync({ hold: true })));
      } catch (e) {
        out.push({ level: 'error', file: i.file, key: '', message: `${i.name}: unable to sync: ${(e as Error).message}` });
      }
    }
    out.push(...this.redecideRoles());
    for (const i of this.instances) i.adapter.releaseHeld?.();
    this.lastDiagnostics = out;
    for (const d of out) (d.level === 'error' ? this.log.error : this.log.warn).call(this.log, d.message);
    return out;
  }

  /** claims → decide → vetoes, as at boot (pipeline.ts), with what the instances claim now; the registry's new diagnostics */
  private redecideRoles(): Diagnostic[] {
    const before = this.roles;
    const roles = decideStageRoles(this.global, this.configDir, this.instances);
    this.roles = roles;
    for (const i of this.instances) i.adapter.applyRoles(roles.vetoed.get(i.name) ?? new Set());
    for (const [role, grant] of roles.grants) {
      const was = before ? grantId(before.grants.get(role) ?? null) : null;
      if (grantId(grant) !== was) this.log.info(`roles: ${role} now held by ${grantId(grant) ?? 'nobody'} (was ${was ?? 'nobody'})`);
    }
    for (const [id, role] of roles.vetoedBy) if (!before?.vetoedBy.has(id)) this.log.info(`roles: ${id} vetoed: ${role} is held by ${grantId(roles.grants.get(role) ?? null) ?? 'another instance'}`);
    for (const root of this.readyRoots) this.installPolicyRcD(root);
    const seen = new Set((before?.diagnostics ?? []).map((d) => d.message));
    return roles.diagnostics.filter((d) => !seen.has(d.message));
  }

  // ------------------------------------------------------------------------------ stopping

  /**
   * Stage 3: stop the instances, all within `deadline` (ms epoch). Order: an instance stops only
   * after every instance that depends on it (through its own `after:`, or a service's `after:`
   * naming a service or role of the other instance); among those free to stop, the one started
   * last goes first (reverse start order).
   */
  async stopAll(deadline: number): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    for (const name of this.stopOrder()) {
      const inst = this.instances.find((i) => i.name === name)!;
      this.log.info(`${name}: stopping instance`);
      try {
        await inst.adapter.stop(deadline);
      } catch (e) {
        this.log.error(`${name}: unable to stop instance: ${(e as Error).message}`);
      }
    }
    for (const root of [...this.policyRoots]) this.rootHooks.releasing(root);
  }

  /** instance names in stop order (see stopAll) */
  stopOrder(): string[] {
    const pref = [...this.startOrder].reverse();
    for (const i of this.instances) if (!pref.includes(i.name)) pref.push(i.name);
    const dependents = new Map<string, Set<string>>(pref.map((n) => [n, new Set<string>()]));
    const addDep = (from: string, ref: string): void => {
      const on = this.instanceOf(ref, from);
      if (on && on !== from) dependents.get(on)?.add(from);
    };
    for (const i of this.instances) {
      for (const ref of i.after) addDep(i.name, ref);
      for (const s of i.adapter.list()) for (const ref of s.after) addDep(i.name, ref);
    }
    const order: string[] = [];
    while (order.length < pref.length) {
      // the first (by preference) whose dependents have all stopped; a cycle falls back to preference
      const next = pref.find((n) => !order.includes(n) && [...dependents.get(n)!].every((d) => order.includes(d))) ?? pref.find((n) => !order.includes(n))!;
      order.push(next);
    }
    return order;
  }

  /** which instance a dependency reference points into (a role resolves to its holder's) */
  private instanceOf(ref: string, from: string): string | undefined {
    const r = this.classify(ref, from);
    const id = 'role' in r ? this.roleHolder(r.role) : 'instance' in r ? `${r.instance}/` : r.id;
    return id?.slice(0, id.indexOf('/'));
  }

  /** adapter snapshots for a re-exec of PID 1 */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.instances.map((i) => [i.name, i.adapter.snapshot()]));
  }
}
