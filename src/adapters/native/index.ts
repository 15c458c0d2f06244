/**
 * index.ts — the native adapter: metainit's own YAML services (the zos format), one instance.
 *
 * Model. The instance's services directory holds one file per service (file stem = name); the
 * loader (config/loader.ts) validates and normalises them, a bad file is a diagnostic and the rest
 * loads. Each service is a `Service` (service.ts: its state machine); this file only
 *   - loads and re-scans the directory (`sync`: new → started, deleted → stopped and removed,
 *     changed → stored for the next run; `reloadService` applies one file and restarts a live
 *     service), and marks services in a dependency cycle inside the instance as `error`;
 *   - starts event-driven, without levels: every wanted service asks the DependencyView about its
 *     `after` refs whenever any state changes anywhere, and spawns the moment all are ready, so
 *     independent services start together;
 *   - applies role vetoes, answers control requests, and stops in reverse dependency order
 *     (dependents first, independent ones in parallel, each with its own stop signal and timeout,
 *     never beyond the shutdown deadline);
 *   - serialises {name, pid, state, since, restarts, log fds} for a re-exec of PID 1 and re-adopts
 *     from it (an adopted pid's exit then comes from the reaper's watch).
 */
import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ServiceStatus } from '../../base/states.js';
import { sleep as sleepFor } from '../../base/time.js';
import type { Diagnostic } from '../../base/types.js';
import { instanceSubject, validate } from '../../config/errors.js';
import { loadNativeServices, type NativeServiceEntry } from '../../config/loader.js';
import { InstanceBase } from '../../config/schema.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { serviceGraph, type DepGraph } from '../../supervisor/graph.js';
import { sharedLogger } from '../../supervisor/logger-process.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, KillWhom, AdapterFactory, InstancePlan, RoleClaim, SyncOptions } from '../adapter.js';
import type { ServiceHost, ServiceSnapshot } from './host.js';
import { Service } from './service.js';
import type { ConsoleTap } from '../../supervisor/console-tap.js';

/** services started per turn of the event loop at boot (the API answers in between) */
const SPAWN_BATCH = 25;

/** Shape of `snapshot()` output. */
export interface NativeSnapshot {
  services: ServiceSnapshot[];
}

/** Grace beyond the shutdown deadline for SIGKILLed processes to be reaped before stop() returns. */
const KILL_GRACE_MS = 1000;


/** The instance file of `adapter: native`: the shared keys plus its services directory. */
export const NativeInstance = InstanceBase.extend({
  adapter: z.literal('native'),
  /** services directory; relative paths are relative to the config dir */
  services: z.string().default('services.d'),
}).strict();
export type NativeInstance = z.infer<typeof NativeInstance>;

export class NativeAdapter implements Adapter {
  readonly kind = 'native';
  readonly instance: string;
  private readonly services = new Map<string, Service>();
  /** services a sync({hold}) found, started by releaseHeld() */
  private readonly held: Service[] = [];
  private readonly raw = new Map<string, string>();
  /** set by load() once the instance file is valid: the services directory (none for inline services) */
  private servicesDir: string | undefined;
  /** how the services are read (the directory, or the inline ones); set by load() */
  private scan: (() => { services: Map<string, NativeServiceEntry>; diagnostics: Diagnostic[] }) | undefined;
  private readonly host: ServiceHost;
  private started = false;
  private stopping = false;
  private unsubscribe: (() => void) | undefined;
  private evaluateQueued = false;
  private sandbox: Sandbox = NO_SANDBOX;

  constructor(private readonly ctx: AdapterContext) {
    this.instance = ctx.instance;
    this.host = {
      instance: ctx.instance,
      root: ctx.config.root ?? '/',
      runDir: ctx.runDir,
      logDir: ctx.logDir,
      sys: ctx.sys,
      log: ctx.log,
      watchChild: (pid, cb) => ctx.reaper.watch(pid, cb),
      manage: (pid, owned) => ctx.reaper.manage(pid, owned),
      emit: (ev) => ctx.emit(ev),
      depState: (ref) => ctx.deps.state(ref, ctx.instance),
    };
  }

  // ------------------------------------------------------------------------------ loading

  async load(): Promise<Diagnostic[]> {
    const inline = this.ctx.inlineServices;
    if (inline) {
      this.scan = () => ({ services: new Map(inline), diagnostics: [] });
    } else {
      const v = validate(NativeInstance, this.ctx.config, instanceSubject(this.ctx));
      if (v.value === undefined) return v.diagnostics;
      const dir = (this.servicesDir = resolve(this.ctx.configDir, v.value.services));
      this.scan = () => loadNativeServices(dir, this.instance);
    }
    const { services, diagnostics } = this.scan();
    for (const [name, entry] of services) this.add(name, entry);
    this.markCycles();
    return diagnostics;
  }

  claims(): RoleClaim[] {
    return [...this.services.values()].flatMap((s) => s.def.provides.map((role) => ({ role, service: s.name })));
  }

  applyRoles(vetoed: ReadonlySet<string>): void {
    for (const s of this.services.values()) s.hold('vetoed', vetoed.has(s.name) ? VETO_REASON : undefined);
  }

  private add(name: string, entry: NativeServiceEntry): Service {
    const svc = new Service(name, entry.file, entry.def, entry.def.restart, this.host);
    this.services.set(name, svc);
    this.raw.set(name, entry.raw);
    return svc;
  }

  /** The instance's dependency graph (ids "instance/name"; refs outside the instance left out). */
  private graph(): DepGraph {
    return serviceGraph([...this.services.values()].map((s) => ({ id: s.id, instance: this.instance, after: s.def.after })));
  }

  private byId(id: string): Service | undefined {
    return this.services.get(id.slice(this.instance.length + 1));
  }

  /** Services in a dependency cycle inside the instance: error "dependency cycle a → b → a". */
  private markCycles(): void {
    const cycleOf = new Map<string, string>();
    for (const cycle of this.graph().findCycles()) {
      const names = cycle.map((id) => this.byId(id)!.name);
      const reason = `dependency cycle ${[...names, names[0]].join(' → ')}`;
      for (const id of cycle) cycleOf.set(id, reason);
    }
    for (const s of this.services.values()) s.hold('blocked', cycleOf.get(s.id));
  }

  // ------------------------------------------------------------------------------ running

  async start(): Promise<void> {
    this.sandbox = prepareSandbox(this.host.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    this.started = true;
    this.unsubscribe ??= this.ctx.deps.onChange(() => this.queueEvaluate());
    let n = 0;
    for (const s of this.services.values()) {
      if (s.adopted && (s.wanted === 'down' || s.current !== 'stopped')) continue;
      s.start(true);
      // thousands of spawns in one turn would keep the API, the reaper and signals waiting
      if (++n % SPAWN_BATCH === 0) await new Promise((r) => setImmediate(r));
    }
  }

  /** Re-check waiting services once per turn of the event loop, not inside another service's transition. */
  private queueEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    queueMicrotask(() => {
      this.evaluateQueued = false;
      if (!this.stopping) for (const s of this.services.values()) s.evaluate();
    });
  }

  list(): ServiceStatus[] {
    return [...this.services.values()].map((s) => s.status()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private get(name: string, verb: string): Service {
    const s = this.services.get(name);
    if (!s) throw new Error(`${this.instance}/${name}: unable to ${verb}: no such service (fix: see metainit status)`);
    return s;
  }

  async startService(name: string): Promise<void> {
    const s = this.get(name, 'start');
    if (s.vetoed) throw vetoError(s.id, 'start');
    s.start(true);
  }

  async stopService(name: string): Promise<void> {
    await this.get(name, 'stop').stop();
  }

  async restartService(name: string): Promise<void> {
    const s = this.get(name, 'restart');
    if (s.vetoed) throw vetoError(s.id, 'restart');
    await s.stop();
    s.start(true);
  }

  async killService(name: string, signal: string, whom: KillWhom = 'all'): Promise<void> {
    this.get(name, 'kill').kill(signal, whom);
  }

  /** a `console: true` service's pty (the instance itself has none) */
  console(name: string | undefined): ConsoleTap | undefined {
    return name === undefined ? undefined : this.services.get(name)?.console;
  }

  describe(name: string): { file?: string; command?: string[] } {
    return this.services.get(name)?.describe() ?? {};
  }

  status(name: string): ServiceStatus | undefined {
    return this.services.get(name)?.status();
  }

  async logs(name: string, n: number, opts: { raw?: boolean } = {}): Promise<string[]> {
    return this.get(name, 'read logs of').logs(n, opts.raw === true);
  }

  follow(name: string | undefined): () => void {
    if (name !== undefined) return this.get(name, 'follow logs of').follow();
    return sharedLogger(this.ctx.sys).follow(undefined);
  }

  plan(): InstancePlan {
    return { services: [...this.services.values()].map((s) => ({ name: s.name, after: s.def.after, file: s.file })) };
  }

  // ------------------------------------------------------------------------------ changes

  /** Re-scan the directory: new → scheduled, deleted → stopped and removed, changed → stored. */
  async sync(opts: SyncOptions = {}): Promise<Diagnostic[]> {
    if (this.scan === undefined) return this.load();
    const { services, diagnostics } = this.scan();
    const broken = this.brokenNames(diagnostics);
    const fresh: Service[] = [];
    for (const [name, entry] of services) {
      const svc = this.services.get(name);
      if (!svc) fresh.push(this.add(name, entry));
      else if (this.raw.get(name) !== entry.raw) this.redefine(svc, entry);
    }
    const gone = [...this.services.keys()].filter((n) => !services.has(n) && !broken.has(n));
    await Promise.all(gone.map((n) => this.remove(n)));
    const wasBlocked = [...this.services.values()].filter((s) => s.blocked !== undefined);
    this.markCycles();
    const toStart = [...fresh, ...wasBlocked.filter((s) => s.blocked === undefined && s.wanted === 'up')];
    if (opts.hold) this.held.push(...toStart);
    else this.startSynced(toStart);
    return diagnostics;
  }

  watchPaths(): string[] {
    return this.servicesDir === undefined ? [] : [this.servicesDir];
  }

  releaseHeld(): void {
    this.startSynced(this.held.splice(0));
  }

  private startSynced(services: Service[]): void {
    if (!this.started || this.stopping) return;
    for (const s of services) if (this.services.get(s.name) === s) s.start(true);
  }

  /** A native service has no reload of its own: `reload` applies its changed file (see adapter.ts). */
  async reloadService(name: string): Promise<Diagnostic[]> {
    return this.applyService(name, 'reload');
  }

  /** Re-read one service's file and apply it; a live service is restarted with the new definition. */
  async applyService(name: string, verb = 'apply'): Promise<Diagnostic[]> {
    const svc = this.get(name, verb);
    if (this.scan === undefined) return []; // no service exists before load() succeeds
    const { services, diagnostics } = this.scan();
    const mine = diagnostics.filter((d) => d.service === svc.id);
    const entry = services.get(name);
    if (!entry) {
      if (!this.brokenNames(diagnostics).has(name)) await this.remove(name);
      return mine;
    }
    if (this.raw.get(name) !== entry.raw) {
      this.redefine(svc, entry);
      this.markCycles();
    }
    // a live run of an older definition (changed now, or stored by an earlier sync) is replaced
    if (svc.outdated && (svc.current === 'starting' || svc.current === 'running')) {
      await svc.stop();
      svc.start(true);
    }
    return mine;
  }

  private redefine(svc: Service, entry: NativeServiceEntry): void {
    svc.redefine(entry.file, entry.def, entry.def.restart);
    this.raw.set(svc.name, entry.raw);
  }

  /** names whose file exists but failed to load: keep running what we have */
  private brokenNames(diagnostics: Diagnostic[]): Set<string> {
    const prefix = `${this.instance}/`;
    return new Set(diagnostics.filter((d) => d.level === 'error' && d.service?.startsWith(prefix)).map((d) => d.service!.slice(prefix.length)));
  }

  private async remove(name: string): Promise<void> {
    const svc = this.services.get(name);
    if (!svc) return;
    await svc.stop();
    this.services.delete(name);
    this.raw.delete(name);
    await svc.dispose();
  }

  // ------------------------------------------------------------------------------ stopping

  /** Stop everything, dependents first; nothing waits beyond `deadline` (then SIGKILL). */
  async stop(deadline: number): Promise<void> {
    await this.stopServices(deadline).finally(() => this.sandbox.release());
  }

  private async stopServices(deadline: number): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const level of this.graph().reverseOrder()) {
      const stops = level.map((id) => this.byId(id)!.stop(Math.max(0, deadline - Date.now())));
      await Promise.race([Promise.all(stops), sleep(Math.max(0, deadline - Date.now()) + KILL_GRACE_MS)]);
    }
    // a log file that cannot be written never holds up the shutdown beyond the deadline
    await Promise.race([Promise.all([...this.services.values()].map((s) => s.dispose())), sleep(Math.max(0, deadline - Date.now()))]);
  }

  // ------------------------------------------------------------------------------ re-exec

  snapshot(): NativeSnapshot {
    return { services: [...this.services.values()].map((s) => s.snapshot()) };
  }

  adopt(snapshot: unknown): void {
    const snap = snapshot as Partial<NativeSnapshot> | null;
    if (!snap || !Array.isArray(snap.services)) return;
    this.host.watchPid = (pid, cb) => this.ctx.reaper.watch(pid, cb);
    for (const s of snap.services) {
      const svc = this.services.get(s.name);
      if (svc) {
        svc.adopt(s);
        continue;
      }
      // its file is gone: the process runs on unsupervised, its pipes are closed
      if (s.pid !== undefined) this.ctx.log.warn(`${this.instance}/${s.name}: unable to re-adopt pid ${s.pid}: the service is no longer defined`);
      for (const fd of Object.values(s.logFds ?? {})) {
        try {
          closeSync(fd);
        } catch {
          /* not open */
        }
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => sleepFor(ms, { unref: true });

/** The factory the manager gets from adapters/factories.ts for `adapter: native`. */
export const createNativeAdapter: AdapterFactory = (ctx) => new NativeAdapter(ctx);
