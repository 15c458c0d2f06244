/**
 * notify.ts — what a native service says over sd_notify, beyond READY=1 (readiness.ts).
 *
 * The assignments systemd's sd_notify(3) defines and what they do here:
 *   STATUS=text          the service's status text (shown as the reason while up)
 *   MAINPID=N            the main process is N from now on: a forking daemon whose first process
 *                        exits 0 after handing over is supervised through N (stopped, restarted,
 *                        its exit is the service's) — service.ts
 *   RELOADING=1          reloading: shown until the next READY=1
 *   STOPPING=1           stopping on its own: shown until it exits
 *   WATCHDOG=1           a keep-alive ping; without one for the `watchdog:` interval (given to the
 *                        service as WATCHDOG_USEC) the main process gets SIGABRT, as under systemd,
 *                        and the exit is a failure for `restart:`
 *   WATCHDOG=trigger     fail now, the same way
 *   WATCHDOG_USEC=N      a new watchdog interval, from the service itself
 * EXTEND_TIMEOUT_USEC is the readiness timeout's (readiness.ts). Unknown assignments are ignored.
 * Who may say it: `owns` — the service's main process, its process group or session (the run is
 * started as a session leader), or a descendant of those. A sender outside metainit's PID
 * namespace (pid 0) never; one already gone when its message is read (systemd-notify exits at
 * once after sending) cannot be checked and is taken as the service's.
 */
import { rateLimited } from '../../base/rate-limit.js';
import type { ServiceState } from '../../base/states.js';
import { readProc } from '../../supervisor/proctree.js';

export interface NotifyHooks {
  status(text: string): void;
  mainPid(pid: number): void;
  reloading(): void;
  ready(): void;
  stopping(): void;
  watchdogPing(): void;
  watchdogTrigger(): void;
  watchdogInterval(ms: number): void;
}

/** Apply the assignments of one message in order. */
export function applyNotify(fields: ReadonlyArray<readonly [string, string]>, hooks: NotifyHooks): void {
  for (const [k, v] of fields) {
    if (k === 'STATUS') hooks.status(v);
    else if (k === 'MAINPID' && /^[1-9]\d*$/.test(v)) hooks.mainPid(Number(v));
    else if (k === 'RELOADING' && v === '1') hooks.reloading();
    else if (k === 'READY' && v === '1') hooks.ready();
    else if (k === 'STOPPING' && v === '1') hooks.stopping();
    else if (k === 'WATCHDOG' && v === '1') hooks.watchdogPing();
    else if (k === 'WATCHDOG' && v === 'trigger') hooks.watchdogTrigger();
    else if (k === 'WATCHDOG_USEC' && /^[1-9]\d*$/.test(v)) hooks.watchdogInterval(Math.ceil(Number(v) / 1000));
  }
}

/** Is `pid` one of `roots`, in their process group or session, or below them (≤ 64 parents up)? */
export function ownsPid(pid: number, roots: readonly number[]): boolean {
  if (pid <= 0 || roots.length === 0) return false;
  if (roots.includes(pid)) return true;
  let p = readProc(pid);
  // gone (or a zombie) by the time its message is read — systemd-notify exits at once: it
  // cannot be checked any more, and is taken as the service's
  if (!p) return true;
  if (roots.includes(p.pgrp) || roots.includes(p.sid)) return true;
  for (let i = 0; i < 64 && p && p.ppid > 1; i++) {
    if (roots.includes(p.ppid)) return true;
    p = readProc(p.ppid);
  }
  return false;
}

/** The watchdog of one run: `onTimeout` unless ping() comes within the interval. */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private ms = 0;

  constructor(private readonly onTimeout: (ms: number) => void) {}

  /** (re)arm with `ms` (0: off) */
  start(ms: number): void {
    this.ms = ms;
    this.ping();
  }

  ping(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ms > 0) this.timer = setTimeout(() => this.onTimeout(this.ms), this.ms);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ms = 0;
  }
}

/** What ServiceNotify needs of its service (service.ts). */
export interface NotifySubject {
  readonly id: string;
  state(): ServiceState;
  reason(): string | undefined;
  set(state: ServiceState, reason: string | undefined): void;
  /** the current run's pid */
  runPid(): number | undefined;
  /** SIGABRT to the main process (the watchdog fired) */
  abort(pid: number): void;
  warn(line: string): void;
}

/** One service's sd_notify state: status text, main pid, watchdog, and who may speak. */
export class ServiceNotify {
  /** STATUS= text, shown as the reason while starting/running */
  statusText: string | undefined;
  private mainPid: number | undefined;
  private fired: string | undefined;
  private readonly watchdog = new Watchdog((ms) => this.expired(`no WATCHDOG=1 for ${ms}ms`));
  private readonly foreign: { note(line: string): void };
  private readonly hooks: NotifyHooks;

  constructor(private readonly s: NotifySubject) {
    this.foreign = rateLimited((line) => s.warn(line));
    this.hooks = {
      status: (text) => {
        this.statusText = text;
        const st = s.state();
        if (st === 'starting' || st === 'running') s.set(st, text);
      },
      mainPid: (pid) => {
        if (pid !== s.runPid() && readProc(pid)) this.mainPid = pid;
      },
      reloading: () => s.state() === 'running' && s.set('running', 'reloading (RELOADING=1)'),
      ready: () => s.state() === 'running' && s.reason()?.startsWith('reloading') && s.set('running', this.statusText),
      stopping: () => (s.state() === 'running' || s.state() === 'starting') && s.set(s.state(), 'stopping on its own (STOPPING=1)'),
      watchdogPing: () => this.watchdog.ping(),
      watchdogTrigger: () => this.expired('WATCHDOG=trigger'),
      watchdogInterval: (ms) => this.watchdog.start(ms),
    };
  }

  /** may `pid` notify for this service? */
  owns(pid: number): boolean {
    return ownsPid(pid, [this.s.runPid(), this.mainPid].filter((p): p is number => p !== undefined));
  }

  onMessage(fields: ReadonlyArray<readonly [string, string]>): void {
    applyNotify(fields, this.hooks);
  }

  onForeign(pid: number): void {
    this.foreign.note(`${this.s.id}: sd_notify message from pid ${pid} ignored: not a process of this service (fix: send it from the service's main process or its children)`);
  }

  /** the run became ready: its watchdog runs (0: none) */
  armWatchdog(ms: number): void {
    if (ms > 0) this.watchdog.start(ms);
  }

  /** a new run: no status text yet */
  newRun(): void {
    this.statusText = undefined;
  }

  /** the run ended: why the watchdog killed it, if it did; the main pid and watchdog are reset */
  runEnded(): string | undefined {
    const fired = this.fired;
    this.fired = undefined;
    this.mainPid = undefined;
    this.watchdog.stop();
    return fired;
  }

  /** MAINPID= named another live process than the run's: take it (once) */
  takeMainPid(): number | undefined {
    const main = this.mainPid;
    if (main === undefined || main === this.s.runPid() || !readProc(main)) return undefined;
    this.mainPid = undefined;
    return main;
  }

  /** the watchdog fired: SIGABRT to the main process, as systemd does; its exit is a failure */
  private expired(why: string): void {
    const pid = this.s.runPid();
    if (pid === undefined || this.s.state() !== 'running') return;
    this.fired = `watchdog timeout (${why})`;
    this.watchdog.stop();
    this.s.abort(pid);
  }
}
