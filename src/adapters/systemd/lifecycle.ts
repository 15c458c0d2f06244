/**
 * lifecycle.ts — one systemd instance's life: launched, booting, up, restarting, stopping, down.
 *
 * A run (process.ts) is launched or, after a re-exec of metainit, re-adopted; once systemd's
 * private socket exists the bus (bus.ts) is opened and `onBus` rebuilds the units; READY=1 on
 * the notify socket (or StartupFinished) makes the instance `up`, and SystemState says whether
 * it is running or degraded. When the run ends:
 *   - poweroff/halt inside (SIGINT): `on_poweroff: stop` leaves the instance down, `machine`
 *     asks PID 1 for a poweroff (a `shutdown` event);
 *   - reboot inside (SIGHUP): `on_reboot: restart` launches it again at once, `machine` asks
 *     PID 1 for a reboot;
 *   - anything else is a crash: a new launch after 1 s, doubling to 60 s, reset after 30 s up.
 * The bus is reconnected whenever it ends while systemd runs. Nothing here knows about units:
 * the adapter (index.ts) gets `onSignal`, `onBus`, `down` and `changed`.
 */
import { existsSync } from 'node:fs';
import type { Sys } from '../../base/sys.js';
import type { Logger } from '../../base/types.js';
import { Backoff } from '../../supervisor/backoff.js';
import type { ChildWatch } from '../../supervisor/reaper.js';
import type { AdapterEvent } from '../adapter.js';
import { MANAGER_IFACE, MANAGER_PATH, SystemdBus, type BusSignal } from './bus.js';
import { SystemdRun, type RunEnd, type RunOptions, type RunSnapshot } from './process.js';

export type Phase = 'down' | 'booting' | 'up' | 'stopping' | 'backoff';

export interface LifeOptions {
  instance: string;
  runDir: string;
  sys: Sys;
  log: Logger;
  reaper: ChildWatch;
  machine: boolean;
  emit(ev: AdapterEvent): void;
  config(): { unit: string; on_poweroff: 'stop' | 'machine'; on_reboot: 'restart' | 'machine'; stop_timeout: number };
  /** what to launch: root, argv, exported /run directories, binds (read at every launch) */
  launch(): Pick<RunOptions, 'root' | 'argv' | 'exports' | 'binds'>;
  /** waited for before a fresh launch (not a re-adoption): what the launch binds must exist */
  prepare(): Promise<void>;
  onSignal(s: BusSignal): void;
  /** a line systemd printed on its /dev/console */
  onConsole(line: string): void;
  /** a bus is (re)connected: rebuild the units */
  onBus(bus: SystemdBus): Promise<void>;
  /** systemd is gone: every unit dead, every job over */
  down(): void;
  /** the phase or the system state changed: states should be refreshed */
  changed(): void;
  failedUnits(): string[];
}

export class SystemdLife {
  phase: Phase = 'down';
  systemState = '';
  run: SystemdRun | undefined;
  bus: SystemdBus | undefined;
  private adopted: RunSnapshot | undefined;
  private readonly backoff = new Backoff({ initial: 1000, max: 60_000, factor: 2, reset_after: 30_000 });
  private restartTimer: NodeJS.Timeout | undefined;
  /** systemd is shutting down inside (STOPPING=1, or a job for a shutdown target): no new bridge */
  private stoppingInside = false;
  /** bus connection attempts since the last success, for the reconnect backoff */
  private failedConnects = 0;

  constructor(private readonly o: LifeOptions) {}

  private newRun(): SystemdRun {
    return new SystemdRun({
      ...this.o.launch(),
      instance: this.o.instance,
      runDir: this.o.runDir,
      sys: this.o.sys,
      log: this.o.log,
      reaper: this.o.reaper,
      machine: this.o.machine,
      onNotify: (fields) => this.notified(fields),
      onConsole: (line) => this.o.onConsole(line),
      onEnd: (end) => this.ended(end),
    });
  }

  /** Launch systemd (or take over the adopted run); readiness and the bus follow. */
  async launch(): Promise<void> {
    this.stoppingInside = false;
    this.failedConnects = 0;
    this.phase = 'booting';
    this.systemState = 'starting';
    if (!this.adopted) {
      await this.o.prepare();
      if (this.phase !== 'booting') return; // stopped while it waited
    }
    const run = this.newRun();
    this.run = run;
    const snap = this.adopted;
    this.adopted = undefined;
    const why = snap ? run.adopt(snap) : 'nothing to adopt';
    if (snap && why) this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: unable to re-adopt systemd: ${why}; starting it anew` });
    try {
      if (!snap || why) await run.launch();
      this.o.log.info(`${this.o.instance}: systemd is pid ${run.pid}${snap && !why ? ' (re-adopted)' : ''}`);
    } catch (e) {
      this.o.emit({ type: 'message', level: 'error', text: `${this.o.instance}: unable to start systemd: ${(e as Error).message}` });
      this.ended({ how: 'crash', detail: (e as Error).message });
      return;
    }
    this.o.changed();
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
      manage: (p, owned) => this.o.reaper.manage(p, owned),
      onSignal: (s) => this.o.onSignal(s),
      onClose: (why) => {
        if (this.bus !== bus) return;
        this.bus = undefined;
        if (this.reconnecting(run)) {
          this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: systemd's bus bridge ended (${why}); connecting again` });
          setTimeout(() => void this.connect(run, false), 200).unref();
        }
      },
    });
    try {
      await bus.connect();
    } catch (e) {
      if (this.reconnecting(run)) {
        // a bridge is a process in systemd's namespaces: never a storm of them
        const delay = Math.min(500 * 2 ** this.failedConnects++, 10_000);
        this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: unable to connect to systemd's bus: ${(e as Error).message}; trying again in ${delay} ms` });
        setTimeout(() => void this.connect(run, false), delay).unref();
      }
      return;
    }
    this.failedConnects = 0;
    this.bus = bus;
    await this.o.onBus(bus).catch((e: unknown) => this.o.log.warn(`${this.o.instance}: unable to list units: ${(e as Error).message}`));
    const state = String(await bus.get(MANAGER_PATH, MANAGER_IFACE, 'SystemState').catch(() => ''));
    if (this.phase === 'up') void this.readSystemState(state);
    else if (adopted || state === 'running' || state === 'degraded') this.becameReady(state);
  }

  /** Should a lost bus be connected again? Not while systemd shuts down: a new bridge would be one more process its shutdown must kill. */
  private reconnecting(run: SystemdRun): boolean {
    return this.run === run && run.pid !== undefined && this.phase !== 'stopping' && !this.stoppingInside;
  }

  /** systemd began to shut down inside (STOPPING=1, or a job for a shutdown target seen on the bus). */
  systemdStopping(): void {
    if (this.stoppingInside || this.phase === 'stopping') return;
    this.stoppingInside = true;
    this.o.log.info(`${this.o.instance}: systemd is shutting down inside; its bus is not connected again`);
  }

  private notified(fields: string[]): void {
    for (const f of fields) {
      if (f === 'STOPPING=1') this.systemdStopping();
      if (f === 'READY=1') this.becameReady(''); // SystemState is read over the bus
      else if (f.startsWith('STATUS=')) this.o.log.info(`${this.o.instance}: systemd: ${f.slice(7)}`);
    }
  }

  /** READY=1 (or StartupFinished): the boot is over. */
  becameReady(state: string): void {
    if (this.phase !== 'booting') return;
    this.phase = 'up';
    this.o.changed();
    void this.readSystemState(state);
  }

  /**
   * SystemState once booted: `running`, or `degraded` (logged with the failed units named). READY=1
   * is sent once the boot finished, so anything else read then counts as running. Read again after
   * every (re)connect of the bus, so a degraded state seen late is still reported.
   */
  private async readSystemState(given = ''): Promise<void> {
    const s = given || String((await this.bus?.get(MANAGER_PATH, MANAGER_IFACE, 'SystemState').catch(() => '')) ?? '');
    const next = s === 'degraded' ? 'degraded' : 'running';
    const first = this.systemState !== 'running' && this.systemState !== 'degraded';
    if (!first && next === this.systemState) return;
    this.systemState = next;
    if (first) this.o.log.info(`${this.o.instance}: systemd reached ${this.o.config().unit} (${next})`);
    if (next === 'degraded') {
      const failed = this.o.failedUnits();
      this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: systemd is degraded: failed units ${failed.join(', ') || '(none loaded any more)'}` });
    }
    this.o.changed();
  }

  private ended(end: RunEnd): void {
    const run = this.run;
    this.run = undefined;
    this.bus?.end();
    this.bus = undefined;
    this.o.down();
    const c = this.o.config();
    const wasStopping = this.phase === 'stopping';
    this.phase = 'down';
    if (end.how === 'stopped' || wasStopping) return this.o.changed();
    if (end.how === 'poweroff' && c.on_poweroff === 'machine') {
      this.o.emit({ type: 'shutdown', kind: 'poweroff', why: `${this.o.instance}: ${end.detail}` });
      return this.o.changed();
    }
    if (end.how === 'reboot' && c.on_reboot === 'machine') {
      this.o.emit({ type: 'shutdown', kind: 'reboot', why: `${this.o.instance}: ${end.detail}` });
      return this.o.changed();
    }
    if (end.how === 'poweroff') {
      this.o.log.info(`${this.o.instance}: systemd stopped: ${end.detail} (on_poweroff: stop)`);
      return this.o.changed();
    }
    if (end.how === 'reboot') {
      this.o.log.info(`${this.o.instance}: systemd restarts: ${end.detail} (on_reboot: restart)`);
      this.scheduleRestart(0);
      return;
    }
    const d = this.backoff.ran(run?.startedAt ?? Date.now(), Date.now());
    const delay = d.giveUp ? 60_000 : d.delay;
    this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: systemd ${end.detail}; restarting it in ${delay} ms` });
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delay: number): void {
    this.phase = 'backoff';
    this.o.changed();
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.phase === 'backoff') void this.launch();
    }, delay);
  }

  /** Stop systemd (SIGRTMIN+4, cgroup.kill at the deadline or stop_timeout) and forget the run. */
  async stop(deadline: number): Promise<void> {
    clearTimeout(this.restartTimer);
    const run = this.run;
    this.phase = 'stopping';
    this.o.changed();
    try {
      if (run) await run.stop(Math.min(deadline, Date.now() + (this.o.config().stop_timeout)));
    } finally {
      this.bus?.end();
      this.bus = undefined;
      this.run = undefined;
      this.phase = 'down';
      this.o.down();
      this.o.changed();
    }
  }

  snapshot(): RunSnapshot | undefined {
    return this.run?.snapshot();
  }

  /** Remember a run to take over at the next launch (checked then: pid, start time, cgroup). */
  adopt(snap: RunSnapshot): void {
    this.adopted = snap;
  }
}
