/**
 * process.ts — one run of a supervised process: check, launch, signal, learn its exit.
 *
 * Model. A *run* is one process started for a service. Before launching, the program is looked
 * up the way execvp would (a name without a slash is searched in the child's PATH), inside the
 * tree the service runs in; a missing or non-executable program is reported as a reason
 * (`exec: /usr/bin/x: not found`) instead of a process that dies at once.
 *
 * A run is launched with node's spawn, detached (own session and process group, so a stop can
 * reach the whole group with kill(-pid)), with:
 *   - a clean environment (environment.ts) and the service's uid/gid (userdb.ts) and cwd;
 *   - stdin on /dev/null, stdout/stderr on the write ends of the service's log pipes (logsink.ts),
 *     so every run of the service writes into the same pipes;
 *   - optionally a pipe at one more index (the s6-style readiness fd);
 *   - no other descriptor: every fd ≥ 3 of metainit is marked close-on-exec first.
 * A service with `root:` other than `/` runs through `chroot ROOT` (launchCommand below — the one
 * place that knows how; chroot then also switches user and group, and `env -C` sets the cwd).
 *
 * The exit is learnt from the ChildProcess 'exit' event, or — for a run adopted after a re-exec
 * of PID 1, which is no longer a libuv child — from the reaper's watch (adoptRun).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { signalName, signalNumber } from '../base/signames.js';
import type { Sys } from '../base/sys.js';
import { childEnv, DEFAULT_PATH } from './environment.js';
import { hostPath, inRoot, isHostRoot } from './rootfs.js';
import { resolveIdentity, type Identity } from './userdb.js';

/** How a run ended: exit code, or signal, or a launch error (then both are null). */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when the process could not be launched at all */
  error?: string;
}

export interface Run {
  readonly pid: number;
  /** ms epoch */
  readonly startedAt: number;
  /** the readiness pipe (read side of the fd passed at `readyFd`), when requested */
  readonly readyPipe?: Readable | undefined;
  /** call cb once, when the run has ended (immediately if it already has) */
  onExit(cb: (st: ExitStatus) => void): void;
}

export interface RunSpec {
  argv: string[];
  /** the tree the service runs in ('/' = host) */
  root: string;
  /** working directory inside root */
  cwd?: string | undefined;
  /** user and group, looked up in the root's passwd/group (default: metainit's own user) */
  user?: string | number | undefined;
  group?: string | number | undefined;
  /** the service's own environment variables (on top of the clean environment) */
  environ?: Record<string, string> | undefined;
  /** NOTIFY_SOCKET as the child sees it, for ready: notify */
  notifySocket?: string | undefined;
  /** fd for the child's stdout / stderr, or 'ignore' (/dev/null) */
  stdout: number | 'ignore';
  stderr: number | 'ignore';
  /** give the child a pipe at this fd number (readiness notification) */
  readyFd?: number | undefined;
}

/** "exit code 3", "killed by SIGKILL", or the launch error */
export function describeExit(st: { code: number | null; signal: string | null; error?: string | undefined }): string {
  if (st.error) return st.error;
  if (st.signal) return `killed by ${st.signal}`;
  return st.code === null ? 'exited' : `exit code ${st.code}`;
}

/** The program cannot be run; `reason` reads `exec: /usr/bin/x: not found`. */
export class ExecError extends Error {
  /** the shell's exit status for it: 127 not found, 126 found but not runnable */
  readonly status: 126 | 127;
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ExecError';
    this.status = /not found/.test(reason) ? 127 : 126;
  }
}

function isExecutableFile(path: string): 'ok' | 'not found' | 'not executable' {
  try {
    const st = statSync(path);
    if (!st.isFile()) return 'not executable';
    return (st.mode & 0o111) !== 0 ? 'ok' : 'not executable';
  } catch {
    return 'not found';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolve argv[0] like execvp does, inside `root`, using the child's PATH. Returns the path as
 * seen inside the root; throws ExecError when there is nothing to run.
 */
export function resolveProgram(program: string, root: string, path = DEFAULT_PATH): string {
  if (program.includes('/')) {
    const verdict = isExecutableFile(hostPath(root, program));
    if (verdict !== 'ok') throw new ExecError(`exec: ${program}: ${verdict}`);
    return program;
  }
  let denied: string | undefined;
  for (const dir of path.split(':').filter(Boolean)) {
    const candidate = `${dir.replace(/\/$/, '')}/${program}`;
    const verdict = isExecutableFile(hostPath(root, candidate));
    if (verdict === 'ok') return candidate;
    if (verdict === 'not executable') denied ??= candidate;
  }
  if (denied) throw new ExecError(`exec: ${denied}: not executable`);
  throw new ExecError(`exec: ${program}: not found in PATH`);
}

/** What to hand to spawn(): file, args and the uid/gid/cwd options. */
export interface Launch {
  file: string;
  args: string[];
  /** argv[0] as the program sees it */
  argv0: string;
  uid?: number | undefined;
  gid?: number | undefined;
  cwd?: string | undefined;
}

/**
 * The one helper that knows how to run `argv` as `identity` in `cwd` inside `root`. On the host
 * root spawn() sets uid/gid/cwd itself; inside another root, `chroot --userspec` switches user
 * after entering the tree and `env -C DIR` changes into the cwd there.
 */
export function launchCommand(argv: string[], root: string, identity: Pick<Identity, 'uid' | 'gid'>, cwd?: string): Launch {
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  if (isHostRoot(root)) {
    return {
      file: argv[0]!,
      args: argv.slice(1),
      argv0: argv[0]!,
      uid: identity.uid !== self.uid ? identity.uid : undefined,
      gid: identity.gid !== self.gid ? identity.gid : undefined,
      cwd: cwd ?? '/',
    };
  }
  const inner = cwd ? ['/usr/bin/env', '-C', cwd, ...argv] : argv;
  const [chroot, ...rest] = inRoot(root, inner);
  const userspec = identity.uid !== 0 || identity.gid !== 0 ? [`--userspec=${identity.uid}:${identity.gid}`] : [];
  return { file: chroot!, args: [...userspec, ...rest], argv0: chroot!, cwd: '/' };
}

/** kill(pid, sig), or the whole process group with `group`; false when nothing was there. */
export function signalRun(pid: number, sig: string, group = false): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false; // never PID 1, never "every process" (-1)
  const n = signalNumber(sig);
  if (n === undefined) throw new Error(`pid ${pid}: unable to send ${sig}: not a signal name (fix: use TERM, HUP, RTMIN+3 …)`);
  try {
    process.kill(group ? -pid : pid, n);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/**
 * What is left of a run's process group once its process has ended (a background child, a
 * forgotten helper): TERM and CONT now, KILL after `graceMs` if anything is still there — as
 * systemd treats a unit's remaining processes. The KILL is skipped once the group's id names a
 * living process again (a reused pid leads a new, unrelated group).
 */
export function endLeftovers(pgid: number, graceMs: number): void {
  if (!signalRun(pgid, 'SIGTERM', true)) return; // the group is empty
  signalRun(pgid, 'SIGCONT', true); // a stopped process gets to handle the TERM
  const timer = setTimeout(() => {
    if (!existsSync(`/proc/${pgid}`)) signalRun(pgid, 'SIGKILL', true);
  }, graceMs);
  timer.unref();
}

/** A Run whose end is reported by whoever calls `end()` (ChildProcess events or the reaper). */
class RunHandle implements Run {
  private ended: ExitStatus | undefined;
  private readonly waiters: Array<(st: ExitStatus) => void> = [];

  constructor(
    readonly pid: number,
    readonly startedAt: number,
    readonly readyPipe?: Readable,
  ) {}

  onExit(cb: (st: ExitStatus) => void): void {
    if (this.ended) cb(this.ended);
    else this.waiters.push(cb);
  }

  end(st: ExitStatus): void {
    if (this.ended) return;
    this.ended = st;
    for (const w of this.waiters.splice(0)) w(st);
  }
}

/**
 * Launch one run. Throws ExecError when the program cannot be found; a failure of the launch
 * itself (setuid refused, chroot missing …) arrives as an ExitStatus with `error`.
 */
export function spawnRun(spec: RunSpec, sys: Pick<Sys, 'cloexecFrom'>): Run {
  let identity: Identity;
  try {
    identity = resolveIdentity(spec.root, spec.user, spec.group);
  } catch (e) {
    throw new ExecError((e as Error).message);
  }
  const env = childEnv({ identity, environ: spec.environ, notifySocket: spec.notifySocket });
  const program = resolveProgram(spec.argv[0]!, spec.root, env.PATH ?? DEFAULT_PATH);
  if (spec.cwd !== undefined && !isDirectory(hostPath(spec.root, spec.cwd))) throw new ExecError(`cwd: ${spec.cwd}: not found`);
  const launch = launchCommand([program, ...spec.argv.slice(1)], spec.root, identity, spec.cwd);
  if (isHostRoot(spec.root)) launch.argv0 = spec.argv[0]!; // like execvp: argv[0] as written
  const stdio: StdioOptions = ['ignore', spec.stdout, spec.stderr];
  if (spec.readyFd !== undefined) {
    while (stdio.length < spec.readyFd) stdio.push('ignore');
    stdio[spec.readyFd] = 'pipe';
  }
  sys.cloexecFrom([]);
  let child: ChildProcess;
  try {
    child = spawn(launch.file, launch.args, {
      detached: true,
      cwd: launch.cwd,
      uid: launch.uid,
      gid: launch.gid,
      env,
      stdio,
      argv0: launch.argv0,
    });
  } catch (e) {
    throw new ExecError(`exec: ${program}: ${(e as Error).message}`);
  }
  const readyPipe = spec.readyFd !== undefined ? (child.stdio[spec.readyFd] as Readable | null) ?? undefined : undefined;
  const run = new RunHandle(child.pid ?? -1, Date.now(), readyPipe);
  child.once('exit', (code, signal) => run.end({ code, signal }));
  child.once('error', (e: NodeJS.ErrnoException) => {
    if (child.pid === undefined || e.syscall?.startsWith('spawn')) {
      run.end({ code: null, signal: null, error: `exec: ${program}: ${e.code ?? e.message}` });
    }
  });
  return run;
}

/** A run in the foreground (schema.ts `foreground:`): metainit's stdio, environment and terminal. */
export interface ForegroundSpec {
  argv: string[];
  /** working directory (default: metainit's own) */
  cwd?: string | undefined;
  /** the service's own variables, on top of metainit's environment */
  environ?: Record<string, string> | undefined;
  notifySocket?: string | undefined;
}

/** errno names of a failing execve that mean "found, but not runnable" (exit 126) vs not found (127) */
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/**
 * Launch a foreground run with sys.spawnGroup (own process group in metainit's session, the
 * terminal's foreground). It is not a libuv child: its end comes from the reaper's `watch`.
 * Throws ExecError when the program cannot be found or executed (status 127 / 126).
 */
export function spawnForeground(spec: ForegroundSpec, sys: Pick<Sys, 'cloexecFrom' | 'spawnGroup'>, watch?: WatchPid): Run {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NOTIFY_SOCKET') env[k] = v;
  Object.assign(env, spec.environ ?? {});
  if (spec.notifySocket !== undefined) env.NOTIFY_SOCKET = spec.notifySocket;
  const program = resolveProgram(spec.argv[0]!, '/', env.PATH ?? DEFAULT_PATH);
  sys.cloexecFrom([]);
  let pid: number;
  try {
    pid = sys.spawnGroup(program, spec.argv, Object.entries(env).map(([k, v]) => `${k}=${v}`), spec.cwd ?? null, true);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.message.startsWith('chdir') ? `cwd: ${spec.cwd}` : `exec: ${program}`;
    throw new ExecError(`${what}: ${NOT_FOUND.has(err.code ?? '') ? 'not found' : err.message.replace(/^\w+: /, '').toLowerCase()}`);
  }
  return adoptRun(pid, Date.now(), watch);
}

/** A Run over a pty run (pty-runner.ts): its pid, and its end when node-pty learns it. */
export function ptyRunAsRun(pty: { pid: number; done: Promise<{ code: number | null; signal: string | null; error?: string | undefined }> }): Run {
  const run = new RunHandle(pty.pid, Date.now());
  void pty.done.then((r) => run.end({ code: r.code, signal: r.signal as NodeJS.Signals | null, ...(r.error ? { error: r.error } : {}) }));
  return run;
}

/**
 * What the reaper offers for pids that are not libuv children (adopted after a re-exec):
 * Reaper.watch. Returns false when the pid is not our child (then cb is never called).
 */
export type WatchPid = (pid: number, cb: (r: { code: number | null; signal: number | null }) => void) => boolean;

/** How often an adopted pid is probed when no reaper watch is available. */
const ADOPT_POLL_MS = 1000;

/**
 * Re-attach to a process started by a previous incarnation of PID 1. Its exit status comes from
 * the reaper's `watch`; without one, the pid is probed with kill(pid, 0) and its end is reported
 * with an unknown status (code and signal null) once it is gone.
 */
export function adoptRun(pid: number, startedAt: number, watch?: WatchPid): Run {
  const run = new RunHandle(pid, startedAt);
  if (watch) {
    const ours = watch(pid, (r) => run.end({ code: r.code, signal: r.signal === null ? null : (signalName(r.signal) as NodeJS.Signals) }));
    if (!ours) run.end({ code: null, signal: null });
    return run;
  }
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      clearInterval(timer);
      run.end({ code: null, signal: null });
    }
  }, ADOPT_POLL_MS);
  timer.unref();
  return run;
}
