/**
 * systemd adapter — hosts an unpatched systemd as PID 1 of namespaces of its own, next to the
 * other inits, and shows and drives its units as metainit services (`systemd/cron.service`).
 *
 * Instance file (adapters.d/NAME.yaml):
 *
 *   adapter: systemd
 *   root: /srv/debian            # the tree systemd runs from (default /: the machine's own)
 *   unit: multi-user.target      # what systemd boots to (systemd.unit= on its argv)
 *   units: [cron.service, 'tang*']   # optional allow-list: of what /etc enables only these run
 *   exclude: [ssh.service]       # never run (masked on systemd's argv) and never shown
 *   export: [dbus]               # /run directories shared with the machine (default [dbus]
 *                                # when this instance holds the message-bus role)
 *   on_poweroff: stop            # poweroff/halt typed inside: stop the instance | machine
 *   on_reboot: restart           # reboot typed inside: restart the instance | machine
 *   stop_timeout: 45s
 *   after: [role:logging]
 *
 * Pieces: ./lifecycle.ts is the instance's life (launch or re-adoption, readiness, the bus,
 * on_poweroff/on_reboot, restarts with backoff), ./process.ts one run of systemd (container.ts,
 * cgroup.ts, the notify socket, the console pty), ./bus.ts the D-Bus connection through
 * systemd-stdio-bridge, ./unit-table.ts the units as services (kept current by systemd's signals,
 * never polled), ./jobs.ts job results, ./units.ts the tree read offline (enabled units → role
 * claims; masks), ./states.ts the ONE table from ActiveState × SubState to shared states. This
 * file ties them together:
 *   - services are the units systemd has loaded. Before the bus is up, the units enabled in the
 *     tree are listed as `waiting`, so `after: [systemd/x.service]` waits for the real readiness
 *     of x. A unit file that is not loaded is still addressable (`metainit start
 *     systemd/fails.service`) and shows `stopped`;
 *   - the instance's `unit` shows `starting` until systemd sent READY=1; `degraded` is reported
 *     with the failed units named;
 *   - control is D-Bus jobs (StartUnit, StopUnit, RestartUnit, ReloadUnit with mode `replace`;
 *     KillUnit) whose JobRemoved result maps onto ours: done → success, failed/timeout/
 *     dependency/canceled → the error says which, with the unit's own reason;
 *   - vetoes are `systemd.mask=` words on systemd's argv; nothing under the tree's /etc is written.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { signalNumber } from '../../base/signames.js';
import { sleep } from '../../base/time.js';
import type { ServiceStatus } from '../../base/states.js';
import type { Diagnostic } from '../../base/types.js';
import { diagnostic, instanceSubject, validate, type Subject } from '../../config/errors.js';
import { Duration, InstanceBase } from '../../config/schema.js';
import { roleOfService } from '../../roles/known-services.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { hostPath } from '../../supervisor/rootfs.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, AdapterFactory, InstancePlan, KillWhom, RoleClaim } from '../adapter.js';
import { MANAGER_IFACE, PROPS_IFACE, SystemdBus, type BusSignal } from './bus.js';
import { ConsoleLog } from './console-log.js';
import type { ConsoleTap } from '../../supervisor/console-tap.js';
import { JOB_WORDS, JobTracker } from './jobs.js';
import { UnitTable, type Observed, type UnitRecord } from './unit-table.js';
import { SystemdLife, type LifeOptions } from './lifecycle.js';
import type { RunSnapshot } from './process.js';
import { unitKind, unitObservation } from './states.js';
import { etcWriters, isExcluded, isListed, NO_CHOICE, readChoice, UNIT_NAME, unitFileExists, vetoMasks, type TreeChoice } from './units.js';

const PATTERN = /^[A-Za-z0-9:_.\\@*-]+$/;
/** masks systemd-sysv-generator when a sysv instance runs the scripts (sysvPeer) */
const SYSV_GENERATOR_MASK = '/run/systemd/system-generators/systemd-sysv-generator';
/** a job for one of these means systemd is shutting down (poweroff, reboot … typed inside) */
const SHUTDOWN_TARGETS = new Set(['shutdown.target', 'poweroff.target', 'reboot.target', 'halt.target', 'kexec.target', 'final.target']);
/** how long a launch waits for the logging holder's /dev/log (awaitDevLog) */
const DEV_LOG_WAIT_MS = 10_000;

export const SystemdInstance = InstanceBase.extend({
  adapter: z.literal('systemd'),
  unit: z.string().regex(UNIT_NAME, { message: 'unit must be a unit name with its suffix (fix: e.g. multi-user.target)' }).default('multi-user.target'),
  units: z.array(z.string().regex(PATTERN, { message: 'a unit name or pattern (fix: e.g. cron.service or "tang*")' })).optional(),
  exclude: z.array(z.string().regex(PATTERN, { message: 'a unit name or pattern (fix: e.g. ssh.service)' })).default([]),
  export: z.array(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, { message: 'a directory name under /run (fix: e.g. dbus)' })).optional(),
  on_poweroff: z.enum(['stop', 'machine']).default('stop'),
  on_reboot: z.enum(['restart', 'machine']).default('restart'),
  stop_timeout: Duration.default(45_000),
}).strict();
export type SystemdConfig = z.output<typeof SystemdInstance>;

const JOB_WAIT_MS = 300_000;

export class SystemdAdapter implements Adapter {
  readonly kind = 'systemd';
  readonly instance: string;
  private cfg: SystemdConfig | undefined;
  private unusable: string | undefined;
  private readonly units: UnitTable;
  private tree: TreeChoice = NO_CHOICE;
  private vetoed: ReadonlySet<string> = new Set();
  private sandbox: Sandbox = NO_SANDBOX;
  private readonly jobs = new JobTracker();
  private readonly life: SystemdLife;
  private readonly consoleLog: ConsoleLog;

  constructor(private readonly ctx: AdapterContext) {
    this.instance = ctx.instance;
    this.units = new UnitTable({
      instance: ctx.instance,
      emit: (ev) => ctx.emit(ev),
      visible: (name) => this.visible(name),
      observe: (rec) => this.observe(rec),
      hostPid: (nsPid) => this.life.run?.hostPidOf(nsPid),
      keepWhenUnloaded: (name) => unitFileExists(this.root, name) || this.tree.enabled.has(name) || name === this.cfg?.unit,
      bus: () => this.life.bus,
    });
    this.life = new SystemdLife(this.lifeOptions());
    this.consoleLog = new ConsoleLog(join(ctx.logDir, ctx.instance, 'console.log'), (text) => ctx.emit({ type: 'message', level: 'warning', text: `${ctx.instance}: ${text}` }));
  }

  private get root(): string {
    return this.cfg?.root ?? '/';
  }
  private get subject(): Subject {
    return instanceSubject(this.ctx);
  }
  private id(name: string): string {
    return `${this.instance}/${name}`;
  }
  /** A service of the instance: its unit, what `units:` lists, and whatever claims a role (it runs). */
  private visible(name: string): boolean {
    if (!this.cfg) return false;
    if (name === this.cfg.unit) return true;
    return !isExcluded(this.cfg, name) && (isListed(this.cfg, name) || this.tree.claimed.has(name));
  }

  // ---------------------------------------------------------------- configuration

  async load(): Promise<Diagnostic[]> {
    const v = validate(SystemdInstance, this.ctx.config, this.subject);
    if (v.value === undefined) return v.diagnostics;
    this.cfg = v.value;
    const diags: Diagnostic[] = [];
    const missing = ['/lib/systemd/systemd', '/usr/bin/systemd-stdio-bridge'].filter((p) => !existsSync(hostPath(this.root, p)));
    this.unusable = missing.length > 0 ? `${missing.join(', ')} not found in root ${this.root}` : undefined;
    if (this.unusable) diags.push(diagnostic(this.subject, 'root', this.unusable, 'install systemd in that root (apt-get install systemd), or point root at one that has it'));
    else if (!unitFileExists(this.root, this.cfg.unit)) diags.push(diagnostic(this.subject, 'unit', `${this.cfg.unit} is not a unit of root ${this.root}`, 'name a target the tree has, e.g. multi-user.target'));
    for (const p of this.cfg.units ?? []) {
      if (!p.includes('*') && !unitFileExists(this.root, p)) diags.push(diagnostic(this.subject, 'units', `${p} is not a unit of root ${this.root}`, 'correct the name (with its suffix) or remove it', 'warning'));
    }
    this.readTree();
    return diags;
  }

  /** The tree as it is now (units.ts readChoice); the enabled units are listed before systemd runs. */
  private readTree(): void {
    const c = this.cfg!;
    this.tree = this.unusable ? NO_CHOICE : readChoice(this.root, c);
    for (const name of [c.unit, ...this.tree.enabled]) if (this.visible(name)) this.units.record(name);
  }

  /** Roles by unit name (roles/known-services.ts), from the enabled units of the tree that run. */
  claims(): RoleClaim[] {
    return [...this.tree.claimed].map(([service, role]) => ({ role, service }));
  }

  /** What systemd never runs in a container, whatever the tree enables. */
  unholdable(): Readonly<Record<string, string>> {
    return {
      'time-sync': 'systemd skips systemd-timesyncd in a container (ConditionVirtualization=!container), and a time daemon needs the machine\'s clock',
      'device-manager': 'systemd-udevd needs a writable /sys, which a hosted systemd never gets',
    };
  }

  applyRoles(vetoed: ReadonlySet<string>): void {
    this.vetoed = new Set(vetoed);
  }

  /** Units given as systemd.mask= on the argv: the configuration's, and the vetoed services' (units.ts). */
  masks(): string[] {
    return [...new Set([...this.tree.masked, ...vetoMasks(this.root, this.vetoed)])].sort();
  }

  /** The exported /run directories: as configured, else dbus when this instance holds the message bus. */
  private exports(): string[] {
    if (this.cfg!.export) return this.cfg!.export;
    const holdsBus = [...this.tree.claimed].some(([service, role]) => role === 'message-bus' && !this.vetoed.has(service));
    return holdsBus ? ['dbus'] : [];
  }

  argv(): string[] {
    const masks = [...new Set([...this.masks(), ...etcWriters(this.root)])].sort();
    return ['/lib/systemd/systemd', `systemd.unit=${this.cfg!.unit}`, 'systemd.getty_auto=0', 'systemd.journald.forward_to_syslog=1', ...masks.map((m) => `systemd.mask=${m}`)];
  }

  plan(): InstancePlan {
    const masked = this.masks();
    const sysv = this.sysvPeer();
    const notes = [...(masked.length ? [`masked: ${masked.join(', ')}`] : []), ...(sysv ? [`/etc/init.d scripts left to ${sysv}: systemd-sysv-generator masked`] : [])];
    return { summary: `systemd boots ${this.cfg?.unit ?? 'multi-user.target'} and orders its units itself${notes.length ? ` (${notes.join('; ')})` : ''}` };
  }

  // ---------------------------------------------------------------- life cycle

  async start(): Promise<void> {
    if (!this.cfg || this.unusable) {
      this.ctx.emit({ type: 'message', level: 'error', text: `${this.instance}: unable to start instance: ${this.unusable ?? 'its configuration is invalid'} (fix: see metainit check)` });
      return;
    }
    this.sandbox = prepareSandbox(this.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    await this.life.launch();
  }

  // the life of the instance (launch, bus, restarts) is lifecycle.ts'; these are its inputs
  private lifeOptions(): LifeOptions {
    return {
      instance: this.instance,
      runDir: this.ctx.runDir,
      sys: this.ctx.sys,
      log: this.ctx.log,
      reaper: this.ctx.reaper,
      machine: this.ctx.mode === 'machine',
      emit: (ev) => this.ctx.emit(ev),
      config: () => this.cfg!,
      launch: () => {
        const devLog = hostPath(this.root, '/dev/log');
        // the logging holder is outside: journald's forwarding reaches the machine's /dev/log
        const binds = this.logOutside() && existsSync(devLog) ? [{ source: devLog, target: '/run/systemd/journal/syslog' }] : [];
        if (this.sysvPeer()) binds.push({ source: this.emptyFile(), target: SYSV_GENERATOR_MASK });
        return { root: this.root, argv: this.argv(), exports: this.exports(), binds };
      },
      prepare: () => this.awaitDevLog(),
      onSignal: (sig) => this.signal(sig),
      onConsole: (line) => {
        this.consoleLog.line(line);
        this.ctx.emit({ type: 'log', id: this.id('console'), stream: 'stdout', line, time: Date.now() });
      },
      onBus: (bus) => this.units.listUnits(bus),
      down: () => {
        this.units.allDead();
        this.jobs.cancelAll();
      },
      changed: () => this.units.refreshAll(),
      failedUnits: () => this.units.records().filter((r) => r.view.active === 'failed').map((r) => r.view.name),
    };
  }

  /**
   * The sysv instance of the configuration that runs this root's /etc/init.d scripts, if any. Then
   * systemd-sysv-generator, which turns each script without a unit of its own into a unit
   * (hello-sysv.service), would run them a second time: it is masked — an empty file over its name
   * in the container's own /run/systemd/system-generators, which beats /lib (nothing in the tree
   * is written). Without a sysv instance, systemd runs the scripts as Debian's systemd does.
   */
  private sysvPeer(): string | undefined {
    return this.ctx.peers?.find((p) => p.adapter === 'sysv' && resolve(p.root) === resolve(this.root))?.instance;
  }

  /** An empty file in the run directory (the source of masks bound into the container). */
  private emptyFile(): string {
    const f = join(this.ctx.runDir, 'empty');
    if (!existsSync(f)) writeFileSync(f, '', { mode: 0o444 });
    return f;
  }

  /** A logging claim of this tree is vetoed: another instance holds logging. */
  private logOutside(): boolean {
    return [...this.vetoed].some((s) => roleOfService(s) === 'logging');
  }

  /**
   * With logging held outside, /dev/log is bound into the container at launch, so it must exist
   * by then. `after: [role:logging]` starts this instance once the holder is ready, but a syslog
   * daemon counts as ready when it is spawned and makes its socket a moment later: wait for it,
   * at most DEV_LOG_WAIT_MS; without it systemd still starts, and journald keeps its lines.
   */
  private async awaitDevLog(): Promise<void> {
    if (!this.logOutside()) return;
    const devLog = hostPath(this.root, '/dev/log');
    const until = Date.now() + DEV_LOG_WAIT_MS;
    while (!existsSync(devLog) && Date.now() < until) await sleep(100);
    if (!existsSync(devLog)) {
      this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: unable to pass the machine's /dev/log to journald: ${devLog} does not exist after ${DEV_LOG_WAIT_MS / 1000} s (fix: give ${this.instance} after: [role:logging], and make the logging holder listen on /dev/log); systemd's logs stay in its journal` });
    }
  }

  async stop(deadline: number): Promise<void> {
    try {
      await this.life.stop(deadline);
    } finally {
      this.consoleLog.close();
      this.sandbox.release();
      this.sandbox = NO_SANDBOX;
    }
  }

  // ---------------------------------------------------------------- signals from systemd

  private signal(s: BusSignal): void {
    if (s.iface === MANAGER_IFACE) {
      const [a, b, , d] = s.body as [unknown, unknown, unknown, unknown];
      if (s.member === 'JobRemoved') this.jobs.removed(String(b), String(d));
      else if (s.member === 'UnitNew') this.units.unitNew(String(a), String(b));
      else if (s.member === 'UnitRemoved') this.units.unitRemoved(String(a), String(b));
      else if (s.member === 'StartupFinished') this.life.becameReady('');
      else if (s.member === 'JobNew' && SHUTDOWN_TARGETS.has(String((s.body as unknown[])[2]))) this.life.systemdStopping(); // (id, job, unit)
    } else if (s.member === 'PropertiesChanged' && s.iface === PROPS_IFACE) this.units.propertiesChanged(s.path, s.body);
  }

  // ---------------------------------------------------------------- state

  private observe(rec: UnitRecord): Observed {
    const name = rec.view.name;
    if (this.unusable) return { state: 'error', target: 'up', reason: this.unusable };
    if (this.vetoed.has(name)) return { state: 'stopped', target: 'down', reason: VETO_REASON };
    const wanted = name === this.cfg!.unit || this.tree.enabled.has(name);
    if (this.life.phase === 'backoff') return { state: wanted ? 'respawn' : 'stopped', target: wanted ? 'up' : 'down', reason: 'systemd is restarting' };
    if (this.life.phase === 'stopping') return { state: 'stopping', target: 'down', reason: 'systemd is stopping' };
    if (this.life.phase === 'down') return { state: 'stopped', target: 'down' };
    if (this.life.phase === 'booting' && !rec.view.path) return wanted ? { state: 'waiting', target: 'up', reason: 'systemd is booting' } : { state: 'stopped', target: 'down' };
    const obs = unitObservation(rec.view);
    if (name === this.cfg!.unit && this.life.phase === 'booting') return { state: 'starting', target: 'up', reason: `systemd is booting (${this.life.systemState})` };
    if (name === this.cfg!.unit && this.life.systemState === 'degraded') return { ...obs, reason: 'degraded: some units failed' };
    return obs;
  }

  list(): ServiceStatus[] {
    return this.units.list();
  }

  status(name: string): ServiceStatus | undefined {
    const rec = this.units.get(name);
    if (rec) return this.units.refresh(rec);
    if (!this.cfg || !UNIT_NAME.test(name) || !this.visible(name) || !unitFileExists(this.root, name)) return undefined;
    return this.units.refresh(this.units.record(name));
  }

  // ---------------------------------------------------------------- control

  private ready(name: string, verb: string): SystemdBus {
    if (!this.status(name)) throw new Error(`${this.id(name)}: unable to ${verb}: no such unit in root ${this.root} (fix: see metainit status --all)`);
    if (this.vetoed.has(name)) throw vetoError(this.id(name), verb);
    if (!this.life.bus) throw new Error(`${this.id(name)}: unable to ${verb}: systemd is not running (${this.life.phase}) (fix: wait for the instance; see metainit status and ${this.consoleLog.file})`);
    return this.life.bus;
  }

  /** Run a job method and wait for its JobRemoved; throws with the result in words unless done. */
  private async job(name: string, verb: string, member: string): Promise<void> {
    const bus = this.ready(name, verb);
    const [job] = (await bus.manager(member, 'ss', [name, 'replace']).catch((e: unknown) => {
      throw new Error(`${this.id(name)}: unable to ${verb}: ${(e as Error).message}`);
    })) as [string];
    const result = await this.jobs.wait(job, JOB_WAIT_MS);
    if (result === 'done') return;
    const rec = this.units.get(name);
    if (rec && unitKind(name) === 'service') await this.units.fetchService(rec);
    const own = rec && rec.view.result && rec.view.result !== 'success' ? `: ${unitObservation({ ...rec.view, active: 'failed' }).reason}` : '';
    throw new Error(`${this.id(name)}: unable to ${verb}: ${JOB_WORDS[result] ?? result}${own} (fix: metainit logs ${this.id(name)})`);
  }

  startService(name: string): Promise<void> {
    return this.job(name, 'start', 'StartUnit');
  }
  stopService(name: string): Promise<void> {
    return this.job(name, 'stop', 'StopUnit');
  }
  restartService(name: string): Promise<void> {
    return this.job(name, 'restart', 'RestartUnit');
  }

  async reloadService(name: string): Promise<Diagnostic[]> {
    await this.job(name, 'reload', 'ReloadUnit');
    return [];
  }

  /** The unit file changed: systemd re-reads every unit file (daemon-reload). */
  async applyService(name: string): Promise<Diagnostic[]> {
    const bus = this.ready(name, 'apply');
    await bus.manager('Reload');
    return [];
  }

  /** systemd's /dev/console (the pty metainit holds): `metainit console systemd` or `systemd/console` */
  console(name: string | undefined): ConsoleTap | undefined {
    return name === undefined || name === 'console' ? this.life.run?.tap : undefined;
  }

  async killService(name: string, sig: string, whom: KillWhom = 'all'): Promise<void> {
    const bus = this.ready(name, `send ${sig}`);
    const n = signalNumber(sig);
    if (n === undefined) throw new Error(`${this.id(name)}: unable to send ${sig}: not a signal (fix: e.g. SIGHUP)`);
    await bus.manager('KillUnit', 'ssi', [name, whom, n]).catch((e: unknown) => {
      throw new Error(`${this.id(name)}: unable to send ${sig}: ${(e as Error).message}`);
    });
  }

  /** The journal inside: journalctl in systemd's namespaces. */
  async logs(name: string, n: number): Promise<string[]> {
    const pid = this.life.run?.pid;
    if (pid === undefined) throw new Error(`${this.id(name)}: unable to read logs: systemd is not running (fix: start the instance; its journal is read inside)`);
    const args = ['-t', String(pid), '-p', '-m', '--', 'journalctl', '--no-pager', '-o', 'short-iso', '-n', String(Math.max(1, n)), '-u', name];
    return new Promise((resolve, reject) => {
      execFile('nsenter', args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err && !stdout) reject(new Error(`${this.id(name)}: unable to read logs: ${stderr.trim() || err.message}`));
        else resolve(stdout.split('\n').filter((l) => l && !l.startsWith('-- ')));
      });
    });
  }

  /** daemon-reload, then start the units newly enabled in the tree. */
  async sync(): Promise<Diagnostic[]> {
    if (!this.cfg || this.unusable) return [];
    const before = new Set(this.tree.enabled);
    this.readTree();
    const bus = this.life.bus;
    if (!bus) return [];
    await bus.manager('Reload');
    const added = [...this.tree.enabled].filter((u) => !before.has(u) && this.visible(u) && !this.vetoed.has(u));
    const diags: Diagnostic[] = [];
    for (const u of added) {
      await bus.manager('StartUnit', 'ss', [u, 'replace']).catch((e: unknown) => diags.push(diagnostic(this.subject, 'units', `${u}: ${(e as Error).message}`, `see metainit logs ${this.id(u)}`, 'warning')));
    }
    await this.units.listUnits(bus).catch(() => undefined);
    return diags;
  }

  // ---------------------------------------------------------------- re-exec

  snapshot(): { run: RunSnapshot } | null {
    const run = this.life.snapshot();
    return run ? { run } : null;
  }

  adopt(snapshot: unknown): void {
    const run = (snapshot as { run?: RunSnapshot } | null)?.run;
    if (run && Number.isInteger(run.pid) && Number.isInteger(run.outer) && typeof run.start === 'string' && run.cgroup) this.life.adopt(run);
  }
}

export const createSystemdAdapter: AdapterFactory = (ctx: AdapterContext) => new SystemdAdapter(ctx);
