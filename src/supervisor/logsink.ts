/**
 * logsink.ts — a service's stdout/stderr: pipes held by PID 1, their bytes moved by the logger.
 *
 * Model. Each service owns ONE LogSink for its whole life, created before its first run: two
 * pipes (stdout, stderr) made once with sys.pipe(). Every run of the service gets the write ends
 * as its fds 1 and 2; PID 1 keeps the read ends AND its own copy of the write ends open, so a
 * pipe never sees end-of-file when a run exits and a restart loses no line (the s6/runit
 * "supervise holds the pipe" idea). The four fds are listed in `fds` so that PID 1 can keep them
 * across a re-exec and re-open the sink with `LogSink.adopt`.
 *
 * PID 1 never reads the pipes: it hands the read ends to the logger process
 * (logger-process.ts, src/logger/), which splits the bytes into lines and files them, keeps the
 * tail (`tail()` asks it) and sends lines only for services someone follows (`follow()`). A
 * flood of output, a slow or full disk, a crashed logger: none of it reaches PID 1's event loop
 * or memory — at worst the service blocks on its full pipe (`when_full: block`) or lines are
 * dropped and counted (`when_full: drop`), and the restarted logger reads on.
 */
import { closeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { AdapterEvent } from '../base/events.js';
import type { Sys } from '../base/sys.js';
import type { LogStream, LogTarget } from '../logger/protocol.js';
import { sharedLogger, type LoggerProcess } from './logger-process.js';

export type { LogStream, LogTarget } from '../logger/protocol.js';

/** The `log:` key as the schema gives it: a word or an object with defaults filled in. */
export type LogConfigValue =
  | 'file'
  | 'console'
  | 'none'
  | { to: 'file' | 'console' | 'none'; file?: string | undefined; max_size: number; keep: number; tail: number; when_full: 'block' | 'drop' };

const DEFAULTS = { maxSize: 1024 * 1024, keep: 3, tail: 1000, whenFull: 'block' as const };

/** `log:` value → LogTarget; the default file is `<logDir>/<instance>/<name>.log`, a relative `file` is relative to that dir. */
export function logTarget(config: LogConfigValue, logDir: string, instance: string, name: string): LogTarget {
  const dir = join(logDir, instance);
  if (typeof config === 'string') return { to: config, file: join(dir, `${name}.log`), ...DEFAULTS };
  const file = config.file === undefined ? join(dir, `${name}.log`) : isAbsolute(config.file) ? config.file : join(dir, config.file);
  return { to: config.to, file, maxSize: config.max_size, keep: config.keep, tail: config.tail, whenFull: config.when_full };
}

/** The four descriptors of a sink (names end in "Fd" so PID 1 finds them in snapshots). */
export interface LogFds {
  stdoutReadFd: number;
  stdoutWriteFd: number;
  stderrReadFd: number;
  stderrWriteFd: number;
}

export interface LogSinkOptions {
  /** "instance/name" */
  id: string;
  target: LogTarget;
  emit(ev: AdapterEvent): void;
  /** a problem with the log file (reported once per failure streak) */
  onError?: ((message: string) => void) | undefined;
  /** the logger to hand the pipes to (default: this process's shared one) */
  logger?: LoggerProcess | undefined;
}

/** The two pipes of a service (stdout, stderr), both ends — or none: a failing second pipe (EMFILE) closes the first, so a retry leaks nothing. */
function newPipes(sys: Pick<Sys, 'pipe'>): LogFds {
  const [stdoutReadFd, stdoutWriteFd] = sys.pipe();
  try {
    const [stderrReadFd, stderrWriteFd] = sys.pipe();
    return { stdoutReadFd, stdoutWriteFd, stderrReadFd, stderrWriteFd };
  } catch (e) {
    closeSync(stdoutReadFd);
    closeSync(stdoutWriteFd);
    throw e;
  }
}

type SinkSys = Pick<Sys, 'pipe' | 'cloexecFrom'>;

export class LogSink {
  private readonly logger: LoggerProcess;
  private target: LogTarget;
  private closed = false;
  /** the pipes, or undefined while released (a finished oneshot) */
  private pipes: LogFds | undefined;

  /** Create the two pipes of a new service. */
  static open(sys: SinkSys, opts: LogSinkOptions): LogSink {
    return new LogSink(sys, newPipes(sys), opts);
  }

  /** Re-open the pipes of a service after a re-exec of PID 1 (they were kept without close-on-exec). */
  static adopt(sys: SinkSys & Pick<Sys, 'setCloexec'>, opts: LogSinkOptions, fds: LogFds): LogSink {
    for (const fd of Object.values(fds)) sys.setCloexec(fd, true);
    return new LogSink(sys, fds, opts);
  }

  private constructor(
    sys: SinkSys,
    fds: LogFds,
    private readonly opts: LogSinkOptions,
  ) {
    this.target = opts.target;
    this.logger = opts.logger ?? sharedLogger(sys);
    this.attach(fds);
  }

  /** the four descriptors (for the re-exec state), undefined while released */
  get fds(): LogFds | undefined {
    return this.pipes;
  }

  /** fd a run gets as its stdout (reopen() first after a release) */
  get stdout(): number {
    return this.pipes!.stdoutWriteFd;
  }

  /** fd a run gets as its stderr */
  get stderr(): number {
    return this.pipes!.stderrWriteFd;
  }

  /** the last n lines (n ≤ 0: none), from the logger's tail */
  async tail(n: number, raw = false): Promise<string[]> {
    return n > 0 ? this.logger.tail(this.opts.id, n, raw) : [];
  }

  /** Apply a changed `log:` setting (a reload) without touching the pipes. */
  retarget(target: LogTarget): void {
    this.target = target;
    this.logger.retarget(this.opts.id, target);
  }

  /** Add a line as if the service had written it (e.g. metainit's own note about a run). */
  line(stream: LogStream, line: string, time = Date.now()): void {
    this.logger.note(this.opts.id, stream, line, time);
  }

  /** wait until every line read so far is in the log file */
  async flush(): Promise<void> {
    await this.logger.flush(this.opts.id);
  }

  /**
   * Close the sink for good (the service is gone): drop PID 1's write ends; the logger reads
   * what is left (briefly, in case a stray process still holds a write end) and closes the file.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.letGo(true);
  }

  /**
   * A finished oneshot needs no pipes until it runs again (four descriptors per service add up
   * with thousands of them): drop the write ends, let the logger read what is left and close the
   * file until the next line. The tail stays; reopen() makes new pipes for the next run.
   */
  async release(): Promise<void> {
    await this.letGo(false);
  }

  /** New pipes after a release (the next run of a oneshot). */
  reopen(sys: Pick<Sys, 'pipe'>): void {
    if (this.pipes || this.closed) return;
    this.attach(newPipes(sys));
  }

  private async letGo(forGood: boolean): Promise<void> {
    const fds = this.pipes;
    if (!fds) {
      if (forGood) await this.logger.release(this.opts.id, true);
      return;
    }
    this.pipes = undefined;
    for (const fd of [fds.stdoutWriteFd, fds.stderrWriteFd]) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    await this.logger.release(this.opts.id, forGood); // closes PID 1's read ends too
  }

  /** Take `fds` as the sink's pipes and hand their read ends to the logger. */
  private attach(fds: LogFds): void {
    this.pipes = fds;
    const { id, emit, onError } = this.opts;
    this.logger.register(id, this.target, { stdout: fds.stdoutReadFd, stderr: fds.stderrReadFd }, {
      lines: (stream, lines, time) => {
        for (const line of lines) emit({ type: 'log', id, stream, line, time });
      },
      error: (m) => onError?.(`${id}: ${m}`),
    });
  }
}
