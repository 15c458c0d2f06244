/**
 * scandir-scanner.ts — the scanner (runsvdir, s6-svscan) as a supervised child of metainit.
 *
 * Model. One Scanner per runit/s6 instance. It is `down` until start(), then `up` with a pid; if
 * the process dies while not asked to stop, the Scanner
 *   1. stops what the dead scanner left behind: its supervise processes (found by their working
 *      directory, a service directory) get SIGTERM — each takes its service down and exits —
 *      and whatever of the family is left after 5 s gets SIGKILL. Left running, they would hold
 *      the supervise locks, and the new scanner's supervise processes could not take over;
 *   2. starts it again after a delay: 0.5 s, doubled after each fast failure up to 30 s, back to
 *      0.5 s after a run of 10 s. The new scanner brings the services back.
 * The scanner runs chrooted (rootfs.ts inRoot), detached (its own session), with only PATH and
 * METAINIT_INSTANCE (which the root's policy-rc.d reads: a role holder's own run script may start
 * under a name vetoed elsewhere in the root) in its environment; stdin is /dev/null, stdout and stderr are pipes read line by line. Every line
 * (the scanner's, its supervise processes', and that of services without a log/ service) becomes
 * a `log` event with id "<instance>/<scanner>" and is kept in a tail of 1000 lines.
 *
 * stop(deadline): asks the scanner to stop its services and exit (the flavor's command, else its
 * signal), waits for the whole family to be gone, and SIGKILLs what is left at the deadline.
 * The family (proctree.ts) is the scanner's process tree, the supervise processes by working
 * directory, the service pids the adapter saw, and every process in a session one of them led.
 *
 * After a re-exec of PID 1 a scanner can be adopted by pid: it is not our libuv child any more,
 * so its death is noticed by `check()` (called on every poll) instead of an exit event.
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { AdapterEvent } from '../adapter.js';
import { alive, processTable, ProcessFamily, signalPid, waitUntil, type Proc } from '../../supervisor/proctree.js';
import { inRoot } from '../../supervisor/rootfs.js';
import { CLEAN_ENV, runIn, type ScanFlavor } from './scandir.js';

const RESTART = { initial: 500, max: 30_000, resetAfter: 10_000 };
/** time the orphans of a dead scanner get to stop before SIGKILL */
const ORPHAN_GRACE_MS = 5000;
const TAIL_LINES = 1000;

export interface ScannerOptions {
  instance: string;
  root: string;
  /** the scan directory, inside the root */
  scanIn: string;
  flavor: ScanFlavor;
  /** canonical host paths of the service directories */
  serviceDirs(): string[];
  /** pids of the services as last seen */
  servicePids(): number[];
  emit(ev: AdapterEvent): void;
  /** the scanner came or went: states should be read again */
  changed(): void;
}

export class Scanner {
  readonly family = new ProcessFamily();
  readonly tail: string[] = [];
  private proc: { pid: number; adopted: boolean; startedAt: number } | undefined;
  private stopping = false;
  private delay = RESTART.initial;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ScannerOptions) {}

  /** pid of the running scanner */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Start the scanner, or take over `adoptPid` when that process is still alive. */
  start(adoptPid?: number): void {
    this.stopping = false;
    if (adoptPid !== undefined && alive(adoptPid)) {
      this.proc = { pid: adoptPid, adopted: true, startedAt: Date.now() };
      this.family.addSessionOf(adoptPid);
    } else this.spawn();
  }

  private spawn(): void {
    const [file, ...args] = inRoot(this.o.root, this.o.flavor.scannerArgv(this.o.scanIn));
    const child = spawn(file!, args, { detached: true, env: { ...CLEAN_ENV, METAINIT_INSTANCE: this.o.instance }, stdio: ['ignore', 'pipe', 'pipe'] });
    let ended = false;
    const end = (how: string): void => {
      if (ended) return;
      ended = true;
      if (this.proc?.pid === child.pid) void this.died(how);
    };
    child.on('error', (e) => end(`could not be started: ${e.message}`));
    child.on('exit', (code, sig) => end(sig ? `killed by ${sig}` : `exited with code ${code}`));
    if (child.pid === undefined) return;
    this.proc = { pid: child.pid, adopted: false, startedAt: Date.now() };
    this.family.addSessionOf(child.pid);
    for (const [stream, input] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      createInterface({ input }).on('line', (line) => this.line(stream, line));
    }
    this.o.changed();
  }

  private line(stream: 'stdout' | 'stderr', line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.o.emit({ type: 'log', id: `${this.o.instance}/${this.o.flavor.scanner}`, stream, line, time: Date.now() });
  }

  /** Notice the death of an adopted scanner (no exit event for it). */
  check(): void {
    if (this.proc?.adopted && !alive(this.proc.pid)) void this.died('(adopted after re-exec) is gone');
  }

  private async died(how: string): Promise<void> {
    const ran = Date.now() - (this.proc?.startedAt ?? Date.now());
    this.proc = undefined;
    if (this.stopping) return;
    if (ran >= RESTART.resetAfter) this.delay = RESTART.initial;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, RESTART.max);
    this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: ${this.o.flavor.scanner} ${how}; restarting it in ${delay} ms` });
    this.o.changed();
    for (const pid of this.supervisePids(processTable())) signalPid(pid, 'SIGTERM');
    await waitUntil(() => this.leftovers().length === 0, Date.now() + ORPHAN_GRACE_MS);
    for (const pid of this.leftovers()) signalPid(pid, 'SIGKILL');
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      if (!this.stopping) this.spawn();
    }, delay);
  }

  /** supervise processes working in one of the service directories (orphaned ones too) */
  private supervisePids(table: Map<number, Proc>): number[] {
    const dirs = this.o.serviceDirs().map((d) => `${d}/`);
    return [...table].flatMap(([pid, p]) => {
      if (p.comm !== this.o.flavor.superviseComm) return [];
      try {
        const cwd = `${readlinkSync(`/proc/${pid}/cwd`)}/`;
        return dirs.some((d) => cwd.startsWith(d)) ? [pid] : [];
      } catch {
        return [];
      }
    });
  }

  /** Every live process of the instance except the scanner itself (and remember their sessions). */
  leftovers(): number[] {
    const table = processTable();
    const roots = [...this.supervisePids(table), ...this.o.servicePids()];
    if (this.proc) roots.push(this.proc.pid);
    return this.family.members(table, roots).filter((pid) => pid !== this.proc?.pid);
  }

  /** Ask the scanner to stop everything and exit; SIGKILL the family at `deadline`. */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const proc = this.proc;
    if (proc && alive(proc.pid)) {
      const how = this.o.flavor.stopScanner;
      const asked = how.argv ? (await runIn(this.o.root, how.argv(this.o.scanIn), Math.min(2000, deadline - Date.now()))).code === 0 : false;
      if (!asked) signalPid(proc.pid, how.signal);
      await waitUntil(() => !alive(proc.pid) && this.leftovers().length === 0, deadline);
    }
    const left = this.leftovers();
    if (proc && alive(proc.pid)) left.push(proc.pid);
    if (left.length > 0) {
      this.o.emit({ type: 'message', level: 'warning', text: `${this.o.instance}: killing ${left.length} process(es) left at the stop deadline: ${left.join(' ')}` });
      for (const pid of left) signalPid(pid, 'SIGKILL');
      await waitUntil(() => !left.some(alive), Date.now() + 1000); // SIGKILL takes effect asynchronously
    }
    this.proc = undefined;
  }
}
