/**
 * scandir.ts — what runit and s6 have in common: the vocabulary of a scan-directory init.
 *
 * Model. runit and s6 both supervise "a directory of service directories": a *scanner*
 * (runsvdir, s6-svscan) starts one *supervise process* (runsv, s6-supervise) per entry, which runs
 * the service's ./run and records its state in the service's supervise/ directory. metainit keeps
 * all of that and drives it from outside, through three pieces:
 *   - this file: the instance schema both share, the ScanFlavor each adapter fills in (argv of
 *     its tools, how to read its status file), paths inside a root, the scan dir itself;
 *   - scandir-scanner.ts: the scanner as a supervised child of metainit, and its process family;
 *   - scandir-adapter.ts: the Adapter over both — services, links, states, control, stop.
 *
 * Paths under a root are named twice: "in" paths as the chrooted programs see them
 * (/etc/service/x), host paths as metainit sees them (rootfs.ts hostPath). Symlinks inside a root
 * are absolute in the root's terms, so they are followed by `resolveIn`, never by the host's
 * realpath (which would land in the host's /etc — and a write there would change the host).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { z } from 'zod';
import type { ServiceState, ServiceStatus, Target } from '../../base/states.js';
import { InstanceBase, ServiceName } from '../../config/schema.js';
import { hostPath, inRoot } from '../../supervisor/rootfs.js';

/** the only environment the hosted programs get */
export const CLEAN_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/** Instance file schema shared by runit and s6: InstanceBase plus the scan-dir keys, strict. */
export function scanInstanceSchema<K extends 'runit' | 's6'>(kind: K, defaultServicesDir: string) {
  return InstanceBase.extend({
    adapter: z.literal(kind),
    /** directory (inside root) whose entries are the enabled services */
    services_dir: z.string().regex(/^\//, { message: 'services_dir must be an absolute path inside root (fix: e.g. /etc/service)' }).default(defaultServicesDir),
    /** allow-list: only these entries of services_dir belong to the instance */
    services: z.array(ServiceName).optional(),
  }).strict();
}
export type ScanInstanceConfig = z.output<ReturnType<typeof scanInstanceSchema>>;

/** What a flavor reads from one service's status file, already mapped onto shared words. */
export interface Observation {
  state: ServiceState;
  /** what the supervise process wants (its own target) */
  target: Target;
  pid?: number;
  reason?: string;
  lastExit?: { code: number | null; signal: string | null };
}

/** The part of runit / s6 that differs: the tools' argv and the status format. */
export interface ScanFlavor {
  readonly kind: 'runit' | 's6';
  /** scanner program name (log id "<instance>/<scanner>") */
  readonly scanner: string;
  /** comm of the per-service supervise process */
  readonly superviseComm: string;
  /** programs that must be in the root's PATH (the scanner first) */
  readonly programs: readonly string[];
  scannerArgv(scanIn: string): string[];
  /** parse supervise/status (undefined: unknown format) and map it; `notify`: service signals readiness */
  observe(status: Buffer, notify: boolean): Observation | undefined;
  /** does this service directory signal readiness (s6 notification-fd)? */
  notifies(hostDir: string): boolean;
  up(dirIn: string): string[];
  down(dirIn: string): string[];
  restart(dirIn: string): string[];
  /** argv sending `sig` through the tool, undefined when the tool cannot (then kill(pid) is used) */
  signal(dirIn: string, sig: string): string[] | undefined;
  /** commands bringing every service down, waiting at most `ms` */
  downAll(dirsIn: string[], ms: number): string[][];
  /** how to ask the scanner to stop its services and exit: a command, else this signal */
  stopScanner: { argv?: (scanIn: string) => string[]; signal: NodeJS.Signals };
  /** command telling the scanner the scan dir changed (none: it notices by itself) */
  rescan?(scanIn: string): string[];
}

// ------------------------------------------------------------------------------ paths in a root

/** Resolve every symlink of `p` (absolute, inside `root`) the way a process chrooted there would. */
export function resolveIn(root: string, p: string): string {
  let todo = p.split('/').filter(Boolean);
  let out: string[] = [];
  for (let hops = 0; todo.length > 0; ) {
    const c = todo.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    let target: string | undefined;
    try {
      target = readlinkSync(hostPath(root, `/${[...out, c].join('/')}`));
    } catch {
      target = undefined; // not a symlink, or missing: keep the name as written
    }
    if (target === undefined) {
      out.push(c);
      continue;
    }
    if (++hops > 40) throw new Error(`${p}: unable to resolve path: too many levels of symbolic links`);
    if (target.startsWith('/')) out = [];
    todo = [...target.split('/').filter(Boolean), ...todo];
  }
  return `/${out.join('/')}`;
}

/** Path (inside the root) of `prog` in the PATH hosted programs get, or undefined. */
export function findInRoot(root: string, prog: string): string | undefined {
  for (const dir of CLEAN_ENV.PATH.split(':')) {
    const p = resolveIn(root, posix.join(dir, prog));
    try {
      accessSync(hostPath(root, p), constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Make `scanHost` hold exactly the symlinks `links` (name → target); dot entries are left alone. */
export function assembleScanDir(scanHost: string, links: ReadonlyMap<string, string>): { added: string[]; removed: string[] } {
  mkdirSync(scanHost, { recursive: true, mode: 0o755 });
  const added: string[] = [];
  const removed: string[] = [];
  const have = new Set<string>();
  for (const e of readdirSync(scanHost, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const path = join(scanHost, e.name);
    if (e.isSymbolicLink() && readlinkSync(path) === links.get(e.name)) have.add(e.name);
    else {
      rmSync(path, { recursive: true, force: true });
      if (!links.has(e.name)) removed.push(e.name);
    }
  }
  for (const [name, target] of links) {
    if (have.has(name)) continue;
    symlinkSync(target, join(scanHost, name));
    added.push(name);
  }
  return { added, removed };
}

/**
 * Debian points a service's supervise/ at /run/runit/supervise/NAME and creates the parent in its
 * stage 2; runsv then creates NAME. Do the same for a dangling link into /run (a tmpfs), never
 * elsewhere. `linkIn` is the supervise path inside the root.
 */
export function prepareSuperviseLink(root: string, linkIn: string): void {
  let target: string;
  try {
    const parent = resolveIn(root, posix.dirname(linkIn));
    if (!lstatSync(hostPath(root, posix.join(parent, posix.basename(linkIn)))).isSymbolicLink()) return;
    target = resolveIn(root, linkIn);
  } catch {
    return; // no such entry: the supervise process creates a plain directory
  }
  if (target.startsWith('/run/')) mkdirSync(hostPath(root, resolveIn(root, posix.dirname(target))), { recursive: true, mode: 0o755 });
}

// ------------------------------------------------------------------------------ commands

/** Run argv inside `root` with the clean environment; never rejects. */
export function runIn(root: string, argv: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const [file, ...args] = inRoot(root, argv);
  return new Promise((resolve) => {
    execFile(file!, args, { env: CLEAN_ENV, timeout: Math.max(1, Math.round(timeoutMs)), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() || (err && code === null ? err.message : '') });
    });
  });
}

/** One service of a scan-dir instance, as the adapter tracks it. */
export interface Entry {
  name: string;
  /** service directory, symlinks resolved, inside the root */
  dirIn: string;
  /** the same on the host, canonical (compared with /proc/PID/cwd) */
  hostDir: string;
  notify: boolean;
  /** why the service cannot run (no executable ./run): state error */
  problem: string | undefined;
  target: Target;
  touchedAt: number;
  /** after a scanner (re)start: bring the supervise process to a `down` target */
  enforce: boolean;
  restarts: number;
  status?: ServiceStatus;
}

/** Is `p` a directory (false when it cannot be read)? */
export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `p` with symlinks resolved, or `p` itself when that fails. */
export function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
