/**
 * scandir-adapter.ts — the Adapter for scan-directory inits (runit, s6), given their ScanFlavor.
 *
 * Model. An instance owns the entries of its `services_dir` inside its root (symlinks such as
 * /etc/service/x → /etc/sv/x allowed), narrowed by the `services:` allow-list. Each entry is a
 * service with a *target* (up unless it has a `down` file or was stopped) and an observed state.
 *   - Scan dir: the scanner never sees services_dir. metainit assembles its own directory of
 *     links, <root>/run/metainit/<instance>/scan, holding every service except role-vetoed ones
 *     and ones without an executable ./run (state `error`). Vetoed services show `stopped` with
 *     the one veto reason (roles/registry.ts). sync() and applyRoles() rebuild the links;
 *     runsvdir notices within 5 s, s6 is told (s6-svscanctl -an).
 *   - State: every second, and right after every control action, each service's supervise/status
 *     is read — files only, no process per service — and mapped by the flavor's one table. The
 *     supervise process's own target wins over ours once a control action is 2 s old, so a
 *     `sv down` typed inside the root is believed; after the scanner (re)starts, services whose
 *     target is down are brought down again (a new supervise process starts everything).
 *     A state event is emitted for every change. `restarts` counts falls from running/starting
 *     to respawn that no control action caused.
 *   - Control: the flavor's tool (sv, s6-svc) on the service's link in the scan dir, inside the
 *     root; a signal the tool cannot send goes to the service pid directly.
 *   - stop(deadline): every service down (bounded by 70 % of the time left), then the scanner
 *     (scandir-scanner.ts), which SIGKILLs whatever of the instance is left at the deadline.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join, posix } from 'node:path';
import { signalNumber } from '../../base/signames.js';
import type { ServiceStatus, Target } from '../../base/states.js';
import type { Diagnostic } from '../../base/types.js';
import { diagnostic, validate, type Subject, instanceSubject } from '../../config/errors.js';
import { roleOfService } from '../../roles/known-services.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { hostPath, isHostRoot } from '../../supervisor/rootfs.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, InstancePlan, RoleClaim } from '../adapter.js';
import { assembleScanDir, findInRoot, isDir, prepareSuperviseLink, realpathOr, resolveIn, runIn, type Entry, type Observation, type ScanFlavor, type scanInstanceSchema, type ScanInstanceConfig } from './scandir.js';
import { Scanner } from './scanner.js';

const POLL_MS = 1000;
/** a control action this recent overrides the target the status file shows */
const TOUCH_MS = 2000;

export class ScanDirAdapter implements Adapter {
  readonly kind: string;
  readonly instance: string;
  private cfg: ScanInstanceConfig | undefined;
  /** why the instance cannot run at all (its programs are missing from the root) */
  private unusable: string | undefined;
  private readonly entries = new Map<string, Entry>();
  private vetoed: ReadonlySet<string> = new Set();
  private scanner: Scanner | undefined;
  private adoptPid: number | undefined;
  private running = false;
  /** stop() under way: a scanner that is gone is being stopped, not restarting */
  private stopping = false;
  private poll: NodeJS.Timeout | undefined;
  private sandbox: Sandbox = NO_SANDBOX;

  constructor(
    private readonly ctx: AdapterContext,
    private readonly flavor: ScanFlavor,
    private readonly schema: ReturnType<typeof scanInstanceSchema>,
  ) {
    this.kind = flavor.kind;
    this.instance = ctx.instance;
  }

  private get root(): string {
    return this.cfg?.root ?? '/';
  }
  /** the scan dir as the scanner sees it */
  private get scanIn(): string {
    return posix.join(isHostRoot(this.root) ? this.ctx.runDir : `/run/metainit/${this.instance}`, 'scan');
  }
  private get subject(): Subject {
    return instanceSubject(this.ctx);
  }
  private id(name: string): string {
    return `${this.instance}/${name}`;
  }
  private linkIn(e: Entry): string {
    return posix.join(this.scanIn, e.name);
  }
  private linked(): Entry[] {
    return [...this.entries.values()].filter((e) => !e.problem && !this.vetoed.has(e.name));
  }

  // ---------------------------------------------------------------- configuration

  async load(): Promise<Diagnostic[]> {
    const v = validate(this.schema, this.ctx.config, this.subject);
    if (v.value === undefined) return v.diagnostics;
    this.cfg = v.value;
    const missing = this.flavor.programs.filter((p) => !findInRoot(this.root, p));
    this.unusable = missing.length > 0 ? `${missing.join(', ')} not found in root ${this.root}` : undefined;
    const diags = this.unusable ? [diagnostic(this.subject, 'root', this.unusable, `install ${this.kind} in that root, or point root at one that has it`)] : [];
    return [...diags, ...this.readServices()];
  }

  /** (Re)list services_dir into `entries`, keeping the runtime state of services that stay. */
  private readServices(): Diagnostic[] {
    const cfg = this.cfg!;
    const diags: Diagnostic[] = [];
    const warn = (key: string, problem: string, fix: string, service?: string): void => {
      diags.push({ ...diagnostic(this.subject, key, problem, fix, 'warning'), ...(service ? { service } : {}) });
    };
    let names: string[] = [];
    try {
      names = readdirSync(hostPath(this.root, resolveIn(this.root, cfg.services_dir))).filter((n) => !n.startsWith('.'));
    } catch (e) {
      warn('services_dir', `${cfg.services_dir} cannot be read in root ${this.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'create it, or point services_dir at the directory of enabled services');
    }
    for (const want of cfg.services ?? []) {
      if (!names.includes(want)) warn('services', `service "${want}" is not in ${cfg.services_dir}`, `link it there (ln -s /etc/sv/${want} ${cfg.services_dir}/) or remove it from services`);
    }
    const found = new Set<string>();
    for (const name of names.sort()) {
      if (cfg.services && !cfg.services.includes(name)) continue;
      const dirIn = resolveIn(this.root, posix.join(cfg.services_dir, name));
      const host = hostPath(this.root, dirIn);
      if (!isDir(host)) continue; // a file or a dangling link is not a service
      found.add(name);
      let problem: string | undefined;
      try {
        accessSync(join(host, 'run'), constants.X_OK);
      } catch {
        problem = `${dirIn}/run is missing or not executable`;
        warn('services_dir', `service ${this.id(name)}: ${problem}`, `create an executable run script in ${dirIn}`, this.id(name));
      }
      const entry = this.entries.get(name) ?? { name, target: existsSync(join(host, 'down')) ? 'down' : 'up', touchedAt: 0, enforce: false, restarts: 0 };
      this.entries.set(name, Object.assign(entry, { dirIn, hostDir: realpathOr(host), notify: this.flavor.notifies(host), problem }));
    }
    for (const [name, e] of this.entries) {
      if (found.has(name)) continue;
      this.entries.delete(name);
      if (e.status) this.ctx.emit({ type: 'state', status: { ...e.status, state: 'stopped', target: 'down', reason: `removed from ${cfg.services_dir}`, pid: undefined, since: Date.now() } });
    }
    return diags;
  }

  /** Roles by service name (roles/known-services.ts); a service that cannot run claims nothing. */
  claims(): RoleClaim[] {
    if (this.unusable) return [];
    return [...this.entries.values()].flatMap((e) => {
      const role = e.problem ? undefined : roleOfService(e.name);
      return role ? [{ role, service: e.name }] : [];
    });
  }

  watchPaths(): string[] {
    return this.cfg ? [hostPath(this.root, resolveIn(this.root, this.cfg.services_dir))] : [];
  }

  applyRoles(vetoed: ReadonlySet<string>): void {
    this.vetoed = new Set(vetoed);
    if (this.running) void this.relink();
  }

  // ---------------------------------------------------------------- life cycle

  async start(): Promise<void> {
    if (!this.cfg || this.unusable) {
      this.ctx.emit({ type: 'message', level: 'error', text: `${this.instance}: unable to start instance: ${this.unusable ?? 'its configuration is invalid'} (fix: see metainit check)` });
      return;
    }
    this.sandbox = prepareSandbox(this.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    this.running = true;
    this.stopping = false;
    await this.relink();
    this.scanner = new Scanner({
      instance: this.instance,
      root: this.root,
      scanIn: this.scanIn,
      flavor: this.flavor,
      serviceDirs: () => [...this.entries.values()].map((e) => e.hostDir),
      servicePids: () => [...this.entries.values()].flatMap((e) => (e.status?.pid ? [e.status.pid] : [])),
      emit: (ev) => this.ctx.emit(ev),
      changed: () => {
        if (this.scanner?.pid !== undefined) for (const e of this.entries.values()) e.enforce = e.target === 'down';
        this.pollSoon();
      },
    });
    this.scanner.start(this.adoptPid);
    this.adoptPid = undefined;
    this.poll = setInterval(() => this.tick(), POLL_MS);
    this.poll.unref();
    this.tick();
  }

  /** Make the scan dir match the linked services; tell the scanner when it needs telling. */
  private async relink(): Promise<void> {
    const links = new Map<string, string>();
    for (const e of this.linked()) {
      links.set(e.name, e.dirIn);
      for (const sub of ['supervise', 'log/supervise']) prepareSuperviseLink(this.root, posix.join(e.dirIn, sub));
    }
    const scanHost = hostPath(this.root, resolveIn(this.root, this.scanIn));
    try {
      assembleScanDir(scanHost, links);
      // runsvdir sleeps a second when its scan dir changed "this second": backdate a fresh one
      if (this.scanner?.pid === undefined) utimesSync(scanHost, new Date(Date.now() - 2000), new Date(Date.now() - 2000));
    } catch (e) {
      this.ctx.emit({ type: 'message', level: 'error', text: `${this.instance}: unable to assemble scan directory ${scanHost}: ${(e as Error).message}` });
    }
    if (this.scanner?.pid !== undefined && this.flavor.rescan) await runIn(this.root, this.flavor.rescan(this.scanIn), 5000);
    this.pollSoon();
  }

  async stop(deadline: number): Promise<void> {
    await this.stopScanner(deadline).finally(() => this.sandbox.release());
  }

  private async stopScanner(deadline: number): Promise<void> {
    this.stopping = true;
    this.scanner?.leftovers(); // look at the whole family once, so orphans made while stopping are known
    if (this.scanner?.pid !== undefined) {
      const dirs = this.linked().map((e) => this.linkIn(e));
      const budget = Math.max(0, deadline - Date.now()) * 0.7;
      if (dirs.length > 0) await Promise.all(this.flavor.downAll(dirs, Math.floor(budget)).map((argv) => runIn(this.root, argv, budget + 500)));
    }
    await this.scanner?.stop(deadline);
    clearInterval(this.poll);
    this.running = false;
    this.tick();
  }

  // ---------------------------------------------------------------- state

  private pollSoon(): void {
    setTimeout(() => this.tick(), 150).unref();
  }

  private tick(): void {
    this.scanner?.check();
    for (const e of this.entries.values()) this.update(e, this.observe(e));
  }

  private observe(e: Entry): Observation {
    const problem = e.problem ?? this.unusable;
    if (problem) return { state: 'error', target: e.target, reason: problem };
    if (this.vetoed.has(e.name)) return { state: 'stopped', target: 'down', reason: VETO_REASON };
    const down: Observation = { state: 'stopped', target: 'down' };
    if (!this.running) return { ...down, target: e.target };
    if (this.scanner?.pid === undefined) {
      if (this.stopping) return { state: 'stopping', target: 'down' };
      return e.target === 'up' ? { state: 'respawn', target: 'up', reason: `${this.flavor.scanner} is restarting` } : down;
    }
    let raw: Buffer;
    try {
      raw = readFileSync(hostPath(this.root, resolveIn(this.root, posix.join(e.dirIn, 'supervise/status'))));
    } catch {
      return e.target === 'up' ? { state: 'starting', target: 'up', reason: `waiting for ${this.flavor.superviseComm}` } : down;
    }
    const obs = this.flavor.observe(raw, e.notify) ?? { state: 'error', target: e.target, reason: `supervise/status has an unknown format (${raw.length} bytes)` };
    if (e.enforce) {
      e.enforce = false;
      if (obs.target !== e.target) void this.command(e, 'stop', this.flavor.down(this.linkIn(e))).catch(() => undefined);
    } else if (obs.target !== e.target && Date.now() - e.touchedAt > TOUCH_MS) e.target = obs.target;
    return obs;
  }

  private update(e: Entry, obs: Observation): void {
    const prev = e.status;
    if (prev && (prev.state === 'running' || prev.state === 'starting') && obs.state === 'respawn' && Date.now() - e.touchedAt > TOUCH_MS) e.restarts += 1;
    if (prev && prev.state === obs.state && prev.target === obs.target && prev.pid === obs.pid && prev.reason === obs.reason && prev.restarts === e.restarts) return;
    if (obs.pid && obs.pid !== prev?.pid) this.scanner?.family.addSessionOf(obs.pid);
    e.status = {
      id: this.id(e.name),
      instance: this.instance,
      name: e.name,
      adapter: this.kind,
      state: obs.state,
      target: obs.target,
      ...(obs.reason !== undefined ? { reason: obs.reason } : {}),
      ...(obs.pid ? { pid: obs.pid } : {}),
      ...(obs.lastExit ? { lastExit: obs.lastExit } : {}),
      since: prev?.state === obs.state ? prev.since : Date.now(),
      restarts: e.restarts,
      oneshot: false,
      kind: 'service',
      after: [],
    };
    this.ctx.emit({ type: 'state', status: e.status });
  }

  list(): ServiceStatus[] {
    return [...this.entries.values()].map((e) => this.statusOf(e));
  }

  /** the service directory (inside the root) and its run script, for `status NAME` */
  describe(name: string): { file?: string; command?: string[] } {
    const e = this.entries.get(name);
    return e ? { file: `${e.dirIn}/run${this.root !== '/' ? ` (in ${this.root})` : ''}` } : {};
  }

  status(name: string): ServiceStatus | undefined {
    const e = this.entries.get(name);
    return e && this.statusOf(e);
  }

  private statusOf(e: Entry): ServiceStatus {
    if (!e.status) this.update(e, this.observe(e));
    return e.status!;
  }

  /** The scanner starts every service at once: nothing to level. */
  plan(): InstancePlan {
    const n = [...this.entries.keys()].filter((name) => !this.vetoed.has(name)).length;
    return { summary: `${n} service(s), started together by ${this.flavor.scanner}` };
  }

  // ---------------------------------------------------------------- control

  private entry(name: string, verb: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.id(name)}: unable to ${verb}: no such service in ${this.cfg?.services_dir ?? 'services_dir'}`);
    if (e.problem) throw new Error(`${this.id(name)}: unable to ${verb}: ${e.problem}`);
    if (this.vetoed.has(name)) throw vetoError(this.id(name), verb);
    return e;
  }

  private async command(e: Entry, verb: string, argv: string[]): Promise<void> {
    if (!this.running || this.scanner?.pid === undefined) throw new Error(`${this.id(e.name)}: unable to ${verb}: ${this.flavor.scanner} is not running`);
    const r = await runIn(this.root, argv, 10_000);
    this.pollSoon();
    if (r.code !== 0) throw new Error(`${this.id(e.name)}: unable to ${verb}: ${r.output.split('\n')[0] || `${argv[0]} exited with code ${r.code}`}`);
  }

  private async control(name: string, verb: string, target: Target, argv: (dirIn: string) => string[]): Promise<void> {
    const e = this.entry(name, verb);
    Object.assign(e, { target, touchedAt: Date.now(), enforce: false });
    if (target === 'up') e.restarts = 0;
    await this.command(e, verb, argv(this.linkIn(e)));
  }

  startService(name: string): Promise<void> {
    return this.control(name, 'start', 'up', (d) => this.flavor.up(d));
  }
  stopService(name: string): Promise<void> {
    return this.control(name, 'stop', 'down', (d) => this.flavor.down(d));
  }
  restartService(name: string): Promise<void> {
    return this.control(name, 'restart', 'up', (d) => this.flavor.restart(d));
  }

  async killService(name: string, sig: string): Promise<void> {
    const e = this.entry(name, `send ${sig}`);
    const argv = this.flavor.signal(this.linkIn(e), sig);
    if (argv) return this.command(e, `send ${sig}`, argv);
    const pid = e.status?.pid;
    if (!pid) throw new Error(`${this.id(name)}: unable to send ${sig}: not running`);
    try {
      process.kill(pid, signalNumber(sig) ?? sig);
    } catch (err) {
      throw new Error(`${this.id(name)}: unable to send ${sig}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.pollSoon();
  }

  /** Ask the service to re-read its configuration: SIGHUP through the supervisor (`sv hup`, `s6-svc -h`). */
  async reloadService(name: string): Promise<Diagnostic[]> {
    await this.killService(name, 'SIGHUP');
    return [];
  }

  /** The run script is read at every start; re-reading the services dir re-links added or removed ones. */
  async applyService(name: string): Promise<Diagnostic[]> {
    this.entry(name, 'apply');
    return this.sync();
  }

  /**
   * Limitation: a service with a log/ service logs wherever that one writes (svlogd, s6-log …),
   * which metainit does not know. What this returns are the scanner's captured lines (its own,
   * its supervise processes', and the output of services without log/) that mention `name`.
   */
  async logs(name: string, n: number): Promise<string[]> {
    return (this.scanner?.tail ?? []).filter((l) => l.includes(name)).slice(-n);
  }

  async sync(): Promise<Diagnostic[]> {
    if (!this.cfg) return [];
    const diags = this.readServices();
    if (this.running) await this.relink();
    return diags;
  }

  // ---------------------------------------------------------------- re-exec

  /** Minimal: the scanner's pid; the services live on under it and are read again from files. */
  snapshot(): { scanner: number } | null {
    const pid = this.scanner?.pid;
    return pid === undefined ? null : { scanner: pid };
  }

  adopt(snapshot: unknown): void {
    const pid = (snapshot as { scanner?: unknown } | null)?.scanner;
    if (typeof pid === 'number' && Number.isInteger(pid) && pid > 1) this.adoptPid = pid;
  }
}
