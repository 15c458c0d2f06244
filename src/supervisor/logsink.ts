/**
 * logsink.ts — a service's stdout/stderr: pipes held by metainit, split into lines, kept and filed.
 *
 * Model. Each service owns ONE LogSink for its whole life, created before its first run: two
 * pipes (stdout, stderr) made once with sys.pipe(). Every run of the service gets the write ends
 * as its fds 1 and 2; metainit keeps the read ends AND its own copy of the write ends open, so a
 * pipe never sees end-of-file when a run exits and a restart loses no line (the s6/runit
 * "supervise holds the pipe" idea). The four fds are listed in `fds` so that PID 1 can keep them
 * across a re-exec and re-open the sink with `LogSink.adopt`.
 *
 * Each complete line (split on \n, a trailing \r dropped, lines longer than 64 KiB cut) goes to:
 *   - the in-memory ring of the last `tail` lines (`metainit logs`);
 *   - the target: `file` — `<time> <stream> <line>` appended to the log file, which is rotated
 *     when it would grow beyond max_size, keeping `keep` old files (name.log.1 is the newest);
 *     `console` — `[instance/name] line` on metainit's stdout; `none` — nowhere else;
 *   - an AdapterEvent {type:'log'} for live followers.
 * File writes are asynchronous and queued, so a slow disk never blocks PID 1; `flush()` waits.
 * The queue is bounded: beyond HIGH_WATER bytes the sink stops reading its pipes (`when_full:
 * block`, the default — the service blocks on its full pipe, as under s6-log) or drops lines and
 * counts them (`when_full: drop`, one marker line once the file caught up). A failing write is
 * retried (rotating-file.ts), so logging resumes by itself when space returns, and close() never
 * waits for a failing file: nothing here can hold up a shutdown.
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { AdapterEvent } from '../base/events.js';
import type { Sys } from '../base/sys.js';
import { RotatingFile, type FileTarget } from './rotating-file.js';

const MAX_LINE = 64 * 1024;
/** how long close() lets a pipe drain before dropping it */
const DRAIN_MS = 300;
/** queued file bytes above which the pipes pause (when_full: block) or lines are dropped (drop); reading resumes below rotating-file.ts' LOW_WATER */
const HIGH_WATER = 1024 * 1024;

export type LogStream = 'stdout' | 'stderr';

/** Where a service's lines go (normalised from the `log:` key). */
export interface LogTarget extends FileTarget {
  to: 'file' | 'console' | 'none';
  /** lines kept in memory */
  tail: number;
  /** the file cannot keep up (slow or full disk): block the service on its pipe, or drop lines (counted) */
  whenFull: 'block' | 'drop';
}

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
  /** where console lines go (default: metainit's stdout) */
  console?: ((text: string) => void) | undefined;
  /** a problem with the log file (reported once per failure streak) */
  onError?: ((message: string) => void) | undefined;
}

/** Bytes → complete lines, keeping the unfinished tail for the next chunk. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  push(chunk: Buffer, out: (line: string) => void): void {
    const text = this.partial + this.decoder.write(chunk);
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    while (this.partial.length > MAX_LINE) {
      parts.push(this.partial.slice(0, MAX_LINE));
      this.partial = this.partial.slice(MAX_LINE);
    }
    for (const p of parts) out(p.endsWith('\r') ? p.slice(0, -1) : p);
  }

  /** the unfinished line, if any (at end-of-file) */
  end(out: (line: string) => void): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) out(rest);
  }
}

/** The two pipes of a service (stdout, stderr), both ends. */
function newPipes(sys: Pick<Sys, 'pipe'>): LogFds {
  const [stdoutReadFd, stdoutWriteFd] = sys.pipe();
  const [stderrReadFd, stderrWriteFd] = sys.pipe();
  return { stdoutReadFd, stdoutWriteFd, stderrReadFd, stderrWriteFd };
}

export class LogSink {
  private readonly ring: string[] = [];
  private readonly readers: Socket[] = [];
  private file: RotatingFile | undefined;
  private target: LogTarget;
  private closed = false;
  /** the pipes are paused because the file is behind (when_full: block) */
  private paused = false;
  /** lines dropped since the file fell behind (when_full: drop) */
  private dropped = 0;

  /** Create the two pipes of a new service. */
  static open(sys: Pick<Sys, 'pipe'>, opts: LogSinkOptions): LogSink {
    return new LogSink(newPipes(sys), opts);
  }

  /** Re-open the pipes of a service after a re-exec of PID 1 (they were kept without close-on-exec). */
  static adopt(sys: Pick<Sys, 'setCloexec'>, opts: LogSinkOptions, fds: LogFds): LogSink {
    for (const fd of Object.values(fds)) sys.setCloexec(fd, true);
    return new LogSink(fds, opts);
  }

  /** the pipes, or undefined while released (a finished oneshot) */
  private pipes: LogFds | undefined;

  private constructor(
    fds: LogFds,
    private readonly opts: LogSinkOptions,
  ) {
    this.target = opts.target;
    if (this.target.to === 'file') this.file = this.newFile(this.target);
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

  /** the last n lines (n ≤ 0: none) */
  tail(n: number): string[] {
    return n > 0 ? this.ring.slice(-n) : [];
  }

  /** Apply a changed `log:` setting (a reload) without touching the pipes. */
  async retarget(target: LogTarget): Promise<void> {
    if (this.file && target.to !== 'file') {
      await this.file.close();
      this.file = undefined;
    }
    if (this.file) await this.file.retarget(target);
    else if (target.to === 'file') this.file = this.newFile(target);
    this.target = target;
    this.trimRing();
  }

  /** Add a line as if the service had written it (e.g. metainit's own note about a run). */
  line(stream: LogStream, line: string, time = Date.now()): void {
    let toFile = this.target.to === 'file';
    if (toFile && this.file && this.file.backlog > HIGH_WATER) {
      if (this.target.whenFull === 'drop') {
        this.dropped++; // not filed; the tail and followers still see it
        toFile = false;
      } else this.pause(); // block: what is already read is kept; the pipe fills and the service waits
    }
    this.ring.push(line);
    this.trimRing();
    if (toFile) this.file?.append(`${new Date(time).toISOString()} ${stream} ${line}\n`);
    else if (this.target.to === 'console') (this.opts.console ?? ((t: string) => process.stdout.write(t)))(`[${this.opts.id}] ${line}\n`);
    this.opts.emit({ type: 'log', id: this.opts.id, stream, line, time });
  }

  /** wait until every line read so far is in the log file */
  async flush(): Promise<void> {
    await this.file?.flush();
  }

  /**
   * Close the sink for good (the service is gone): drop metainit's write ends, read what is left
   * in the pipes (up to DRAIN_MS, in case a stray process still holds a write end), close the file.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
    await this.file?.close();
  }

  /**
   * A finished oneshot needs no pipes until it runs again (four descriptors per service add up
   * with thousands of them): drop the write ends, read what is left (up to DRAIN_MS), close the
   * read ends and the log file. The tail stays; reopen() makes new pipes for the next run, and
   * the file is opened again with its next line.
   */
  async release(): Promise<void> {
    const fds = this.pipes;
    if (!fds) return;
    this.pipes = undefined;
    for (const fd of [fds.stdoutWriteFd, fds.stderrWriteFd]) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    const readers = this.readers.splice(0);
    await Promise.all(
      readers.map(
        (r) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => r.destroy(), DRAIN_MS);
            r.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            if (r.destroyed) resolve();
          }),
      ),
    );
    if (!this.closed) await this.file?.idle();
  }

  /** New pipes after a release (the next run of a oneshot). */
  reopen(sys: Pick<Sys, 'pipe'>): void {
    if (this.pipes || this.closed) return;
    this.paused = false;
    this.attach(newPipes(sys));
  }

  /** Take `fds` as the sink's pipes and read both. */
  private attach(fds: LogFds): void {
    this.pipes = fds;
    this.read(fds.stdoutReadFd, 'stdout');
    this.read(fds.stderrReadFd, 'stderr');
  }

  private newFile(target: LogTarget): RotatingFile {
    return new RotatingFile(target, (m) => this.opts.onError?.(`${this.opts.id}: ${m}`), () => this.drained());
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const r of this.readers) r.pause();
  }

  /** The file caught up: resume the pipes, and say how many lines were dropped meanwhile. */
  private drained(): void {
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.line('stderr', `metainit: ${n} line(s) dropped: the log file could not keep up (log: {when_full: drop})`);
    }
    if (!this.paused) return;
    this.paused = false;
    for (const r of this.readers) r.resume();
  }

  private read(fd: number, stream: LogStream): void {
    const splitter = new LineSplitter();
    const reader = new Socket({ fd, readable: true, writable: false });
    reader.on('data', (chunk: Buffer) => splitter.push(chunk, (l) => this.line(stream, l)));
    reader.on('end', () => splitter.end((l) => this.line(stream, l)));
    reader.on('error', (e) => this.opts.onError?.(`${this.opts.id}: unable to read ${stream}: ${e.message}`));
    this.readers.push(reader);
  }

  private trimRing(): void {
    const excess = this.ring.length - this.target.tail;
    if (excess > 0) this.ring.splice(0, excess);
  }
}
