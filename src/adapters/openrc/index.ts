/**
 * index.ts — the OpenRC adapter: one OpenRC runlevel, run by `openrc` as a child of metainit.
 *
 * Model. OpenRC needs no PID 1: `openrc RUNLEVEL` starts the runlevel's services in dependency
 * order and exits; its state lives in /run/openrc (a tmpfs of the instance's root, see
 * rootfs.ts). metainit prepares that state directory the way OpenRC's sysinit would (the
 * directories of states.ts, an empty `softlevel`), then runs `openrc -n RUNLEVEL` on a pty and
 * reads the state directories every POLL_MS (cheaper than rc-status; the ONE table of
 * states.ts maps them; tree.ts reads and writes what OpenRC keeps on disk). Control is
 * `rc-service NAME start|stop`; `stop(deadline)` stops the services itself, dependents first
 * (OpenRC's own order from rc-depend, reversed), each with `rc-service --nodeps NAME stop`.
 *
 * Safe in a chroot, and never the machine's init — what that takes (checked with OpenRC 0.45):
 *   - only `openrc RUNLEVEL` with a runlevel that is not a machine one (MACHINE_RUNLEVELS:
 *     sysinit mounts /proc and /run, shutdown/reboot/off/single kill and unmount). `openrc none`
 *     is no escape hatch: "none" is no runlevel ("none: not a valid runlevel"), so stopping is
 *     done service by service.
 *   - `-n` (--no-stop): switching runlevels never stops a service, whatever OpenRC believes.
 *   - the services of the sysinit and boot runlevels, every script metainit owns
 *     (roles/lsb-facilities.ts) and every vetoed service are *marked started* before the first
 *     run (a symlink in started/, which is all librc's rc_service_mark does — the same trick as
 *     OpenRC's own `noinit=` boot option). So neither the runlevel nor a dependency (`need
 *     localmount`) ever runs them, and services that `use` or `need` them go ahead: their job
 *     is done by metainit or by the instance holding the role. Those in the instance's runlevel
 *     are listed as stopped with the reason; none is ever stopped (`--nodeps` keeps a stop from
 *     cascading to them).
 *   - Debian's OpenRC runs LSB scripts too, but `rc-service` does not record their state; after
 *     a successful start or stop of one, metainit marks it as OpenRC itself would.
 * Cross-instance dependencies of single services are not honoured inside a runlevel (OpenRC
 * runs it in one go): put `after: [role:logging]` on the instance instead.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { z } from 'zod';
import { signalNumber } from '../../base/signames.js';
import type { ServiceState, ServiceStatus } from '../../base/states.js';
import { sleep as sleepFor } from '../../base/time.js';
import type { Diagnostic } from '../../base/types.js';
import { diagnostic, validate, type Subject, instanceSubject } from '../../config/errors.js';
import { Duration, InstanceBase } from '../../config/schema.js';
import { roleOfService } from '../../roles/known-services.js';
import { metainitOwner, ownedReason } from '../../roles/lsb-facilities.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { childEnv } from '../../supervisor/environment.js';
import { firstLivePid } from '../../supervisor/pidfile.js';
import { PtyPool, type PtyResult, type PtyRun } from '../../supervisor/pty-runner.js';
import { inRoot } from '../../supervisor/rootfs.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, AdapterFactory, InstancePlan, RoleClaim } from '../adapter.js';
import { CRASHED, stateFromDirs } from './states.js';
import { newSvc, statusOf, type Svc } from './svc.js';
import { OpenrcTree } from './tree.js';

/** OpenRC runlevels that set up or take down the machine: metainit's own job, never run. */
export const MACHINE_RUNLEVELS: readonly string[] = ['sysinit', 'boot', 'shutdown', 'reboot', 'single', 'off', 'recovery'];

export const OpenrcInstance = InstanceBase.extend({
  adapter: z.literal('openrc'),
  /** the runlevel `openrc` brings up (a directory of /etc/runlevels) */
  runlevel: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { error: 'not a runlevel name (fix: write the name of a directory of /etc/runlevels, e.g. default)' })
    .refine((rl) => !MACHINE_RUNLEVELS.includes(rl), { error: `is a runlevel that sets up or takes down the machine, which metainit does itself (fix: use default or a runlevel of your own; never ${MACHINE_RUNLEVELS.join(', ')})` })
    .default('default'),
  /** longest time `openrc RUNLEVEL` or one rc-service action may take before its pty is killed */
  timeout: Duration.default(120_000),
}).strict();
export type OpenrcInstance = z.infer<typeof OpenrcInstance>;

/** period of reading the state directories */
export const POLL_MS = 2000;

export interface OpenrcSnapshot {
  marked: string[];
}

const sleep = (ms: number): Promise<void> => sleepFor(ms, { unref: true });

export class OpenrcAdapter implements Adapter {
  readonly kind = 'openrc';
  readonly instance: string;
  private cfg: OpenrcInstance | undefined;
  private tree = new OpenrcTree('/');
  private pool: PtyPool | undefined;
  private readonly svcs = new Map<string, Svc>();
  /** services we marked started so that OpenRC never runs them */
  private marked = new Set<string>();
  /** services with an rc-service action under way: their state is the action's, not the directories' */
  private readonly busy = new Set<string>();
  private poller: NodeJS.Timeout | undefined;
  /** `openrc RUNLEVEL` has finished once: a wanted service still stopped then has failed */
  private levelDone = false;
  /** the `openrc RUNLEVEL` run in progress */
  private level: { run?: PtyRun; done: Promise<void> } | undefined;
  private stopping = false;
  private sandbox: Sandbox = NO_SANDBOX;

  constructor(private readonly ctx: AdapterContext) {
    this.instance = ctx.instance;
  }

  private get subject(): Subject {
    return instanceSubject(this.ctx);
  }

  // ------------------------------------------------------------------------------ loading

  async load(): Promise<Diagnostic[]> {
    const v = validate(OpenrcInstance, this.ctx.config, this.subject);
    if (v.value === undefined) return v.diagnostics;
    this.cfg = v.value;
    this.tree = new OpenrcTree(v.value.root);
    return this.scan();
  }

  /** Read the runlevel's members into the service table. */
  private scan(): Diagnostic[] {
    const level = this.cfg!.runlevel;
    if (!this.tree.runlevelExists(level)) {
      return [diagnostic(this.subject, 'runlevel', `runlevel "${level}" does not exist in ${join(this.tree.root, 'etc/runlevels')}`, level === 'default' ? 'point root at a tree with OpenRC installed, or add a service with rc-update add SERVICE default inside the root' : 'create it with rc-update add SERVICE RUNLEVEL inside the root, or use default')];
    }
    const members = new Set(this.tree.runlevelMembers(level));
    for (const name of members) if (!this.svcs.has(name)) this.svcs.set(name, newSvc(name, true));
    for (const s of this.svcs.values()) s.member = members.has(s.name);
    return [];
  }

  claims(): RoleClaim[] {
    return [...this.svcs.values()].filter((s) => s.member && !s.owned).flatMap((s) => {
      const role = roleOfService(s.name);
      return role ? [{ role, service: s.name }] : [];
    });
  }

  watchPaths(): string[] {
    return this.cfg ? ['/etc/init.d', `/etc/runlevels/${this.cfg.runlevel}`].map((p) => join(this.tree.root, p)) : [];
  }

  applyRoles(vetoed: ReadonlySet<string>): void {
    for (const s of this.svcs.values()) {
      s.vetoed = vetoed.has(s.name) && !s.owned;
      if (s.vetoed) this.set(s, 'stopped', VETO_REASON);
    }
  }

  // ------------------------------------------------------------------------------ starting

  async start(): Promise<void> {
    if (!this.cfg || this.poller) return;
    this.sandbox = prepareSandbox(this.tree.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    this.tree.prepareStateDir();
    this.markForeign();
    for (const s of this.svcs.values()) {
      if (!s.member || s.owned || s.vetoed) continue;
      s.target = 'up';
      this.set(s, 'waiting', `waiting for openrc ${this.cfg.runlevel}`);
    }
    this.poller = setInterval(() => this.refresh(), POLL_MS).unref();
    void this.runLevel();
  }

  /** Mark as started what OpenRC must never run: sysinit and boot, metainit's own, vetoed ones. */
  private markForeign(): void {
    const states = this.tree.readStates();
    const names = new Set([...this.tree.runlevelMembers('sysinit'), ...this.tree.runlevelMembers('boot')]);
    for (const n of this.tree.scripts()) if (metainitOwner(n)) names.add(n);
    for (const s of this.svcs.values()) if (s.vetoed) names.add(s.name);
    for (const n of names) {
      if (states.has(n) || !this.tree.scriptExists(n)) continue;
      this.tree.mark(n, true);
      this.marked.add(n);
    }
  }

  /** `openrc -n RUNLEVEL`: start what the runlevel lists and is not started yet; stop nothing. */
  private runLevel(): Promise<void> {
    if (this.level) return this.level.done;
    const levelName = this.cfg!.runlevel;
    const level: { run?: PtyRun; done: Promise<void> } = { done: Promise.resolve() };
    this.level = level;
    level.done = this.run(['openrc', '-n', levelName], this.cfg!.timeout, undefined, (run) => (level.run = run)).then((r) => {
      if (r.code !== 0) this.ctx.log.warn(`${this.instance}: openrc ${levelName} ended with ${r.timedOut ? 'a timeout' : `exit ${r.code ?? r.signal}`}`);
      this.level = undefined;
      this.levelDone = true;
      this.refresh();
    });
    return level.done;
  }

  // ------------------------------------------------------------------------------ observing

  private env(): Record<string, string> {
    return { ...childEnv({ identity: { name: 'root', home: '/root' } }), TERM: 'dumb' };
  }

  /**
   * Run an OpenRC command on a pty. Lines go to `owner`'s tail; for a whole runlevel, where the
   * output of every service comes through one pty, to the service the line names (OpenRC's
   * " * Starting NAME ..." or an LSB script's "Starting …: NAME.") or else the last one named
   * (metainit's own log before the first).
   */
  private run(argv: string[], timeoutMs: number, owner?: Svc, started?: (run: PtyRun) => void): Promise<PtyResult> {
    this.pool ??= new PtyPool({ root: this.tree.root, env: () => this.env(), reaper: this.ctx.reaper });
    let current = owner;
    const onLine = (line: string): void => {
      const named = owner ? [] : line.split(/[\s:*]+/).map((w) => w.replace(/\.+$/, '')).filter((w) => this.svcs.has(w));
      if (named.length === 1) current = this.svcs.get(named[0]!);
      if (!current) return this.ctx.log.info(`${this.instance}: ${line}`);
      current.tail.push(line);
      this.ctx.emit({ type: 'log', id: `${this.instance}/${current.name}`, stream: 'stdout', line, time: Date.now() });
    };
    return this.pool.run(argv, timeoutMs, onLine, started).then((r) => {
      if (r.error) this.ctx.log.error(`${this.instance}: unable to run ${argv.join(' ')}: ${r.error}`);
      return r;
    });
  }

  /** Read the state directories into the service table. */
  private refresh(): void {
    const states = this.tree.readStates();
    for (const name of states.keys()) {
      if (this.svcs.has(name) || this.marked.has(name)) continue;
      const s = newSvc(name, false); // started by OpenRC as a dependency
      if (!s.owned) s.target = 'up';
      this.svcs.set(name, s);
    }
    for (const s of this.svcs.values()) {
      if (s.owned || s.vetoed || this.busy.has(s.name)) continue;
      let { state, reason } = stateFromDirs(states.get(s.name) ?? new Set());
      const files = state === 'running' ? this.tree.pidfiles(s.name) : [];
      s.pid = files.length > 0 ? firstLivePid(this.tree.root, files) : undefined;
      if (state === 'running' && files.length > 0 && s.pid === undefined) [state, reason] = ['error', CRASHED];
      if (state === 'stopped' && s.target === 'up') {
        [state, reason] = this.levelDone ? ['error', `not running although wanted (see metainit logs ${this.instance}/${s.name})`] : ['waiting', `waiting for openrc ${this.cfg!.runlevel}`];
      }
      this.set(s, state, reason);
    }
  }

  private set(s: Svc, state: ServiceState, reason?: string): void {
    if (s.state === state && s.reason === reason) return;
    s.state = state;
    s.reason = reason;
    s.since = Date.now();
    this.ctx.emit({ type: 'state', status: statusOf(this.instance, s) });
  }

  // ------------------------------------------------------------------------------ control

  /** `rc-service [opts] NAME verb`; an LSB script is then marked as OpenRC itself would. */
  private async serviceAction(s: Svc, verb: 'start' | 'stop' | 'reload', timeoutMs: number, opts: string[] = []): Promise<PtyResult> {
    this.busy.add(s.name);
    if (verb !== 'reload') this.set(s, verb === 'start' ? 'starting' : 'stopping');
    try {
      const r = await this.run(['rc-service', ...opts, s.name, verb], timeoutMs, s);
      s.lastExit = { code: r.code, signal: r.signal };
      if (r.code === 0 && verb !== 'reload' && this.tree.isLsb(s.name)) this.tree.mark(s.name, verb === 'start');
      return r;
    } finally {
      this.busy.delete(s.name);
      this.refresh();
    }
  }

  private get(name: string, verb: string): Svc {
    const s = this.svcs.get(name);
    if (!s) throw new Error(`${this.instance}/${name}: unable to ${verb}: no such service (fix: see metainit status ${this.instance})`);
    if (s.owned && verb !== 'read logs of') throw new Error(`${this.instance}/${name}: unable to ${verb}: ${ownedReason(s.owned)} (fix: metainit does its job itself; leave it alone)`);
    if (s.vetoed && (verb === 'start' || verb === 'restart')) throw vetoError(`${this.instance}/${name}`, verb);
    return s;
  }

  list(): ServiceStatus[] {
    return [...this.svcs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => statusOf(this.instance, s));
  }

  status(name: string): ServiceStatus | undefined {
    const s = this.svcs.get(name);
    return s && statusOf(this.instance, s);
  }

  /** OpenRC orders a runlevel itself (`openrc RUNLEVEL` reads every script's depend()). */
  plan(): InstancePlan {
    const members = [...this.svcs.values()].filter((s) => s.member && !s.owned && !s.vetoed).length;
    return { summary: `runlevel ${this.cfg?.runlevel ?? '?'}: ${members} service(s), ordered by openrc itself from their depend()` };
  }

  async startService(name: string): Promise<void> {
    const s = this.get(name, 'start');
    s.target = 'up';
    const r = await this.serviceAction(s, 'start', this.cfg!.timeout);
    if (r.code !== 0) this.set(s, 'error', `rc-service start ${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}`);
  }

  /** Stop this service only (`--nodeps`): a stop never cascades to services OpenRC must not touch. */
  async stopService(name: string): Promise<void> {
    const s = this.get(name, 'stop');
    s.target = 'down';
    const r = await this.serviceAction(s, 'stop', this.cfg!.timeout, ['--nodeps']);
    if (r.code !== 0 && s.state === 'running') this.set(s, 'running', `rc-service stop ${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}`);
  }

  async restartService(name: string): Promise<void> {
    this.get(name, 'restart');
    await this.stopService(name);
    await this.startService(name);
  }

  /** OpenRC reads a script at every action and notices changed dependencies itself: only ask a running daemon to reload, when its script knows how. */
  async reloadService(name: string): Promise<Diagnostic[]> {
    const s = this.get(name, 'reload');
    const diagnostics = this.scan();
    if (s.state === 'running' && /\breload\b/.test(this.tree.scriptText(name))) {
      const r = await this.serviceAction(s, 'reload', this.cfg!.timeout);
      if (r.code !== 0) this.ctx.log.warn(`${this.instance}/${name}: unable to reload: rc-service reload exit ${r.code ?? r.signal}`);
    }
    return diagnostics;
  }

  async killService(name: string, signal: string): Promise<void> {
    const s = this.get(name, 'kill');
    const pid = firstLivePid(this.tree.root, this.tree.pidfiles(name));
    if (pid === undefined) throw new Error(`${this.instance}/${s.name}: unable to kill: no live pid file known for this service (fix: metainit stop ${this.instance}/${s.name})`);
    process.kill(pid, signalNumber(signal) ?? signal);
  }

  /** OpenRC re-reads a script at every action: re-scan the tree for its membership and header. */
  async applyService(name: string): Promise<Diagnostic[]> {
    this.get(name, 'apply');
    return this.scan();
  }

  async logs(name: string, n: number): Promise<string[]> {
    return this.get(name, 'read logs of').tail.last(n);
  }

  /** Re-read the runlevel: new members are started (`openrc -n` again), removed ones stopped. */
  async sync(): Promise<Diagnostic[]> {
    if (!this.cfg) return this.load();
    const before = new Set([...this.svcs.values()].filter((s) => s.member).map((s) => s.name));
    const diagnostics = this.scan();
    if (!this.poller || this.stopping) return diagnostics;
    for (const s of this.svcs.values()) if (before.has(s.name) && !s.member && s.target === 'up' && !s.owned) await this.stopService(s.name);
    const added = [...this.svcs.values()].filter((s) => s.member && !before.has(s.name) && !s.owned && !s.vetoed);
    for (const s of added) s.target = 'up';
    if (added.length > 0) await this.runLevel();
    return diagnostics;
  }

  // ------------------------------------------------------------------------------ stopping

  /** Our running services, dependents first: OpenRC's own start order (rc-depend), reversed. */
  private async stopOrder(names: string[]): Promise<string[]> {
    const argv = inRoot(this.tree.root, ['/lib/rc/bin/rc-depend', '--starting', '-t', 'ineed,iwant,iuse,iafter', ...names]);
    const order = await new Promise<string[]>((resolve) => {
      execFile(argv[0]!, argv.slice(1), { env: this.env(), timeout: 10_000 }, (err, stdout) => resolve(err ? [] : stdout.split(/\s+/).filter((w) => names.includes(w))));
    });
    return [...new Set([...order, ...names])].reverse();
  }

  async stop(deadline: number): Promise<void> {
    await this.stopServices(deadline).finally(() => this.sandbox.release());
  }

  private async stopServices(deadline: number): Promise<void> {
    this.stopping = true;
    if (this.poller) clearInterval(this.poller);
    if (this.level) {
      // openrc is still bringing the runlevel up: interrupt it (it ends its children) first
      this.level.run?.kill('SIGTERM');
      await Promise.race([this.level.done, sleep(deadline - Date.now())]);
    }
    this.refresh();
    const ours = [...this.svcs.values()].filter((s) => !s.owned && !s.vetoed && s.state !== 'stopped');
    for (const s of ours) s.target = 'down';
    for (const name of ours.length > 0 ? await this.stopOrder(ours.map((s) => s.name)) : []) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.serviceAction(this.svcs.get(name)!, 'stop', left, ['--nodeps']);
    }
    if (Date.now() < deadline) return;
    this.pool?.killAll('SIGKILL');
    for (const s of ours) {
      if (s.state === 'stopped') continue;
      const pid = firstLivePid(this.tree.root, this.tree.pidfiles(s.name));
      if (pid !== undefined) this.ctx.sys.kill(pid, 9);
      this.ctx.log.warn(`${this.instance}/${s.name}: unable to stop before the shutdown deadline: killed${pid !== undefined ? ` pid ${pid}` : ' its stop action'}`);
    }
  }

  // ------------------------------------------------------------------------------ re-exec

  snapshot(): OpenrcSnapshot {
    return { marked: [...this.marked].sort() };
  }

  /** OpenRC's state survives in the root's /run; only which services we marked must be remembered. */
  adopt(snapshot: unknown): void {
    const snap = snapshot as Partial<OpenrcSnapshot> | null;
    if (Array.isArray(snap?.marked)) this.marked = new Set(snap.marked.filter((n): n is string => typeof n === 'string'));
  }
}

export const createOpenrcAdapter: AdapterFactory = (ctx) => new OpenrcAdapter(ctx);
