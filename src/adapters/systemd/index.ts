/**
 * systemd adapter — hosts an unpatched systemd as PID 1 of namespaces of its own, next to the
 * other inits, and shows and drives its units as metainit services (`systemd/cron.service`).
 *
 * Instance file (adapters.d/NAME.yaml):
 *
 *   adapter: systemd
 *   root: /srv/debian            # the tree systemd runs from (default /: the machine's own)
 *   unit: multi-user.target      # what systemd boots to (systemd.unit= on its argv)
 *   units: [cron.service, 'tang*']   # optional allow-list: the units metainit shows and claims
 *   exclude: [ssh.service]       # never run (masked on systemd's argv) and never shown
 *   export: [dbus]               # /run directories shared with the machine (default [dbus]
 *                                # when this instance holds the message-bus role)
 *   on_poweroff: stop            # poweroff/halt typed inside: stop the instance | machine
 *   on_reboot: restart           # reboot typed inside: restart the instance | machine
 *   stop_timeout: 45s
 *   after: [role:logging]
 *
 * Pieces: ./process.ts launches and watches one run (container.ts, cgroup.ts, the notify
 * socket, the console pty); ./bus.ts is the D-Bus connection through systemd-stdio-bridge;
 * ./units.ts reads the tree offline (enabled units → role claims; masks); ./states.ts is the ONE
 * table from ActiveState × SubState to shared states. This file ties them together:
 *   - services are the units systemd has loaded (ListUnits), kept current by its signals
 *     (UnitNew, UnitRemoved, PropertiesChanged, JobRemoved) — no polling. Before the bus is up,
 *     the units enabled in the tree are listed as `waiting`, so `after: [systemd/x.service]`
 *     waits for the real readiness of x. A unit file that is not loaded is still addressable
 *     (`metainit start systemd/fails.service`) and shows `stopped`.
 *   - the instance is up once systemd sent READY=1 on the notify socket: its `unit` shows
 *     `starting` until then; SystemState `degraded` is reported with the failed units named;
 *   - control is D-Bus jobs (StartUnit, StopUnit, RestartUnit, ReloadUnit with mode `replace`;
 *     KillUnit) whose JobRemoved result maps onto ours: done → success, failed/timeout/
 *     dependency/canceled → the error says which, with the unit's own reason;
 *   - a death of systemd by SIGINT (poweroff/halt inside) or SIGHUP (reboot inside) is handled by
 *     on_poweroff / on_reboot; any other death is a crash: the instance restarts with backoff
 *     (1 s doubling to 60 s; 30 s up resets it).
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { signalNumber } from '../../base/signames.js';
import type { ServiceStatus } from '../../base/states.js';
import type { Diagnostic } from '../../base/types.js';
import { diagnostic, instanceSubject, validate, type Subject } from '../../config/errors.js';
import { Duration, InstanceBase } from '../../config/schema.js';
import { roleOfService } from '../../roles/known-services.js';
import { VETO_REASON, vetoError } from '../../roles/registry.js';
import { Backoff } from '../../supervisor/backoff.js';
import { hostPath } from '../../supervisor/rootfs.js';
import { NO_SANDBOX, prepareSandbox, type Sandbox } from '../../supervisor/sandbox.js';
import type { Adapter, AdapterContext, AdapterFactory, InstancePlan, RoleClaim } from '../adapter.js';
import { dict, MANAGER_IFACE, SystemdBus, type BusSignal } from './bus.js';
import { SystemdRun, type RunEnd, type RunSnapshot } from './process.js';
import { unitKind, unitObservation, type UnitView } from './states.js';
import { cronTwinTimers, enabledUnits, masksFor, unitFileExists, unitMatches } from './units.js';

const UNIT = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|target|path|mount|automount|swap|slice|scope|device)$/;
const PATTERN = /^[A-Za-z0-9:_.\\@*-]+$/;

export const SystemdInstance = InstanceBase.extend({
  adapter: z.literal('systemd'),
  unit: z.string().regex(UNIT, { message: 'unit must be a unit name with its suffix (fix: e.g. multi-user.target)' }).default('multi-user.target'),
  units: z.array(z.string().regex(PATTERN, { message: 'a unit name or pattern (fix: e.g. cron.service or "tang*")' })).optional(),
  exclude: z.array(z.string().regex(PATTERN, { message: 'a unit name or pattern (fix: e.g. ssh.service)' })).default([]),
  export: z.array(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, { message: 'a directory name under /run (fix: e.g. dbus)' })).optional(),
  on_poweroff: z.enum(['stop', 'machine']).default('stop'),
  on_reboot: z.enum(['restart', 'machine']).default('restart'),
  stop_timeout: Duration.default(45_000),
}).strict();
export type SystemdConfig = z.output<typeof SystemdInstance>;

const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
const JOB_WAIT_MS = 300_000;
const JOB_WORDS: Record<string, string> = {
  failed: 'the unit failed',
  timeout: 'the job timed out',
  dependency: 'a unit it requires failed',
  canceled: 'the job was canceled',
  skipped: 'the unit is not active',
  invalid: 'the job is not valid for this unit',
  unsupported: 'the unit type does not support this',
};

type Phase = 'down' | 'booting' | 'up' | 'stopping' | 'backoff';

interface UnitRecord {
  view: UnitView;
  status?: ServiceStatus;
  restarts: number;
}

export class SystemdAdapter implements Adapter {
  readonly kind = 'systemd';
  readonly instance: string;
  private cfg: SystemdConfig | undefined;
  private unusable: string | undefined;
  private readonly units = new Map<string, UnitRecord>();
  private readonly byPath = new Map<string, string>();
  private enabled: string[] = [];
  private vetoed: ReadonlySet<string> = new Set();
  private phase: Phase = 'down';
  private systemState = '';
  private run: SystemdRun | undefined;
  private bus: SystemdBus | undefined;
  private adopted: RunSnapshot | undefined;
  private sandbox: Sandbox = NO_SANDBOX;
  private readonly backoff = new Backoff({ initial: 1000, max: 60_000, factor: 2, reset_after: 30_000 });
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private readonly jobs = new Map<string, (result: string) => void>();
  private readonly jobResults = new Map<string, string>();

  constructor(private readonly ctx: AdapterContext) {
    this.instance = ctx.instance;
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
  private visible(name: string): boolean {
    const c = this.cfg;
    if (!c) return false;
    if (name === c.unit) return true;
    if (c.exclude.some((p) => unitMatches(p, name))) return false;
    return !c.units || c.units.some((p) => unitMatches(p, name));
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

  /** The units enabled in the tree, listed before systemd runs (and kept when it stops). */
  private readTree(): void {
    this.enabled = this.unusable ? [] : enabledUnits(this.root);
    for (const name of [this.cfg!.unit, ...this.enabled]) {
      if (!this.visible(name) || this.units.has(name)) continue;
      this.units.set(name, { view: { name, load: 'loaded', active: 'inactive', sub: 'dead' }, restarts: 0 });
    }
  }

  /** Roles by unit name (roles/known-services.ts), from the enabled units of the tree. */
  claims(): RoleClaim[] {
    if (this.unusable) return [];
    return this.enabled.filter((u) => u.endsWith('.service') && this.visible(u)).flatMap((service) => {
      const role = roleOfService(service);
      // systemd cannot run a time daemon or udevd in a container; claiming them would veto the real one
      return role && role !== 'time-sync' && role !== 'device-manager' ? [{ role, service }] : [];
    });
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

  /** Units given as systemd.mask= on the argv: excluded units, vetoed services (and their sockets, and cron's twin timers). */
  masks(): string[] {
    const c = this.cfg!;
    const out = new Set<string>();
    for (const p of c.exclude) if (!p.includes('*')) out.add(p);
    for (const s of this.vetoed) for (const m of masksFor(this.root, s)) out.add(m);
    if ([...this.vetoed].some((s) => roleOfService(s) === 'cron')) for (const t of cronTwinTimers(this.root)) out.add(t);
    return [...out].sort();
  }

  /** The exported /run directories: as configured, else dbus when this instance holds the message bus. */
  private exports(): string[] {
    if (this.cfg!.export) return this.cfg!.export;
    const holdsBus = this.enabled.some((u) => roleOfService(u) === 'message-bus' && !this.vetoed.has(u));
    return holdsBus ? ['dbus'] : [];
  }

  argv(): string[] {
    const c = this.cfg!;
    // the machine id metainit binds over an empty /etc/machine-id must not be committed to /etc
    const commit = this.machineIdEmpty() ? ['systemd.mask=systemd-machine-id-commit.service'] : [];
    return ['/lib/systemd/systemd', `systemd.unit=${c.unit}`, 'systemd.getty_auto=0', 'systemd.journald.forward_to_syslog=1', ...this.masks().map((m) => `systemd.mask=${m}`), ...commit];
  }

  private machineIdEmpty(): boolean {
    try {
      return statSync(hostPath(this.root, '/etc/machine-id')).size === 0;
    } catch {
      return false;
    }
  }

  plan(): InstancePlan {
    const masked = this.masks();
    return { summary: `systemd boots ${this.cfg?.unit ?? 'multi-user.target'} and orders its units itself${masked.length ? ` (masked: ${masked.join(', ')})` : ''}` };
  }

  // ---------------------------------------------------------------- life cycle

  async start(): Promise<void> {
    if (!this.cfg || this.unusable) {
      this.ctx.emit({ type: 'message', level: 'error', text: `${this.instance}: unable to start instance: ${this.unusable ?? 'its configuration is invalid'} (fix: see metainit check)` });
      return;
    }
    this.sandbox = prepareSandbox(this.root, this.ctx.sys, this.ctx.log, this.ctx.rootHooks);
    await this.launch();
  }

  private newRun(): SystemdRun {
    const journalSyslog = '/run/systemd/journal/syslog';
    const devLog = hostPath(this.root, '/dev/log');
    const logOutside = [...this.vetoed].some((s) => roleOfService(s) === 'logging');
    return new SystemdRun({
      instance: this.instance,
      root: this.root,
      argv: this.argv(),
      runDir: this.ctx.runDir,
      exports: this.exports(),
      // the logging holder is outside: journald's forwarding reaches the machine's /dev/log
      binds: logOutside && existsSync(devLog) ? [{ source: devLog, target: journalSyslog }] : [],
      sys: this.ctx.sys,
      log: this.ctx.log,
      reaper: this.ctx.reaper,
      onNotify: (fields) => this.notified(fields),
      onConsole: (line) => this.ctx.emit({ type: 'log', id: this.id('console'), stream: 'stdout', line, time: Date.now() }),
      onEnd: (end) => this.ended(end),
    });
  }

  private async launch(): Promise<void> {
    const run = this.newRun();
    this.run = run;
    this.phase = 'booting';
    this.systemState = 'starting';
    const snap = this.adopted;
    this.adopted = undefined;
    const why = snap ? run.adopt(snap) : 'nothing to adopt';
    if (snap && why) this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: unable to re-adopt systemd: ${why}; starting it anew` });
    try {
      if (!snap || why) await run.launch();
      this.ctx.log.info(`${this.instance}: systemd is pid ${run.pid}${snap && !why ? ' (re-adopted)' : ''}`);
    } catch (e) {
      this.ctx.emit({ type: 'message', level: 'error', text: `${this.instance}: unable to start systemd: ${(e as Error).message}` });
      this.ended({ how: 'crash', detail: (e as Error).message });
      return;
    }
    this.refreshAll();
    void this.connect(run, snap !== undefined && !why);
  }

  /** Open the bus once systemd's private socket exists; rebuild every unit with ListUnits. */
  private async connect(run: SystemdRun, adopted: boolean): Promise<void> {
    const pid = run.pid;
    if (pid === undefined) return;
    const sock = `/proc/${pid}/root/run/systemd/private`;
    for (let i = 0; i < 600 && this.run === run && run.pid === pid && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    if (this.run !== run || run.pid !== pid) return;
    const bus = new SystemdBus({
      pid,
      manage: (p, owned) => this.ctx.reaper.manage(p, owned),
      onSignal: (s) => this.signal(s),
      onClose: (why) => {
        if (this.bus !== bus) return;
        this.bus = undefined;
        if (this.run === run && run.pid !== undefined && this.phase !== 'stopping') {
          this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: systemd's bus bridge ended (${why}); connecting again` });
          setTimeout(() => void this.connect(run, false), 200).unref();
        }
      },
    });
    try {
      await bus.connect();
    } catch (e) {
      if (this.run === run && run.pid !== undefined && this.phase !== 'stopping') {
        this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: unable to connect to systemd's bus: ${(e as Error).message}; trying again` });
        setTimeout(() => void this.connect(run, false), 500).unref();
      }
      return;
    }
    this.bus = bus;
    await this.listUnits().catch((e: unknown) => this.ctx.log.warn(`${this.instance}: unable to list units: ${(e as Error).message}`));
    const state = String(await bus.get('/org/freedesktop/systemd1', MANAGER_IFACE, 'SystemState').catch(() => ''));
    if (this.phase === 'up') void this.readSystemState(state);
    else if (adopted || state === 'running' || state === 'degraded') this.becameReady(state);
  }

  private async listUnits(): Promise<void> {
    const [rows] = (await this.bus!.manager('ListUnits')) as [unknown[][]];
    const seen = new Set<string>();
    for (const r of rows ?? []) {
      const [name, , load, active, sub, , path] = r as string[];
      if (!name || !this.visible(name)) continue;
      seen.add(name);
      this.byPath.set(path!, name);
      const rec = this.record(name);
      Object.assign(rec.view, { load, active, sub, path });
    }
    for (const [name, rec] of this.units) if (!seen.has(name)) Object.assign(rec.view, { active: 'inactive', sub: 'dead' });
    await Promise.all([...this.units.values()].filter((r) => unitKind(r.view.name) === 'service' && r.view.path && r.view.active !== 'inactive').map((r) => this.fetchService(r)));
    this.refreshAll();
  }

  private async fetchService(rec: UnitRecord): Promise<void> {
    if (!this.bus || !rec.view.path) return;
    const p = await this.bus.getAll(rec.view.path, SERVICE_IFACE).catch(() => undefined);
    if (p) this.applyServiceProps(rec, p);
  }

  private applyServiceProps(rec: UnitRecord, p: Record<string, unknown>): void {
    if (typeof p.MainPID === 'number') rec.view.mainPid = p.MainPID;
    if (typeof p.Result === 'string') rec.view.result = p.Result;
    if (typeof p.ExecMainCode === 'number') rec.view.execCode = p.ExecMainCode;
    if (typeof p.ExecMainStatus === 'number') rec.view.execStatus = p.ExecMainStatus;
  }

  private record(name: string): UnitRecord {
    let rec = this.units.get(name);
    if (!rec) {
      rec = { view: { name, load: 'loaded', active: 'inactive', sub: 'dead' }, restarts: 0 };
      this.units.set(name, rec);
    }
    return rec;
  }

  private notified(fields: string[]): void {
    for (const f of fields) {
      if (f === 'READY=1') this.becameReady(''); // SystemState is read over the bus
      else if (f.startsWith('STATUS=')) this.ctx.log.info(`${this.instance}: systemd: ${f.slice(7)}`);
    }
  }

  private becameReady(state: string): void {
    if (this.phase !== 'booting') return;
    this.phase = 'up';
    this.refreshAll();
    void this.readSystemState(state);
  }

  /**
   * SystemState once booted: `running`, or `degraded` (logged with the failed units named). READY=1
   * is sent once the boot finished, so anything else read then counts as running. Read again after
   * every (re)connect of the bus, so a degraded state seen late is still reported.
   */
  private async readSystemState(given = ''): Promise<void> {
    const s = given || String((await this.bus?.get('/org/freedesktop/systemd1', MANAGER_IFACE, 'SystemState').catch(() => '')) ?? '');
    const next = s === 'degraded' ? 'degraded' : 'running';
    const first = this.systemState !== 'running' && this.systemState !== 'degraded';
    if (!first && next === this.systemState) return;
    this.systemState = next;
    if (first) this.ctx.log.info(`${this.instance}: systemd reached ${this.cfg!.unit} (${next})`);
    if (next === 'degraded') {
      const failed = [...this.units.values()].filter((r) => r.view.active === 'failed').map((r) => r.view.name);
      this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: systemd is degraded: failed units ${failed.join(', ') || '(none loaded any more)'}` });
    }
    this.refreshAll();
  }

  private ended(end: RunEnd): void {
    const run = this.run;
    this.run = undefined;
    this.bus?.end();
    this.bus = undefined;
    for (const rec of this.units.values()) Object.assign(rec.view, { active: 'inactive', sub: 'dead', mainPid: 0 });
    const c = this.cfg!;
    const wasStopping = this.phase === 'stopping';
    this.phase = 'down';
    if (end.how === 'stopped' || wasStopping) return this.refreshAll();
    if (end.how === 'poweroff' && c.on_poweroff === 'machine') {
      this.ctx.emit({ type: 'shutdown', kind: 'poweroff', why: `${this.instance}: ${end.detail}` });
      return this.refreshAll();
    }
    if (end.how === 'reboot' && c.on_reboot === 'machine') {
      this.ctx.emit({ type: 'shutdown', kind: 'reboot', why: `${this.instance}: ${end.detail}` });
      return this.refreshAll();
    }
    if (end.how === 'poweroff') {
      this.ctx.log.info(`${this.instance}: systemd stopped: ${end.detail} (on_poweroff: stop)`);
      return this.refreshAll();
    }
    if (end.how === 'reboot') {
      this.ctx.log.info(`${this.instance}: systemd restarts: ${end.detail} (on_reboot: restart)`);
      this.scheduleRestart(0);
      return;
    }
    const d = this.backoff.ran(run?.startedAt ?? Date.now(), Date.now());
    const delay = d.giveUp ? 60_000 : d.delay;
    this.restarts++;
    this.ctx.emit({ type: 'message', level: 'warning', text: `${this.instance}: systemd ${end.detail}; restarting it in ${delay} ms` });
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delay: number): void {
    this.phase = 'backoff';
    this.refreshAll();
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.phase === 'backoff') void this.launch();
    }, delay);
  }

  async stop(deadline: number): Promise<void> {
    clearTimeout(this.restartTimer);
    const run = this.run;
    this.phase = 'stopping';
    this.refreshAll();
    try {
      if (run) await run.stop(Math.min(deadline, Date.now() + (this.cfg?.stop_timeout ?? 45_000)));
    } finally {
      this.bus?.end();
      this.bus = undefined;
      this.run = undefined;
      this.phase = 'down';
      for (const rec of this.units.values()) Object.assign(rec.view, { active: 'inactive', sub: 'dead', mainPid: 0 });
      this.refreshAll();
      this.sandbox.release();
      this.sandbox = NO_SANDBOX;
    }
  }

  // ---------------------------------------------------------------- signals from systemd

  private signal(s: BusSignal): void {
    if (s.iface === MANAGER_IFACE) {
      if (s.member === 'JobRemoved') {
        const [, job, , result] = s.body as [number, string, string, string];
        const waiter = this.jobs.get(job);
        if (waiter) waiter(result);
        else {
          this.jobResults.set(job, result);
          if (this.jobResults.size > 200) this.jobResults.delete(this.jobResults.keys().next().value!);
        }
      } else if (s.member === 'UnitNew') {
        const [name, path] = s.body as [string, string];
        if (!this.visible(name)) return;
        this.byPath.set(path, name);
        const rec = this.record(name);
        // a freshly loaded unit is inactive until its PropertiesChanged say otherwise. Never ask
        // for its properties here: a Get on a unit that systemd unloads meanwhile loads it again
        // (UnitNew, GC, UnitRemoved, Get …) — a loop that kept systemd, dbus and PID 1 busy.
        Object.assign(rec.view, { path, load: 'loaded', active: 'inactive', sub: 'dead' });
        this.refresh(rec);
      } else if (s.member === 'UnitRemoved') {
        const [name, path] = s.body as [string, string];
        this.byPath.delete(path);
        const rec = this.units.get(name);
        if (!rec) return;
        // unloaded because nothing needs it: still a unit of the tree, just not loaded
        if (unitFileExists(this.root, name) || this.enabled.includes(name) || name === this.cfg!.unit) {
          Object.assign(rec.view, { active: 'inactive', sub: 'dead', path: undefined, mainPid: 0 });
          this.refresh(rec);
        } else {
          this.units.delete(name);
          if (rec.status) this.ctx.emit({ type: 'state', status: { ...rec.status, state: 'stopped', target: 'down', reason: 'unit removed', pid: undefined, since: Date.now() } });
        }
      } else if (s.member === 'StartupFinished') this.becameReady('');
      return;
    }
    if (s.member !== 'PropertiesChanged' || s.iface !== 'org.freedesktop.DBus.Properties') return;
    const name = this.byPath.get(s.path);
    const rec = name ? this.units.get(name) : undefined;
    if (!rec) return;
    const [iface, changed, invalidated] = s.body as [string, unknown, string[]];
    const props = dict(changed);
    if (iface === UNIT_IFACE) {
      this.applyUnitProps(rec, props);
      if ((invalidated ?? []).some((p) => p === 'ActiveState' || p === 'SubState')) void this.bus?.getAll(s.path, UNIT_IFACE).then((p) => this.applyUnitProps(rec, p), () => undefined);
    } else if (iface === SERVICE_IFACE) {
      this.applyServiceProps(rec, props);
      this.refresh(rec);
    }
  }

  private applyUnitProps(rec: UnitRecord, p: Record<string, unknown>): void {
    const v = rec.view;
    const was = v.active;
    if (typeof p.ActiveState === 'string') v.active = p.ActiveState;
    if (typeof p.SubState === 'string') v.sub = p.SubState;
    if (typeof p.LoadState === 'string') v.load = p.LoadState;
    if (v.active === 'activating' && v.sub === 'auto-restart' && was !== 'activating') rec.restarts++;
    if (v.active === 'failed' && unitKind(v.name) === 'service') void this.fetchService(rec).then(() => this.refresh(rec));
    this.refresh(rec);
  }

  // ---------------------------------------------------------------- state

  private observe(rec: UnitRecord): Pick<ServiceStatus, 'state' | 'target'> & { reason?: string } {
    const name = rec.view.name;
    if (this.unusable) return { state: 'error', target: 'up', reason: this.unusable };
    if (this.vetoed.has(name)) return { state: 'stopped', target: 'down', reason: VETO_REASON };
    const wanted = name === this.cfg!.unit || this.enabled.includes(name);
    if (this.phase === 'backoff') return { state: wanted ? 'respawn' : 'stopped', target: wanted ? 'up' : 'down', reason: 'systemd is restarting' };
    if (this.phase === 'stopping') return { state: 'stopping', target: 'down', reason: 'systemd is stopping' };
    if (this.phase === 'down') return { state: 'stopped', target: 'down' };
    if (this.phase === 'booting' && !rec.view.path) return wanted ? { state: 'waiting', target: 'up', reason: 'systemd is booting' } : { state: 'stopped', target: 'down' };
    const obs = unitObservation(rec.view);
    if (name === this.cfg!.unit && this.phase === 'booting') return { state: 'starting', target: 'up', reason: `systemd is booting (${this.systemState})` };
    if (name === this.cfg!.unit && this.systemState === 'degraded') return { ...obs, reason: 'degraded: some units failed' };
    return obs;
  }

  private refresh(rec: UnitRecord): ServiceStatus {
    const obs = this.observe(rec);
    const prev = rec.status;
    const pid = rec.view.mainPid && rec.view.mainPid > 0 && this.phase !== 'down' ? this.hostPid(rec.view.mainPid) : undefined;
    if (prev && prev.state === obs.state && prev.target === obs.target && prev.reason === obs.reason && prev.pid === pid && prev.restarts === rec.restarts) return prev;
    const kind = unitKind(rec.view.name);
    rec.status = {
      id: this.id(rec.view.name),
      instance: this.instance,
      name: rec.view.name,
      adapter: this.kind,
      state: obs.state,
      target: obs.target,
      ...(obs.reason !== undefined ? { reason: obs.reason } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(rec.view.execCode && rec.view.execCode > 1 && rec.view.execStatus ? { lastExit: { code: null, signal: `SIG${rec.view.execStatus}` } } : rec.view.execCode === 1 ? { lastExit: { code: rec.view.execStatus ?? 0, signal: null } } : {}),
      since: prev?.state === obs.state ? prev.since : Date.now(),
      restarts: rec.restarts,
      oneshot: obs.state === 'ok',
      kind,
      after: [],
    };
    this.ctx.emit({ type: 'state', status: rec.status });
    return rec.status;
  }

  /** MainPID is a pid of systemd's namespace: shown as the host pid (process.ts hostPidOf). */
  private hostPid(nsPid: number): number | undefined {
    return this.run?.hostPidOf(nsPid);
  }

  private refreshAll(): void {
    for (const rec of this.units.values()) this.refresh(rec);
  }

  list(): ServiceStatus[] {
    return [...this.units.keys()].sort().map((n) => this.refresh(this.units.get(n)!));
  }

  status(name: string): ServiceStatus | undefined {
    const rec = this.units.get(name);
    if (rec) return this.refresh(rec);
    if (!this.cfg || !UNIT.test(name) || !this.visible(name) || !unitFileExists(this.root, name)) return undefined;
    return this.refresh(this.record(name));
  }

  // ---------------------------------------------------------------- control

  private ready(name: string, verb: string): SystemdBus {
    if (!this.status(name)) throw new Error(`${this.id(name)}: unable to ${verb}: no such unit in root ${this.root} (fix: see metainit status --all)`);
    if (this.vetoed.has(name)) throw vetoError(this.id(name), verb);
    if (!this.bus) throw new Error(`${this.id(name)}: unable to ${verb}: systemd is not running (${this.phase}) (fix: wait for the instance, or see metainit logs ${this.instance}/console)`);
    return this.bus;
  }

  /** Run a job method and wait for its JobRemoved; throws with the result in words unless done. */
  private async job(name: string, verb: string, member: string, extra: unknown[] = []): Promise<void> {
    const bus = this.ready(name, verb);
    const [job] = (await bus.manager(member, 'ss', [name, 'replace', ...extra]).catch((e: unknown) => {
      throw new Error(`${this.id(name)}: unable to ${verb}: ${(e as Error).message}`);
    })) as [string];
    const result = this.jobResults.get(job) ?? (await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('still running'), JOB_WAIT_MS);
      this.jobs.set(job, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    }));
    this.jobs.delete(job);
    this.jobResults.delete(job);
    if (result === 'done') return;
    const rec = this.units.get(name);
    if (rec && unitKind(name) === 'service') await this.fetchService(rec);
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

  async killService(name: string, sig: string): Promise<void> {
    const bus = this.ready(name, `send ${sig}`);
    const n = signalNumber(sig);
    if (n === undefined) throw new Error(`${this.id(name)}: unable to send ${sig}: not a signal (fix: e.g. SIGHUP)`);
    await bus.manager('KillUnit', 'ssi', [name, 'all', n]).catch((e: unknown) => {
      throw new Error(`${this.id(name)}: unable to send ${sig}: ${(e as Error).message}`);
    });
  }

  /** The journal inside: journalctl in systemd's namespaces. */
  async logs(name: string, n: number): Promise<string[]> {
    const pid = this.run?.pid;
    if (pid === undefined) throw new Error(`${this.id(name)}: unable to read logs: systemd is not running (fix: start the instance; its journal is read inside)`);
    const args = ['-t', String(pid), '-p', '-m', '--', 'journalctl', '--no-pager', '-o', 'short-iso', '-n', String(Math.max(1, n)), ...(name === 'console' ? [] : ['-u', name])];
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
    const before = new Set(this.enabled);
    this.readTree();
    if (!this.bus) return [];
    await this.bus.manager('Reload');
    const added = this.enabled.filter((u) => !before.has(u) && this.visible(u) && !this.vetoed.has(u));
    const diags: Diagnostic[] = [];
    for (const u of added) {
      await this.bus.manager('StartUnit', 'ss', [u, 'replace']).catch((e: unknown) => diags.push(diagnostic(this.subject, 'units', `${u}: ${(e as Error).message}`, `see metainit logs ${this.id(u)}`, 'warning')));
    }
    await this.listUnits().catch(() => undefined);
    return diags;
  }

  // ---------------------------------------------------------------- re-exec

  snapshot(): { run: RunSnapshot } | null {
    const run = this.run?.snapshot();
    return run ? { run } : null;
  }

  adopt(snapshot: unknown): void {
    const run = (snapshot as { run?: RunSnapshot } | null)?.run;
    if (run && Number.isInteger(run.pid) && Number.isInteger(run.outer) && typeof run.start === 'string' && run.cgroup) this.adopted = run;
  }
}

export const createSystemdAdapter: AdapterFactory = (ctx: AdapterContext) => new SystemdAdapter(ctx);
