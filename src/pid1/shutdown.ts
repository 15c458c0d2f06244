/**
 * shutdown.ts — stages 3 and 4: stop the instances, then end every process, then the machine.
 *
 * Stage 3 (stopInstances): the manager stops the instances in reverse start order, each service
 *   with its own stop signal and timeout, all bounded by `shutdown.timeout`.
 * Stage 4 (finalKill, then finish):
 *   1. TERM to every remaining process (as PID 1: kill(-1); as a plain supervisor: only our own
 *      descendants — never anything else on the host);
 *   2. wait up to `shutdown.grace`, but only while something is still alive (polling /proc), so an
 *      empty system shuts down at once;
 *   3. KILL what is left, sync;
 *   4. machine mode only: unmount everything but the API filesystems in reverse mount order,
 *      remount read-only what cannot be unmounted (including /), sync again. The kernel may
 *      still be letting go of files the last processes had open (a dead mount namespace, a file
 *      put after the task's exit) — so a busy / is retried, with a sync between tries, for up to
 *      `busyMs`; if it stays busy the line names every process holding a file open for writing;
 *   5. the end: machine → reboot(2) with halt/poweroff/restart; container PID 1 → reboot(2) too
 *      for halt/poweroff/reboot requests (inside a PID namespace it ends only the namespace: the
 *      parent sees SIGINT or SIGHUP), or a plain exit with the documented code for "exit".
 * Every step logs one line; nothing here throws.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Mode } from '../base/mode.js';
import { MNT_DETACH, MS, RB, type Sys } from '../base/sys.js';
import { sleep } from '../base/time.js';
import type { Logger, ShutdownKind } from '../base/types.js';
import { KEEP_AT_SHUTDOWN, mountTable } from './mounts.js';


interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  comm?: string;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      let state = rest[0] ?? '?';
      // a zombie leader whose other threads still run still holds the process's files
      if (state === 'Z' && threads(name) > 1) state = 'exiting';
      out.push({ pid: Number(name), ppid: Number(rest[1]), state, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function threads(pid: string): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** Processes stage 4 must end: as PID 1 everything but us and kernel threads; else our descendants. */
export function victims(mode: Mode, self = process.pid, procs = readProcs()): number[] {
  if (mode !== 'supervisor') {
    // kernel threads (kthreadd = pid 2 and its children) exist only in the initial PID namespace;
    // in a container pid 2 is an ordinary process of ours
    const kthreadd = procs.some((p) => p.pid === 2 && p.ppid === 0 && (p.comm === undefined || p.comm === 'kthreadd'));
    return procs.filter((p) => p.pid !== self && p.state !== 'Z' && !(kthreadd && (p.pid === 2 || p.ppid === 2))).map((p) => p.pid);
  }
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const state = new Map(procs.map((p) => [p.pid, p.state]));
  const out: number[] = [];
  const stack = [...(children.get(self) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    if (state.get(pid) !== 'Z') out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}


/** Stage 4 steps 1–3. Returns how many processes had to be KILLed. */
export async function finalKill(mode: Mode, sys: Sys, log: Logger, graceMs: number): Promise<number> {
  const procs = readProcs();
  const targets = victims(mode, process.pid, procs);
  if (targets.length === 0) {
    log.info('stage 4: no process left to stop');
  } else {
    log.info(`stage 4: sending TERM to ${targets.length} remaining process(es)`);
    log.info(`stage 4: remaining: ${named(targets, procs)}`);
    if (mode === 'supervisor') for (const pid of targets) sys.kill(pid, 15);
    else sys.kill(-1, 15);
  }
  const until = Date.now() + graceMs;
  while (victims(mode).length > 0 && Date.now() < until) await sleep(25);
  const left = victims(mode);
  if (left.length > 0) {
    log.warn(`stage 4: sending KILL to ${left.length} process(es) still alive after ${graceMs} ms: ${left.slice(0, 10).join(' ')}`);
    if (mode === 'supervisor') for (const pid of left) sys.kill(pid, 9);
    else sys.kill(-1, 9);
    const hard = Date.now() + 2000;
    while (victims(mode).length > 0 && Date.now() < hard) await sleep(10);
  }
  sys.sync();
  log.info('stage 4: file systems synced');
  return left.length;
}

/** "name(pid) …", at most ten, for one log line */
function named(pids: number[], procs: ProcInfo[]): string {
  const comm = new Map(procs.map((p) => [p.pid, p.comm]));
  const shown = pids.slice(0, 10).map((pid) => `${comm.get(pid) ?? '?'}(${pid})`);
  return pids.length > 10 ? `${shown.join(' ')} and ${pids.length - 10} more` : shown.join(' ');
}

const O_ACCMODE = 3;

/**
 * Processes with a file open for writing on the file system of `path` ("name(pid) file", at most
 * ten; only `pids` when given) — what keeps a remount read-only busy. Read from /proc/PID/fdinfo flags.
 */
export function writersOn(path: string, pids?: number[]): string[] {
  let dev: number;
  try {
    dev = statSync(path).dev;
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const p of readProcs().filter((q) => !pids || pids.includes(q.pid))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p.pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${p.pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (!flags || (parseInt(flags, 8) & O_ACCMODE) === 0) continue;
        if (statSync(`/proc/${p.pid}/fd/${fd}`).dev !== dev) continue;
        out.push(`${p.comm ?? '?'}(${p.pid}) ${readlinkSync(`/proc/${p.pid}/fd/${fd}`)}`);
      } catch {
        /* closed meanwhile, or not a file */
      }
      if (out.length >= 10) return out;
    }
  }
  return out;
}

export interface UnmountOptions {
  /** how long a busy / is retried (default 5 s) */
  busyMs?: number;
  /** pause between tries (default 100 ms) */
  retryMs?: number;
  /** who keeps / busy (default: writersOn) */
  writers?: (path: string) => string[];
}

/** Stage 4 step 4 — machine mode ONLY (the caller checks; this function checks again). */
export async function unmountAll(mode: Mode, sys: Sys, log: Logger, opts: UnmountOptions = {}): Promise<void> {
  if (mode !== 'machine') return;
  const table = mountTable().reverse();
  for (const m of table) {
    if (KEEP_AT_SHUTDOWN.has(m.target)) continue;
    try {
      sys.umount2(m.target, 0);
      log.info(`stage 4: unmounted ${m.target}`);
    } catch (e) {
      try {
        sys.mount(null, m.target, null, MS.REMOUNT | MS.RDONLY, null);
        sys.umount2(m.target, MNT_DETACH);
        log.info(`stage 4: remounted ${m.target} read-only (${(e as Error).message})`);
      } catch (e2) {
        log.warn(`stage 4: unable to unmount ${m.target}: ${(e2 as Error).message}`);
      }
    }
  }
  await remountRootReadOnly(sys, log, opts);
  sys.sync();
}

async function remountRootReadOnly(sys: Sys, log: Logger, opts: UnmountOptions): Promise<void> {
  const started = Date.now();
  const until = started + (opts.busyMs ?? 5000);
  for (let tries = 1; ; tries++) {
    try {
      sys.mount(null, '/', null, MS.REMOUNT | MS.RDONLY, null);
      log.info(tries === 1 ? 'stage 4: remounted / read-only' : `stage 4: remounted / read-only (busy for ${Date.now() - started} ms, ${tries} tries)`);
      return;
    } catch (e) {
      const busy = (e as NodeJS.ErrnoException).code === 'EBUSY';
      if (!busy || Date.now() >= until) {
        const who = busy ? (opts.writers ?? writersOn)('/') : [];
        const held = busy ? (who.length ? `; open for writing: ${who.join(', ')}` : '; no process holds a file open for writing (the kernel still does)') : '';
        log.warn(`stage 4: unable to remount / read-only: ${(e as Error).message}${busy ? ` after ${tries} tries in ${Date.now() - started} ms` : ''}${held}`);
        return;
      }
      sys.sync();
      await sleep(opts.retryMs ?? 100);
    }
  }
}

/**
 * Step 5: the end. Machine and container PID 1 call reboot(2) for halt/poweroff/reboot (inside a
 * PID namespace this ends the namespace, not the machine). Returns only for `exit` or when
 * reboot(2) failed or we are not PID 1: the caller then exits the process.
 */
export function finish(kind: ShutdownKind, mode: Mode, sys: Sys, log: Logger): void {
  if (kind === 'exit' || mode === 'supervisor') return;
  const cmd = kind === 'halt' ? RB.HALT : kind === 'poweroff' ? RB.POWER_OFF : RB.AUTOBOOT;
  log.info(`stage 4: ${kind}${mode === 'container' ? ' (ends this PID namespace)' : ''}`);
  try {
    sys.reboot(cmd);
  } catch (e) {
    log.error(`stage 4: unable to ${kind}: ${(e as Error).message}`);
  }
}
