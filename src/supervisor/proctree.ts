/**
 * proctree.ts — the processes that belong to a hosted supervisor, found in /proc.
 *
 * Model. A hosted init (runsvdir, s6-svscan …) is a *family* of processes that metainit did not
 * fork itself, except for the head. To stop it for good, or to clean up after its head died,
 * metainit must find every member, and members escape the simple "descendants of the head" view:
 * a service's children are orphaned when the service exits first (`sleep &` in a shell loop),
 * and the supervise processes are orphaned when the head is killed.
 *
 * So a family is: given roots (the head, supervise processes, service pids) and their
 * descendants, plus every process in a *remembered session*. Supervisors start services in a
 * session of their own (runsvdir -P gives each runsv one, s6-supervise gives each service one);
 * orphans keep that session id. Every session a member is seen in is remembered, so the family
 * should be looked at once while it is whole (before stopping it). A session id cannot be reused while any process still carries
 * it (the kernel keeps the pid number allocated), so "in session S" is exact as long as S's leader
 * is dead; when the leader is alive, its start time is compared with the one remembered, which
 * rules out a recycled pid. Sessions nobody is in any more are forgotten.
 *
 * Zombies are not members: they are dead, only waiting for the reaper.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  ppid: number;
  /** session id */
  sid: number;
  /** process group id */
  pgrp: number;
  /** start time in clock ticks after boot (field 22 of /proc/PID/stat) */
  start: string;
  comm: string;
}

/** Parse /proc/PID/stat; undefined for a zombie or a process gone meanwhile. */
export function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') return undefined;
    return { ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), start: f[19]!, comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

/** Every live process of this PID namespace. */
export function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) table.set(Number(name), p);
  }
  return table;
}

export function alive(pid: number): boolean {
  return readProc(pid) !== undefined;
}

/** kill(2) that ignores a process already gone. */
export function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: gone already
  }
}

/** Wait until `cond()` holds (checked every 100 ms) or `deadline` (ms epoch) passes; true if it held. */
export async function waitUntil(cond: () => boolean, deadline: number): Promise<boolean> {
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * End what is left of a process family: give it until `graceUntil` to exit by itself, then TERM,
 * then KILL at `deadline` (ms epochs). `members()` is asked afresh each time.
 */
export async function endFamily(members: () => number[], graceUntil: number, deadline: number): Promise<void> {
  if (await waitUntil(() => members().length === 0, Math.min(deadline, graceUntil))) return;
  for (const pid of members()) signalPid(pid, 'SIGTERM');
  await waitUntil(() => members().length === 0, deadline);
  for (const pid of members()) signalPid(pid, 'SIGKILL');
}

export class ProcessFamily {
  /** session id → start time of its leader when it was remembered (undefined: leader was gone) */
  private readonly sessions = new Map<number, string | undefined>();
  private readonly ownSid = readProc(process.pid)?.sid ?? 0;

  private remember(sid: number, leaderStart: string | undefined): boolean {
    if (sid <= 1 || sid === this.ownSid || this.sessions.has(sid)) return false;
    this.sessions.set(sid, leaderStart);
    return true;
  }

  /** Remember the session `pid` is in (called for every service pid seen). */
  addSessionOf(pid: number): void {
    const p = readProc(pid);
    if (p && this.remember(p.sid, readProc(p.sid)?.start) && this.sessions.size > 256) this.members(processTable(), []);
  }

  /**
   * Live members: `roots`, their descendants, everyone in a remembered session — and the session
   * of every member found is remembered, so its orphans are found later. Never us or pid 1.
   */
  members(table: Map<number, Proc>, roots: Iterable<number>): number[] {
    for (const [sid, start] of this.sessions) {
      const leader = table.get(sid);
      if (leader && start !== undefined && leader.start !== start) this.sessions.delete(sid); // recycled pid
    }
    const children = new Map<number, number[]>();
    const bySid = new Map<number, number[]>();
    for (const [pid, p] of table) {
      children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
      bySid.set(p.sid, [...(bySid.get(p.sid) ?? []), pid]);
    }
    const todo = [...roots, ...[...this.sessions.keys()].flatMap((sid) => bySid.get(sid) ?? [])];
    const seen = new Set<number>();
    while (todo.length > 0) {
      const pid = todo.pop()!;
      const p = table.get(pid);
      if (!p || seen.has(pid) || pid === process.pid || pid === 1) continue;
      seen.add(pid);
      todo.push(...(children.get(pid) ?? []));
      if (this.remember(p.sid, table.get(p.sid)?.start)) todo.push(...(bySid.get(p.sid) ?? []));
    }
    for (const sid of this.sessions.keys()) if (!bySid.has(sid)) this.sessions.delete(sid);
    return [...seen];
  }
}

/** One process of a service's tree, for `status NAME`: depth 0 is the main process. */
export interface TreeProc {
  pid: number;
  depth: number;
  /** its command line, words joined by spaces (`[comm]` for a kernel thread or one gone) */
  command: string;
}

/** a process's argv from /proc/PID/cmdline; empty for a kernel thread or a process gone */
export function procArgv(pid: number): string[] {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
    return text ? text.split('\0') : [];
  } catch {
    return [];
  }
}

function cmdline(pid: number, comm: string): string {
  const argv = procArgv(pid);
  return argv.length ? argv.join(' ') : `[${comm}]`;
}

/**
 * The processes of a service whose main process is `pid`: its descendants and whatever else is
 * in its process group (a child orphaned when its parent exited), main first, each under its
 * parent. At most `max` rows.
 */
export function processTree(pid: number, max = 50): TreeProc[] {
  const procs = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) procs.set(Number(name), p);
  }
  const root = procs.get(pid);
  if (!root) return [];
  const members = new Set<number>([pid]);
  for (const [p, info] of procs) if (info.pgrp === pid) members.add(p);
  const children = new Map<number, number[]>();
  for (const [p, info] of procs) {
    const siblings = children.get(info.ppid);
    if (siblings) siblings.push(p);
    else children.set(info.ppid, [p]);
  }
  const out: TreeProc[] = [];
  const seen = new Set<number>();
  const walk = (p: number, depth: number): void => {
    if (seen.has(p) || out.length >= max) return;
    seen.add(p);
    out.push({ pid: p, depth, command: cmdline(p, procs.get(p)?.comm ?? '?') });
    for (const c of (children.get(p) ?? []).sort((a, b) => a - b)) walk(c, depth + 1);
  };
  walk(pid, 0);
  for (const p of [...members].sort((a, b) => a - b)) if (!seen.has(p)) walk(p, 1); // orphans of the group
  return out;
}
