/**
 * index.ts — the sysv adapter: the /etc/init.d scripts of one runlevel, started in parallel.
 *
 * Model. An instance (`adapter: sysv`) manages the init scripts of its root (lsb.ts reads them:
 * LSB headers, rc links; OpenRC runscripts are left to OpenRC). metainit plays the part of
 * Debian's `rc` + `startpar`, as a non-PID-1 parent:
 *   - start is event-driven: every script of the runlevel is `waiting` and starts the moment its
 *     own dependencies are done — local scripts it requires (ready, or failed for a Should-Start),
 *     and roles (`$syslog` → the holder of the logging role, asked of the DependencyView). So
 *     with 1→2 and 3→4, 1 and 3 start together and 2 starts as soon as 1 is done.
 *   - each action (`script start`, `stop`, `force-reload`) runs on a pty of its own
 *     (pty-runner.ts), so parallel output is not interleaved and is kept per script (`logs`);
 *     script.ts holds one script's state and runs its actions.
 *   - state comes from `script status` (states.ts, the LSB table): right after a start, then
 *     every STATUS_POLL_MS while running. A script without a status action is a oneshot: a
 *     successful start makes it `ok`. Nothing restarts a daemon that died: sysv never did; its
 *     state becomes `error` with the LSB reason.
 *   - stop runs `script stop` in reverse dependency order (dependents first, independent scripts
 *     together), each bounded by the shutdown deadline; at the deadline, what still runs (pty
 *     groups, daemons found through their pid files) is SIGKILLed.
 * Scripts whose job metainit does itself (roles/lsb-facilities.ts METAINIT_OWNED_SCRIPTS) and
 * vetoed ones are listed as stopped with the reason and never run. Daemons started by Debian
 * scripts go through start-stop-daemon, which needs no PID 1; the environment carries
 * _SYSTEMCTL_SKIP_REDIRECT=1 so /lib/lsb/init-functions never hands over to systemctl.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { signalNumber } from '../../base/signames.js';
import { isReady, type ServiceState, type ServiceStatus, type Target } from '../../base/states.js';
import { sleep as sleepFor } from '../../base/time.js';
import type { Diagnostic } from '../../base/types.js';
import { diagnostic, validate, type Subject, instanceSubject } from '../../config/errors.js';
import { Duration, InstanceBase, ServiceName } from '../../config/schema.js';
import { roleOfService } from '../../roles/known-services.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { DepGraph } from '../../supervisor/graph.js';
import { endFamily, ProcessFamily, processTable } from '../../supervisor/proctree.js';
import { PtyPool } from '../../supervisor/pty-runner.js';
import type { ConsoleTap } from '../../supervisor/console-tap.js';
import { hostPath, isHostRoot } from '../../supervisor/rootfs.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, AdapterFactory, InstancePlan, RoleClaim, SyncOptions } from '../adapter.js';
import { readFacilities, type Facilities } from './insserv-conf.js';
import { managedScripts, readInitDir, readRcLinks, scriptRoles, type RcLinks } from './lsb.js';
import { planRunlevel, type Plan } from './lsb-plan.js';
import { writeRunlevel } from './utmp.js';
import { lsbEnv, Script, startVerdict, type ScriptHost, type StartVerdict } from './script.js';

export const SysvInstance = InstanceBase.extend({
  adapter: z.literal('sysv'),
  /** the runlevel whose scripts start (S links in /etc/rc<N>.d) */
  runlevel: z.number().int().min(1).max(5).default(2),
  /** manage only these scripts (file names in /etc/init.d); default: all */
  scripts: z.array(ServiceName).optional(),
  /** never manage these scripts */
  exclude: z.array(ServiceName).default([]),
  /** longest time one action of one script (start, stop …) may take before its pty is killed */
  timeout: Duration.default(60_000),
}).strict();
export type SysvInstance = z.infer<typeof SysvInstance>;

/** after the stop scripts: how long what they left of their daemons may take to exit before TERM */
const LEFTOVER_GRACE_MS = 2000;

/** period of `script status` for running daemons */
export const STATUS_POLL_MS = 3000;

export interface SysvSnapshot {
  scripts: Array<{ name: string; state: ServiceState; target: Target; since: number; ran: boolean }>;
}

const sleep = (ms: number): Promise<void> => sleepFor(ms, { unref: true });

export class SysvAdapter implements Adapter {
  readonly kind = 'sysv';
  readonly instance: string;
  private cfg: SysvInstance | undefined;
  private readonly scripts = new Map<string, Script>();
  private links: RcLinks = new Map();
  /** the root's insserv.conf(.d) facilities (undefined: it has none) */
  private facilities: Facilities | undefined;
  /** scripts a sync({hold}) found, started by releaseHeld() */
  private readonly held: string[] = [];
  private startPlan: Plan | undefined;
  private sandbox: Sandbox = NO_SANDBOX;
  /** script → why it can never start (dependency cycle) */
  private cycles = new Map<string, string>();
  private readonly said = new Set<string>();
  private readonly host: ScriptHost;
  private poller: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private stopping = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(private readonly ctx: AdapterContext) {
    this.instance = ctx.instance;
    this.host = this.makeHost();
  }

  /** What every Script of this instance shares: root, environment, pty pool, event sink. */
  private makeHost(): ScriptHost {
    const adapter = this;
    let pool: PtyPool | undefined;
    const env = (): Record<string, string> => lsbEnv(adapter.cfg?.runlevel ?? 2);
    return {
      instance: this.instance,
      get root() {
        return adapter.root;
      },
      get timeout() {
        return adapter.cfg?.timeout ?? 60_000;
      },
      get pool() {
        return (pool ??= new PtyPool({ root: adapter.root, env, reaper: adapter.ctx.reaper }));
      },
      log: this.ctx.log,
      env,
      emit: (ev) => this.ctx.emit(ev),
      after: (name) => {
        const deps = this.startPlan?.deps.get(name);
        return [...(deps?.local.keys() ?? []), ...[...(deps?.roles.keys() ?? [])].map((r) => `role:${r}`)];
      },
      settled: () => this.pump(),
    };
  }

  private get root(): string {
    return this.cfg?.root ?? '/';
  }

  private get subject(): Subject {
    return instanceSubject(this.ctx);
  }

  // ------------------------------------------------------------------------------ loading

  async load(): Promise<Diagnostic[]> {
    const v = validate(SysvInstance, this.ctx.config, this.subject);
    if (v.value === undefined) return v.diagnostics;
    this.cfg = v.value;
    return this.rescan().diagnostics;
  }

  /** Re-read /etc/init.d and the rc links; returns the names of scripts that are new. */
  private rescan(): { diagnostics: Diagnostic[]; added: string[] } {
    const cfg = this.cfg!;
    const { scripts, problems } = readInitDir(this.root);
    const diagnostics = problems.map((p) => diagnostic(this.subject, '', p.problem, p.fix, 'warning'));
    this.links = readRcLinks(this.root);
    this.facilities = readFacilities(this.root);
    for (const name of cfg.scripts ?? []) {
      if (!scripts.some((s) => s.name === name)) diagnostics.push(diagnostic(this.subject, 'scripts', `"${name}" is not an executable script in ${join(this.root, 'etc/init.d')}`, 'correct the name or remove it from scripts:', 'warning'));
    }
    const seen = new Set<string>();
    const added: string[] = [];
    for (const def of managedScripts(scripts, cfg.scripts, cfg.exclude)) {
      seen.add(def.name);
      const old = this.scripts.get(def.name);
      if (old) old.def = def;
      else {
        this.scripts.set(def.name, new Script(def, this.host));
        added.push(def.name);
      }
    }
    for (const [name, s] of this.scripts) {
      if (seen.has(name)) continue;
      if (s.ran) this.ctx.log.warn(`${s.id}: script removed while it ran; what it started is left running`);
      this.scripts.delete(name);
    }
    this.startPlan = undefined;
    return { diagnostics, added };
  }

  /** The start plan for the scripts that may run now (not owned, not vetoed); cycles marked. */
  private currentPlan(): Plan {
    if (this.startPlan) return this.startPlan;
    const runnable = [...this.scripts.values()].filter((s) => !s.owned && !s.vetoed).map((s) => s.def);
    this.startPlan = planRunlevel({ scripts: runnable, links: this.links, runlevel: String(this.cfg?.runlevel ?? 2), roleOf: roleOfService, facilities: this.facilities });
    for (const w of this.startPlan.warnings) this.sayOnce(`${this.instance}/${w}`);
    const graph = new DepGraph(this.startPlan.startNodes);
    this.cycles = new Map();
    for (const cycle of graph.findCycles()) for (const id of cycle) this.cycles.set(id, `dependency cycle: ${[...cycle, cycle[0]].join(' → ')}`);
    for (const id of graph.levels().blocked) this.cycles.set(id, 'depends on a dependency cycle');
    return this.startPlan;
  }

  claims(): RoleClaim[] {
    return [...this.scripts.values()].filter((s) => !s.owned).flatMap((s) => scriptRoles(s.def, roleOfService).map((role) => ({ role, service: s.name })));
  }

  applyRoles(vetoed: ReadonlySet<string>): void {
    for (const s of this.scripts.values()) {
      const was = s.vetoed;
      s.vetoed = vetoed.has(s.name) && !s.owned;
      if (!s.vetoed) continue;
      s.target = 'down';
      // lost its role at a sync while it runs: stopped through its script, then marked vetoed
      if (!was && s.ran && s.state === 'running') void s.stop().then(() => s.set('stopped', VETO_REASON));
      else s.set('stopped', VETO_REASON);
    }
    this.startPlan = undefined;
  }

  // ------------------------------------------------------------------------------ starting

  async start(): Promise<void> {
    if (!this.cfg || this.started) return;
    this.sandbox = prepareSandbox(this.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    this.started = true;
    this.recordRunlevel();
    for (const name of this.currentPlan().wanted) this.want(this.scripts.get(name)!);
    this.unsubscribe = this.ctx.deps.onChange(() => this.pump());
    this.poller = setInterval(() => {
      if (!this.stopping) for (const s of this.scripts.values()) s.poll();
    }, STATUS_POLL_MS).unref();
    this.pump();
  }

  /**
   * The runlevel record in the root's /run/utmp, so that `runlevel` prints "N 2" and
   * invoke-rc.d acts (utmp.ts). Not in the host's own /run when metainit is only a supervisor.
   */
  private recordRunlevel(): void {
    if (this.ctx.mode === 'supervisor' && isHostRoot(this.root)) return;
    const level = String(this.cfg?.runlevel ?? 2);
    const problem = writeRunlevel(hostPath(this.root, '/'), level);
    if (problem) this.ctx.log.warn(`${this.instance}: unable to record runlevel ${level} in utmp: ${problem} (fix: give the root a writable /run; invoke-rc.d refuses to act without it)`);
  }

  /**
   * Mark `s` and the local scripts it requires as wanted up. A script already up or on its way
   * is left alone; one that failed or stopped is tried again, and so is a finished oneshot when
   * `rerun`.
   */
  private want(s: Script, rerun = false): void {
    if (s.owned || s.vetoed) return;
    const again = s.state === 'error' || s.state === 'stopped' || (rerun && s.state === 'ok');
    if (s.target === 'up' && !again) return;
    s.target = 'up';
    if ((again || !isReady(s.state)) && !s.busy) s.set('waiting');
    for (const [dep, kind] of this.currentPlan().deps.get(s.name)?.local ?? []) {
      const d = this.scripts.get(dep);
      if (kind === 'required' && d) this.want(d);
    }
  }

  /** Start every waiting script whose dependencies are done (re-entrant calls are folded). */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (const s of this.scripts.values()) {
          if (this.stopping || !this.started || s.target !== 'up' || s.state !== 'waiting' || s.busy) continue;
          const verdict = this.readiness(s);
          if (verdict === 'go') void s.start();
          else if (verdict.fail) s.set('error', verdict.fail);
          else s.set('waiting', `waiting for ${verdict.wait.join(', ')}`);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /** go, wait (for what), or fail (why): see script.ts startVerdict */
  private readiness(s: Script): StartVerdict {
    const cycle = this.cycles.get(s.name);
    if (cycle) return { fail: cycle, wait: [] };
    return startVerdict(s, this.currentPlan().deps.get(s.name), (n) => this.scripts.get(n), (ref) => this.ctx.deps.state(ref, this.instance), (t) => this.sayOnce(t));
  }

  private sayOnce(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    this.ctx.log.warn(text);
  }

  // ------------------------------------------------------------------------------ control

  list(): ServiceStatus[] {
    return [...this.scripts.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => s.status());
  }

  status(name: string): ServiceStatus | undefined {
    return this.scripts.get(name)?.status();
  }

  /** the pty of a script's action while it runs (none between actions) */
  console(name: string | undefined): ConsoleTap | undefined {
    return name === undefined ? undefined : this.scripts.get(name)?.console;
  }

  /** The runlevel's start graph from the LSB headers (the scripts that may run: not owned, not vetoed). */
  plan(): InstancePlan {
    if (!this.cfg) return { summary: 'not loaded: its instance file is invalid (see metainit check)' };
    return { services: this.currentPlan().startNodes.map((n) => ({ name: n.id, after: n.after, file: hostPath(this.root, `/etc/init.d/${n.id}`) })) };
  }

  private get(name: string, verb: string): Script {
    const s = this.scripts.get(name);
    if (!s) throw new Error(`${this.instance}/${name}: unable to ${verb}: no such script (fix: see metainit status ${this.instance})`);
    if (s.owned && verb !== 'read logs of') throw new Error(`${s.id}: unable to ${verb}: owned by metainit (role ${s.owned}) (fix: metainit does its job itself; leave it alone)`);
    if (s.vetoed && (verb === 'start' || verb === 'restart')) throw vetoError(s.id, verb);
    return s;
  }

  async startService(name: string): Promise<void> {
    this.want(this.get(name, 'start'), true);
    this.pump();
  }

  async stopService(name: string): Promise<void> {
    const s = this.get(name, 'stop');
    s.target = 'down';
    await s.stop();
  }

  async restartService(name: string): Promise<void> {
    this.get(name, 'restart');
    await this.stopService(name);
    await this.startService(name);
  }

  async reloadService(name: string): Promise<Diagnostic[]> {
    this.get(name, 'reload');
    const { diagnostics } = this.rescan();
    await this.scripts.get(name)?.reload();
    return diagnostics;
  }

  async killService(name: string, signal: string): Promise<void> {
    const s = this.get(name, 'kill');
    const pid = s.livePid();
    if (pid === undefined) throw new Error(`${s.id}: unable to kill: no live pid file known for this script (fix: metainit stop ${s.id})`);
    process.kill(pid, signalNumber(signal) ?? signal);
  }

  /** Re-read /etc/init.d (the script's LSB header among them); the running script is left alone. */
  async applyService(name: string): Promise<Diagnostic[]> {
    this.get(name, 'apply');
    return this.rescan().diagnostics;
  }

  async logs(name: string, n: number): Promise<string[]> {
    return this.get(name, 'read logs of').logs(n);
  }

  /** Re-read /etc/init.d: new scripts of the runlevel start, removed ones are forgotten. */
  async sync(opts: SyncOptions = {}): Promise<Diagnostic[]> {
    if (!this.cfg) return this.load();
    const { diagnostics, added } = this.rescan();
    if (opts.hold) this.held.push(...added);
    else this.startAdded(added);
    return diagnostics;
  }

  watchPaths(): string[] {
    return ['/etc/init.d', `/etc/rc${this.cfg?.runlevel ?? 2}.d`, '/etc/insserv.conf.d'].map((p) => hostPath(this.root, p));
  }

  releaseHeld(): void {
    this.startAdded(this.held.splice(0));
  }

  /** new scripts the runlevel starts (the plan leaves vetoed ones out) */
  private startAdded(added: string[]): void {
    if (!this.started || this.stopping) return;
    const wanted = new Set(this.currentPlan().wanted);
    for (const name of added) if (wanted.has(name) && this.scripts.has(name)) this.want(this.scripts.get(name)!);
    this.pump();
  }

  // ------------------------------------------------------------------------------ stopping

  async stop(deadline: number): Promise<void> {
    await this.stopScripts(deadline).finally(() => this.sandbox.release());
  }

  private async stopScripts(deadline: number): Promise<void> {
    this.stopping = true;
    if (this.poller) clearInterval(this.poller);
    this.unsubscribe?.();
    // the sessions of the daemons the scripts started: what a `stop` leaves behind of them
    // (a child still exiting, a ticker's sleep) is theirs too, and must be gone before we return
    const family = new ProcessFamily();
    for (const s of this.scripts.values()) {
      s.target = 'down';
      if (s.state === 'waiting') s.set('stopped');
      const pid = s.ran ? s.livePid() : undefined;
      if (pid !== undefined) family.addSessionOf(pid);
    }
    for (const level of new DepGraph(this.currentPlan().stopNodes).reverseOrder()) {
      const stops = level.flatMap((n) => {
        const s = this.scripts.get(n);
        return s?.ran ? [s.stop(Math.max(1, deadline - Date.now()))] : [];
      });
      await Promise.race([Promise.all(stops), sleep(deadline - Date.now())]);
      if (Date.now() >= deadline) break;
    }
    await endFamily(() => family.members(processTable(), []), Date.now() + LEFTOVER_GRACE_MS, deadline);
    if (Date.now() < deadline) return;
    this.host.pool.killAll('SIGKILL');
    for (const s of this.scripts.values()) {
      if (!s.ran) continue;
      const pid = s.livePid();
      if (pid !== undefined) this.ctx.sys.kill(pid, 9);
      this.ctx.log.warn(`${s.id}: unable to stop before the shutdown deadline: killed its actions${pid !== undefined ? ` and pid ${pid}` : ''}`);
    }
  }

  // ------------------------------------------------------------------------------ re-exec

  snapshot(): SysvSnapshot {
    return { scripts: [...this.scripts.values()].map((s) => ({ name: s.name, state: s.state, target: s.target, since: s.since, ran: s.ran })) };
  }

  /** Restore states after a re-exec of PID 1, before start(): running scripts are not started again. */
  adopt(snapshot: unknown): void {
    const snap = snapshot as Partial<SysvSnapshot> | null;
    for (const e of snap?.scripts ?? []) {
      const s = this.scripts.get(e.name);
      if (!s || s.owned || s.vetoed) continue;
      // a start or stop under way died with the old image: its outcome is unknown
      const interrupted = e.state === 'starting' ? 'start' : e.state === 'stopping' ? 'stop' : undefined;
      Object.assign(s, { state: interrupted ? 'error' : e.state, target: e.target, since: e.since, ran: e.ran, reason: interrupted ? `${interrupted} interrupted by a re-exec of metainit` : undefined });
    }
  }
}

export const createSysvAdapter: AdapterFactory = (ctx) => new SysvAdapter(ctx);
