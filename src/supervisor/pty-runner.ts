/**
 * pty-runner.ts — run one command on a pseudo-terminal of its own and keep what it printed.
 *
 * Model: Debian's startpar, which ran sysv init scripts in parallel, each on its own pty, so
 * that every script believes it writes to a console (scripts and the daemons they launch behave
 * as they do at boot) while its output is collected per script instead of interleaved with the
 * others'. One *run* is one command on one pty:
 *
 *   - output is cut into lines as it arrives: carriage returns (the pty turns "\n" into "\r\n")
 *     and terminal escape sequences (colours, cursor moves) are removed; each line goes to
 *     `onLine` at once and is kept for the run (the first `maxLines`);
 *   - the child is a session leader with the pty as its controlling terminal (node-pty calls
 *     setsid), so `kill()` reaches its whole process group, and `timeoutMs` SIGKILLs that group
 *     when the command hangs (an init script waiting for input, a daemon that never detaches);
 *   - with `detach`, the command runs under `setsid -w` (util-linux): in a session of its own
 *     *without* a controlling terminal, its output still on the pty. When a session leader with
 *     a controlling terminal exits, the kernel sends SIGHUP to the terminal's foreground group —
 *     which kills a daemon that an init script forked but that has not called setsid() yet
 *     (dbus-daemon did, one start in three). Init scripts must run detached; `kill()` then also
 *     signals the group of each child of the wrapper;
 *   - node-pty learns the exit from its own thread blocked in waitpid(pid): the pid is handed to
 *     the PID-1 reaper as *managed* until then, so the reaper never takes its status.
 * `done` never rejects: a program that cannot be executed ends with code 1 and node-pty's
 * "execvp(3) failed" line; one that cannot even be forked ends with code null and an `error`.
 * Nothing here knows about init scripts: any adapter can run commands through it.
 *
 * Two helpers for adapters built on it: `PtyPool`, the runs of one instance (commands run inside
 * its root, every live run at hand so a shutdown deadline can SIGKILL them all), and `LineTail`,
 * the last lines of one service's output across its runs (`metainit logs`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IPty } from 'node-pty';
import { signalName } from '../base/signames.js';
import { inRoot } from './rootfs.js';

/** The part of the PID-1 reaper a pty run needs (src/pid1/reaper.ts `Reaper` has it). */
export interface ManagedPids {
  manage(pid: number, stillOwned: () => boolean): void;
}

export interface PtyRunOptions {
  /** program and arguments; the program is looked up in env.PATH when it has no slash */
  argv: string[];
  env: Record<string, string>;
  /** working directory of the child (default '/') */
  cwd?: string | undefined;
  /** SIGKILL the run's process group after this many ms; 0 or undefined: no limit */
  timeoutMs?: number | undefined;
  /** every output line, as soon as it is complete */
  onLine?: ((line: string) => void) | undefined;
  /** lines kept in the result (default 5000); later lines still go to onLine */
  maxLines?: number | undefined;
  /** the reaper to register the pid with (pass the process-wide one when running as PID 1) */
  reaper?: ManagedPids | undefined;
  /** terminal width in columns (default 160) */
  cols?: number | undefined;
  /** run under `setsid -w`: no controlling terminal, so no hangup reaches what the command forks */
  detach?: boolean | undefined;
}

export interface PtyResult {
  /** pid of the run (0 when it could not be forked) */
  pid: number;
  /** exit code, or null when killed by a signal or not started */
  code: number | null;
  /** signal name (`SIGTERM`) when killed by a signal, else null */
  signal: string | null;
  /** output lines of this run, without CR or escape sequences */
  lines: string[];
  /** the timeout fired and the group was SIGKILLed */
  timedOut: boolean;
  /** set when the pty could not be created or the program not forked */
  error?: string;
  startedAt: number;
  endedAt: number;
}

export interface PtyRun {
  readonly pid: number;
  readonly done: Promise<PtyResult>;
  /** signal the run's process group (default SIGTERM); no-op once it has ended */
  kill(signal?: NodeJS.Signals): void;
  /** the terminal's output as it comes, escape sequences and all (a console viewer); returns the unsubscribe */
  onData(cb: (chunk: string) => void): () => void;
  /** type into the terminal (what a console viewer types) */
  write(data: string): void;
}

const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** One line as printed, without escape sequences and carriage returns. */
export function cleanLine(raw: string): string {
  return raw.replace(ESCAPES, '').replace(/\r/g, '');
}

/** Signal the process group led by `pid`, or the process alone when it leads none. */
function signalPidGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone meanwhile */
    }
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

type PtyModule = typeof import('node-pty');
let ptyModule: PtyModule | undefined;

/** node-pty is loaded on first use, so nothing that never runs a pty pays for it. */
function loadPty(): PtyModule {
  ptyModule ??= createRequire(import.meta.url)('node-pty') as PtyModule;
  return ptyModule;
}

/** Start `opts.argv` on a new pty. */
export function runOnPty(opts: PtyRunOptions): PtyRun {
  const startedAt = Date.now();
  const maxLines = opts.maxLines ?? 5000;
  const lines: string[] = [];
  let partial = '';
  const emit = (raw: string): void => {
    const line = cleanLine(raw);
    if (lines.length < maxLines) lines.push(line);
    try {
      opts.onLine?.(line);
    } catch {
      /* a listener must not break the run */
    }
  };

  const argv = opts.detach ? ['setsid', '-w', ...opts.argv] : opts.argv;
  let term: IPty;
  try {
    term = loadPty().spawn(argv[0]!, argv.slice(1), {
      name: opts.env.TERM ?? 'dumb',
      cols: opts.cols ?? 160,
      rows: 50,
      cwd: opts.cwd ?? '/',
      env: opts.env,
    });
  } catch (e) {
    const error = `${opts.argv[0]}: unable to start on a pty: ${(e as Error).message}`;
    const result: PtyResult = { pid: 0, code: null, signal: null, lines, timedOut: false, error, startedAt, endedAt: Date.now() };
    return { pid: 0, done: Promise.resolve(result), kill: () => undefined, onData: () => () => undefined, write: () => undefined };
  }

  const pid = term.pid;
  let exited = false;
  let timedOut = false;
  opts.reaper?.manage(pid, () => !exited);

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (exited) return;
    // the children first: under `detach` the command is a child leading a group of its own
    for (const child of childrenOf(pid)) signalPidGroup(child, signal);
    signalPidGroup(pid, signal);
  };

  const timer =
    opts.timeoutMs && opts.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          signalGroup('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
  timer?.unref();

  const viewers = new Set<(chunk: string) => void>();
  const dataSub = term.onData((chunk) => {
    for (const v of viewers) {
      try {
        v(chunk);
      } catch {
        /* a viewer must not break the run */
      }
    }
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const p of parts) emit(p);
  });

  const done = new Promise<PtyResult>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      exited = true;
      if (timer) clearTimeout(timer);
      dataSub.dispose();
      if (cleanLine(partial) !== '') emit(partial);
      partial = '';
      let sig = signal ? signalName(signal) : null;
      // node-pty sometimes loses the wait status of a process it did not see exit by itself (seen
      // under load: code 0, no signal, for a shell SIGKILLed waiting on `sleep 30`): a run that we
      // SIGKILLed at its timeout and that then ended "with 0" was killed, not successful
      if (timedOut && !sig && exitCode === 0) sig = 'SIGKILL';
      resolve({ pid, code: sig ? null : exitCode, signal: sig, lines, timedOut, startedAt, endedAt: Date.now() });
    });
  });

  return {
    pid,
    done,
    kill: (signal = 'SIGTERM') => signalGroup(signal),
    onData: (cb) => {
      viewers.add(cb);
      return () => viewers.delete(cb);
    },
    write: (data) => {
      if (!exited) term.write(data);
    },
  };
}

/** The pty runs of one adapter instance: commands run detached inside its root, live runs tracked. */
export class PtyPool {
  private readonly live = new Set<PtyRun>();

  constructor(
    private readonly opts: {
      /** the instance's root ('/' = host) */
      root: string;
      /** environment of every run */
      env: () => Record<string, string>;
      /** the reaper to register each pid with (installReaper gives the one process-wide reaper) */
      reaper: ManagedPids;
    },
  ) {}

  /** Run `argv` (a path inside the root) to its end. */
  async run(argv: string[], timeoutMs: number, onLine?: (line: string) => void, started?: (run: PtyRun) => void): Promise<PtyResult> {
    const run = runOnPty({ argv: inRoot(this.opts.root, argv), env: this.opts.env(), timeoutMs, onLine, reaper: this.opts.reaper, detach: true });
    this.live.add(run);
    started?.(run);
    try {
      return await run.done;
    } finally {
      this.live.delete(run);
    }
  }

  /** Signal every run still going (a shutdown deadline passed). */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const run of this.live) run.kill(signal);
  }
}

/** The last `max` lines of one service's output, across its runs. */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(private readonly max = 1000) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  last(n: number): string[] {
    return n <= 0 ? [] : this.lines.slice(-n);
  }

  get size(): number {
    return this.lines.length;
  }
}
