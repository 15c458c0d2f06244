/**
 * hostproc.ts — looking into a PID namespace from the host's /proc.
 *
 * Model. The benchmarks never trust the process under test to report on itself: memory and
 * children (live or zombie) of the namespace's PID 1 are read from the host's /proc by host pid,
 * the same way for metainit, bare node and tini. A process's children are listed per thread in
 * /proc/PID/task/TID/children, zombies included; a process keeps its /proc/PID entry until it
 * is reaped, so an orphan's entry disappearing is the moment PID 1 reaped it.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface MemInfo {
  /** resident set, MiB (VmRSS) */
  rssMiB: number;
  /** anonymous part of it, MiB (RssAnon) */
  anonMiB: number;
  threads: number;
}

/** Fields "Key:  value kB" of /proc/PID/status. */
function statusFields(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

export function memInfo(pid: number): MemInfo {
  const f = statusFields(pid);
  const kib = (k: string): number => Number.parseInt(f.get(k) ?? 'NaN', 10);
  return { rssMiB: kib('VmRSS') / 1024, anonMiB: kib('RssAnon') / 1024, threads: Number(f.get('Threads')) };
}

/** The pid `pid` has inside its innermost PID namespace (last NSpid field). */
export function innerPid(pid: number): number {
  const ns = statusFields(pid).get('NSpid')?.split(/\s+/) ?? [];
  return Number(ns[ns.length - 1]);
}

/** Host pids of every child (running or zombie) of `pid`, over all its threads. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      /* thread gone */
    }
  }
  return out;
}
