/**
 * reaper.ts — the orphan reaper: collect the exit status of every child nobody else waits for,
 * without ever stealing one that libuv or node-pty waits for.
 *
 * As PID 1 (or a subreaper) we inherit every orphan; Node does not reap them, so they would stay
 * zombies. `waitpid(-1)` is not an option: libuv waits for each `child_process` child by its
 * exact pid and emits no 'exit' if the status is gone, and node-pty's thread does the same for
 * its children. So the model (research/node-as-pid1.md §2d) is:
 *
 *   - a registry of *managed* pids, each with a predicate "is its owner still waiting for it?".
 *     Every `child_process` child is registered by patching ChildProcess.prototype.spawn (owned
 *     while its libuv handle exists); node-pty children are registered by whoever spawns them,
 *     with manage(pid, () => !exited). A pid whose predicate turns false is forgotten.
 *   - *watched* pids: children that are ours but nobody's in this image (the services re-adopted
 *     after a re-exec). Their status goes to the watcher's callback instead of 'orphan'.
 *   - sweep(): peek at the oldest zombie without reaping it (waitid WNOWAIT); if unmanaged,
 *     waitpid that exact pid and peek again; if managed, its owner will reap it, but it hides
 *     the zombies behind it, so fall back to scanning /proc/self/task/<tid>/children and waitpid
 *     every unmanaged child (a running one just returns "still running").
 *   - wake-ups: SIGCHLD (coalesced to one sweep per loop turn, run after libuv had its chance
 *     to reap its own children) plus an unref'd safety sweep every 2 s.
 *
 * Reaped orphans are reported as 'orphan' events (double-forked daemons are worth a log line);
 * the last few are remembered, so a watch() that comes late still gets its child's status.
 */
import { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import type { Sys, WaitResult } from '../base/sys.js';

export interface ReaperOptions {
  /** pids of our direct children, every thread's (default: read /proc/self/task/<tid>/children) */
  listChildren?: () => number[];
  /** period of the safety sweep in ms (default 2000); 0 disables it */
  safetyIntervalMs?: number;
}

export interface ReaperStats {
  /** exit statuses collected by the reaper (orphans + watched children) */
  reaped: number;
  /** of which orphans, reported as 'orphan' events */
  orphans: number;
  /** of which watched (re-adopted) children, reported to their watcher */
  adopted: number;
  sweeps: number;
  /** sweeps that had to fall back to scanning the children lists */
  scans: number;
  /** pids currently managed by libuv / node-pty, and currently watched */
  managed: number;
  watched: number;
}

type Events = { orphan: [result: WaitResult] };

/** Reaps per sweep before yielding to the event loop, so a burst of thousands never stalls PID 1. */
const SWEEP_BUDGET = 256;

/** How many recently reaped orphans are remembered for a late watch(). */
const RECENT = 256;

/** Our direct children, from every thread's children list (orphans of a dying thread go to a sibling). */
export function childrenOfSelf(): number[] {
  const pids = new Set<number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const p of readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ')) if (p) pids.add(Number(p));
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return [...pids];
}

/** What an adapter may ask of the reaper: leave a pid to its owner, or tell when a pid ends. */
export type ChildWatch = Pick<Reaper, 'manage' | 'watch'>;

/** For offline analysis and unit tests: leaves every pid alone, watches none. */
export const NO_CHILD_WATCH: ChildWatch = { manage: () => undefined, watch: () => false };

export class Reaper extends EventEmitter<Events> {
  private readonly managed = new Map<number, () => boolean>();
  private readonly watchers = new Map<number, (r: WaitResult) => void>();
  private readonly recent = new Map<number, WaitResult>();
  private readonly listChildren: () => number[];
  private readonly safetyIntervalMs: number;
  private readonly counts = { reaped: 0, orphans: 0, adopted: 0, sweeps: 0, scans: 0 };
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private pending = false;
  private readonly onSigchld = (): void => {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.sweep();
    });
  };

  constructor(
    private readonly sys: Sys,
    opts: ReaperOptions = {},
  ) {
    super();
    this.listChildren = opts.listChildren ?? childrenOfSelf;
    this.safetyIntervalMs = opts.safetyIntervalMs ?? 2000;
  }

  /** Start reacting to SIGCHLD and the safety sweep, and sweep once now. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    process.on('SIGCHLD', this.onSigchld);
    if (this.safetyIntervalMs > 0) this.timer = setInterval(() => this.sweep(), this.safetyIntervalMs).unref();
    this.sweep();
    return this;
  }

  stop(): void {
    this.started = false;
    process.off('SIGCHLD', this.onSigchld);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Leave `pid` to its owner while `stillOwned()` is true (node-pty children, other forkers). */
  manage(pid: number, stillOwned: () => boolean): void {
    this.managed.set(pid, stillOwned);
  }

  /** Forget a managed pid; when `stillOwned` is given, only if it is still that pid's predicate. */
  unmanage(pid: number, stillOwned?: () => boolean): void {
    if (stillOwned === undefined || this.managed.get(pid) === stillOwned) this.managed.delete(pid);
  }

  /** Is `pid` waited for by its owner right now? (Forgets it when the owner is done.) */
  isManaged(pid: number): boolean {
    const stillOwned = this.managed.get(pid);
    if (stillOwned === undefined) return false;
    if (stillOwned()) return true;
    this.managed.delete(pid);
    return false;
  }

  /**
   * Report the exit of `pid`, a child of ours that nobody in this image waits for (re-adopted
   * after a re-exec), to `cb` instead of the 'orphan' event. If it was already reaped as an
   * orphan a moment ago, or has already exited, `cb` runs on the next tick. Returns false when
   * `pid` is not our child (gone before we could see its status): `cb` is then never called.
   */
  watch(pid: number, cb: (r: WaitResult) => void): boolean {
    const earlier = this.recent.get(pid);
    if (earlier) {
      this.recent.delete(pid);
      setImmediate(() => cb(earlier));
      return true;
    }
    this.watchers.set(pid, cb);
    try {
      const r = this.sys.waitpid(pid);
      if (r) setImmediate(() => this.deliver(r));
      return true;
    } catch (e) {
      this.watchers.delete(pid);
      if ((e as NodeJS.ErrnoException).code === 'ECHILD') return false;
      throw e;
    }
  }

  unwatch(pid: number): void {
    this.watchers.delete(pid);
  }

  /** Reap every zombie that is not managed; returns how many were reaped. Never throws ECHILD. */
  sweep(): number {
    this.counts.sweeps++;
    let n = 0;
    for (;;) {
      if (n >= SWEEP_BUDGET) {
        // a burst: yield to the event loop (API, service exits, timers) and go on right after
        this.onSigchld();
        return n;
      }
      const head = this.sys.peek();
      if (head <= 0) return n; // no zombie (0) or no children at all (-1)
      if (this.isManaged(head) || !this.reap(head)) return n + this.scan();
      n++;
    }
  }

  /** total exit statuses collected (for `metainit status`) */
  get reaped(): number {
    return this.counts.reaped;
  }

  stats(): ReaperStats {
    return { ...this.counts, managed: this.managed.size, watched: this.watchers.size };
  }

  /** The head zombie is someone else's: look behind it, child by child. */
  private scan(): number {
    this.counts.scans++;
    let n = 0;
    for (const pid of this.listChildren()) if (!this.isManaged(pid) && this.reap(pid)) n++;
    return n;
  }

  /** waitpid exactly `pid`; true if it had exited and was reported. */
  private reap(pid: number): boolean {
    let r: WaitResult | null;
    try {
      r = this.sys.waitpid(pid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ECHILD') return false; // reaped by its owner meanwhile
      throw e;
    }
    if (!r) return false;
    this.deliver(r);
    return true;
  }

  private deliver(r: WaitResult): void {
    this.counts.reaped++;
    const cb = this.watchers.get(r.pid);
    if (cb) {
      this.watchers.delete(r.pid);
      this.counts.adopted++;
      guard(() => cb(r));
      return;
    }
    this.counts.orphans++;
    this.recent.delete(r.pid);
    this.recent.set(r.pid, r);
    if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!);
    guard(() => this.emit('orphan', r));
  }
}

/** A listener's exception must not abort a sweep: surface it as an uncaught error afterwards. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

let installed: Reaper | undefined;

/**
 * The process-wide reaper: created once, registers every child_process child as managed (by
 * patching ChildProcess.prototype.spawn, which spawn/exec/execFile/fork all go through), and
 * started. Worker threads have their own ChildProcess: they must not spawn.
 */
export function installReaper(sys: Sys, opts?: ReaperOptions): Reaper {
  if (installed) return installed;
  const reaper = new Reaper(sys, opts);
  installed = reaper;
  type Spawnable = ChildProcess & { _handle: unknown; spawn(...args: unknown[]): unknown };
  const proto = ChildProcess.prototype as Spawnable;
  const original = proto.spawn;
  proto.spawn = function (this: Spawnable, ...args: unknown[]): unknown {
    const result = original.apply(this, args);
    const pid = this.pid;
    if (pid !== undefined) {
      const ownedByLibuv = (): boolean => this._handle != null;
      reaper.manage(pid, ownedByLibuv);
      this.once('exit', () => reaper.unmanage(pid, ownedByLibuv));
    }
    return result;
  };
  return reaper.start();
}
