/**
 * process.ts — one run of a hosted systemd: launched, watched, stopped, re-adopted.
 *
 * A run is the chain container.ts builds (outer shell → unshare → systemd as PID 1 of new
 * namespaces), started in a delegated cgroup subtree (cgroup.ts) made for this run and removed
 * after it: `<cgroup2>/<cgroupParent()>/<instance>`. Around it:
 *   - the notify socket RUNDIR/notify/sock (bound at /run/host/notify in the container):
 *     READY=1 and STATUS= from systemd arrive there;
 *   - the console: a pty whose master metainit holds (node-pty, through a small holder process
 *     that keeps the slave open); its slave is bound at /dev/console, and every line systemd
 *     prints there goes to `onConsole` (the instance log);
 *   - a root whose /etc/machine-id is empty gets one bound over it (a hash of the instance name
 *     and root, stable across runs), so systemd never writes /etc on its first boot;
 *   - the chain's stdout and stderr go to RUNDIR/launch.log (a file, not a pipe, so nothing
 *     blocks and nothing breaks across a re-exec of metainit); a failed launch is reported with
 *     that file's last line (the `container NAME: unable to …` of the inner script).
 * How the run ended is classified as systemd's container interface defines it: death by SIGINT
 * is a poweroff or halt typed inside (SIGRTMIN+3/+4), SIGHUP a reboot (SIGRTMIN+5); anything
 * else is a crash. `stop(deadline)` sends SIGRTMIN+4 (systemd's poweroff), waits for the chain
 * until the deadline, then kills the whole subtree through cgroup.kill and removes it.
 *
 * After a re-exec of metainit the run is re-adopted from its snapshot, but only if the pid is
 * still the same process (its start time in /proc/PID/stat) and still in the recorded cgroup;
 * the chain's exit then comes from the reaper (`watch`), not from node. The console pty does not
 * survive a re-exec (its master is not handed over): the console is lost from then on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signalName } from '../../base/signames.js';
import type { Sys } from '../../base/sys.js';
import type { Logger } from '../../base/types.js';
import { createSubtree, existingSubtree, killSubtree, moveToMountRoot, removeSubtree, subtreePids, type CgroupSubtree } from '../../supervisor/cgroup.js';
import { findInitPid, LAUNCH_ENV, writeLaunch, type ContainerSpec } from '../../supervisor/container.js';
import { alive, readProc, waitUntil } from '../../supervisor/proctree.js';
import { runOnPty, type PtyRun } from '../../supervisor/pty-runner.js';
import { ConsoleTap } from '../../supervisor/console-tap.js';
import type { ChildWatch } from '../../supervisor/reaper.js';

/** How a run ended, in systemd's container-interface words. */
export type RunEnd = { how: 'poweroff' | 'reboot' | 'crash' | 'stopped'; detail: string };

export interface RunOptions {
  instance: string;
  root: string;
  argv: string[];
  runDir: string;
  exports: string[];
  binds: ContainerSpec['binds'];
  sys: Sys;
  log: Logger;
  reaper: ChildWatch;
  /** metainit is the machine's init (its cgroup2 mount is its own) */
  machine: boolean;
  onNotify(fields: string[]): void;
  onConsole(line: string): void;
  onEnd(end: RunEnd): void;
}

/** What a re-exec of metainit hands over. */
export interface RunSnapshot {
  pid: number;
  /** the unshare process, our child */
  outer: number;
  /** field 22 of /proc/PID/stat when it was launched */
  start: string;
  cgroup: { mount: string; parent: string; path: string };
}

/**
 * The directory under the cgroup2 mount that holds this metainit's instances: `metainit` for the
 * machine's init; for any other metainit `metainit-<its PID namespace's inode>`, so two of them on
 * one host (containers, tests) never share one — the clean-up of a crashed run's leftovers must
 * only ever meet this metainit's own processes.
 */
export function cgroupParent(machine: boolean): string {
  if (machine) return 'metainit';
  try {
    const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    if (ns) return `metainit-${ns}`;
  } catch {
    // no /proc/self/ns: fall back to the process id
  }
  return `metainit-pid${process.pid}`;
}

/** The end of the chain (unshare passes PID 1's end on) as a RunEnd. */
export function classifyEnd(code: number | null, signal: string | null, stopping: boolean): RunEnd {
  const detail = signal ? `killed by ${signal}` : `exited with code ${code}`;
  if (stopping) return { how: 'stopped', detail };
  if (signal === 'SIGINT') return { how: 'poweroff', detail: 'poweroff or halt inside (died by SIGINT)' };
  if (signal === 'SIGHUP') return { how: 'reboot', detail: 'reboot inside (died by SIGHUP)' };
  return { how: 'crash', detail };
}

export class SystemdRun {
  pid: number | undefined;
  subtree: CgroupSubtree | undefined;
  startedAt = 0;
  private outer: ChildProcess | undefined;
  private outerPid: number | undefined;
  private start = '';
  private console: PtyRun | undefined;
  /** the console opened to viewers (`metainit console`) */
  tap: ConsoleTap | undefined;
  private notify: { close(): void } | undefined;
  private ended = false;
  private stopping = false;
  private readonly nsPids = new Map<number, number>();

  constructor(private readonly o: RunOptions) {}

  private get logFile(): string {
    return join(this.o.runDir, 'launch.log');
  }

  /** Launch; resolves with systemd's host pid once it exists (readiness comes through onNotify). */
  async launch(): Promise<number> {
    const { o } = this;
    mkdirSync(join(o.runDir, 'notify'), { recursive: true });
    const parent = cgroupParent(o.machine);
    const stale = existingSubtree({ instance: o.instance, parent });
    if (stale && existsSync(stale.path)) {
      o.log.warn(`${o.instance}: removing the cgroup ${stale.path} a previous run left`);
      await killSubtree(stale, Date.now() + 5000);
      removeSubtree({ ...stale, madeParent: false }, o.log);
    }
    // machine mode: the cgroup2 mount is metainit's own, so controllers are enabled from its root down
    this.subtree = createSubtree({ instance: o.instance, parent, log: o.log, delegateFromMount: o.machine });
    this.openNotify();
    const consoleTty = await this.openConsole();
    const machineId = join(o.runDir, 'machine-id');
    writeFileSync(machineId, `${createHash('sha256').update(`${o.instance}\0${o.root}`).digest('hex').slice(0, 32)}\n`, { mode: 0o444 });
    const launch = writeLaunch({
      name: o.instance,
      root: o.root,
      argv: o.argv,
      notifyDir: join(o.runDir, 'notify'),
      cgroup: this.subtree.path,
      runDir: o.runDir,
      exports: o.exports,
      ...(o.binds ? { binds: o.binds } : {}),
      ...(consoleTty ? { console: consoleTty } : {}),
      machineIdFile: machineId,
      // the container interface: no audit in a container (journald's audit socket then stays idle)
      dropCaps: ['audit_control', 'audit_read', 'audit_write'],
      // machine mode delegates controllers: unshare leaves the subtree before systemd runs
      soleInCgroup: o.machine,
    });
    const out = openSync(this.logFile, 'w', 0o600);
    let exited: string | undefined;
    try {
      const child = spawn(launch.argv[0]!, launch.argv.slice(1), { stdio: ['ignore', out, out], env: LAUNCH_ENV });
      this.outer = child;
      child.once('error', (e) => (exited = e.message));
      child.once('exit', (code, signal) => {
        exited = signal ?? `code ${code}`;
        this.finish(code, signal);
      });
      this.startedAt = Date.now();
      this.pid = await findInitPid(o.instance, o.argv[0]!, child.pid ?? -1, () => (exited ? `${exited}: ${this.lastLaunchLine()}` : undefined));
      this.outerPid = child.pid;
      if (o.machine && child.pid !== undefined) moveToMountRoot(this.subtree, child.pid);
      this.start = readProc(this.pid)?.start ?? '';
      return this.pid;
    } catch (e) {
      this.outer?.kill('SIGKILL');
      await this.cleanUp(Date.now() + 5000);
      throw e;
    } finally {
      closeSync(out);
    }
  }

  /** The notify socket RUNDIR/notify/sock (bound at /run/host/notify/sock inside); made anew after a re-exec. */
  private openNotify(): void {
    this.notify = this.o.sys.notifySocket(join(this.o.runDir, 'notify/sock'), (msg) => this.o.onNotify(msg.split('\n').filter(Boolean)));
  }

  /**
   * A pty for /dev/console: a holder process keeps the slave open; we read the master. The slave's
   * path is read from the holder's fd 0 once it is a pty — right after the fork it is still
   * node's own stdin (often /dev/null), and binding that at /dev/console would let systemd chmod
   * the machine's /dev/null.
   */
  private async openConsole(): Promise<string | undefined> {
    const run = runOnPty({ argv: ['sleep', 'infinity'], env: LAUNCH_ENV, maxLines: 0, reaper: this.o.reaper, onLine: (l) => l.trim() && this.o.onConsole(l) });
    if (run.pid === 0) return undefined;
    this.console = run;
    this.tap = new ConsoleTap(run);
    for (let i = 0; i < 200; i++) {
      let tty = '';
      try {
        tty = readlinkSync(`/proc/${run.pid}/fd/0`);
      } catch {
        // not there yet, or gone
      }
      if (/^\/dev\/pts\/\d+$/.test(tty) && readProc(run.pid)?.comm === 'sleep') return tty;
      await new Promise((r) => setTimeout(r, 5));
    }
    this.o.log.warn(`${this.o.instance}: unable to open a console pty: the holder's stdin never became a pty; systemd runs without /dev/console`);
    run.kill('SIGKILL');
    this.tap?.close();
    this.tap = undefined;
    this.console = undefined;
    return undefined;
  }

  /** The launch's own words on a failure: its last line (`container NAME: unable to …`). */
  lastLaunchLine(): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').pop() ?? '';
    } catch {
      return '';
    }
  }

  private finish(code: number | null, signal: string | null): void {
    if (this.ended) return;
    this.ended = true;
    const end = classifyEnd(code, signal, this.stopping);
    if (end.how === 'crash' && code === 125) end.detail = this.lastLaunchLine() || end.detail;
    this.pid = undefined;
    void this.cleanUp(Date.now() + 5000).finally(() => this.o.onEnd(end));
  }

  /** Kill what is left in the subtree, remove it, close the notify socket and the console. */
  private async cleanUp(deadline: number): Promise<void> {
    this.notify?.close();
    this.notify = undefined;
    this.console?.kill('SIGKILL');
    this.tap?.close();
    this.tap = undefined;
    this.console = undefined;
    const cg = this.subtree;
    if (!cg) return;
    if (!(await killSubtree(cg, deadline))) this.o.log.warn(`${this.o.instance}: processes are still in ${cg.path} after cgroup.kill`);
    removeSubtree(cg, this.o.log);
    this.subtree = undefined;
  }

  /** The host pid of a pid of systemd's namespace (NSpid of the processes in the subtree), cached. */
  hostPidOf(nsPid: number): number | undefined {
    if (nsPid === 1) return this.pid;
    const hit = this.nsPids.get(nsPid);
    if (hit !== undefined && alive(hit)) return hit;
    if (!this.subtree) return undefined;
    for (const pid of subtreePids(this.subtree)) {
      try {
        const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
        const ids = line?.split(/\s+/).slice(1).filter(Boolean).map(Number) ?? [];
        if (ids.length > 1 && ids[ids.length - 1] === nsPid) {
          this.nsPids.set(nsPid, pid);
          if (this.nsPids.size > 500) this.nsPids.delete(this.nsPids.keys().next().value!);
          return pid;
        }
      } catch {
        // gone meanwhile
      }
    }
    return undefined;
  }

  /** Send a signal to systemd (PID 1 of its namespace). */
  signal(signum: number): boolean {
    return this.pid !== undefined && this.o.sys.kill(this.pid, signum);
  }

  /** SIGRTMIN+4, then at the deadline cgroup.kill; resolves once the run has ended and is cleaned up. */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    if (this.pid !== undefined && !this.ended) {
      this.signal(this.o.sys.SIGRTMIN + 4);
      await waitUntil(() => this.ended, deadline);
      if (!this.ended && this.subtree) {
        await killSubtree(this.subtree, Date.now() + 3000);
        await waitUntil(() => this.ended || (this.outerPid !== undefined && !alive(this.outerPid)), Date.now() + 3000);
      }
    }
    if (!this.ended) {
      this.ended = true;
      this.pid = undefined;
    }
    await this.cleanUp(Date.now() + 3000);
  }

  snapshot(): RunSnapshot | undefined {
    if (this.pid === undefined || this.outerPid === undefined || !this.subtree) return undefined;
    const { mount, parent, path } = this.subtree;
    return { pid: this.pid, outer: this.outerPid, start: this.start, cgroup: { mount, parent, path } };
  }

  /** Take over a run from a snapshot; why not, in words, when it cannot be (then nothing is taken). */
  adopt(snap: RunSnapshot): string | undefined {
    const p = readProc(snap.pid);
    if (!p) return `pid ${snap.pid} is gone`;
    if (p.start !== snap.start) return `pid ${snap.pid} is another process now (start time ${p.start}, recorded ${snap.start})`;
    let cgroup = '';
    try {
      cgroup = readFileSync(`/proc/${snap.pid}/cgroup`, 'utf8');
    } catch {
      return `pid ${snap.pid} is gone`;
    }
    const rel = snap.cgroup.path.slice(snap.cgroup.mount.length);
    if (!cgroup.split('\n').some((l) => l.startsWith('0::') && l.slice(3).startsWith(rel))) return `pid ${snap.pid} is not in ${snap.cgroup.path}`;
    const watched = this.o.reaper.watch(snap.outer, (r) => this.finish(r.code, r.signal === null ? null : signalName(r.signal, this.o.sys.SIGRTMIN)));
    if (!watched) return `pid ${snap.outer} (unshare) is not a child of metainit`;
    this.pid = snap.pid;
    this.outerPid = snap.outer;
    this.start = snap.start;
    this.startedAt = Date.now();
    this.subtree = { mount: snap.cgroup.mount, parent: snap.cgroup.parent, path: snap.cgroup.path, controllers: [], madeParent: true };
    this.openNotify();
    return undefined;
  }
}
