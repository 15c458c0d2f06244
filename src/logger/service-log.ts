/**
 * service-log.ts — in the logger process: one service's pipes read, split, filed, kept, followed.
 *
 * A ServiceLog reads the read ends of the service's two pipes (stdout, stderr; PID 1 passed them
 * and keeps its own copies, so nothing is lost when this process restarts). Each read becomes the
 * compact buffer of its complete lines (lines.ts), which goes to:
 *   - the tail ring (`metainit logs`; filled from the end of an existing log file at start);
 *   - the target: `file` — `<time> <stream> <line>` appended to the rotating file; `console` —
 *     `[instance/name] line` on the logger's stdout (PID 1's); `none` — nowhere else;
 *   - PID 1, as strings, only while someone follows the service (`logs -f`, `events`), at most
 *     FOLLOW_BYTES a second: beyond that followers get a count of the lines they missed.
 * Backpressure: beyond HIGH_WATER queued file bytes the pipes are no longer read (`when_full:
 * block`, the default: the service blocks on its full pipe, as under s6-log) or lines are dropped
 * and counted (`when_full: drop`, one marker line when the file caught up). The file retries a
 * failing write by itself (rotating-file.ts), so logging resumes when space returns.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { LineSplitter, lineStrings, NO_LINES, oneLine, type Lines } from './lines.js';
import type { LogStream, LogTarget } from './protocol.js';
import { RotatingFile } from './rotating-file.js';
import { TailRing } from './tail-ring.js';

/** queued file bytes above which the pipes pause (block) or lines are dropped (drop) */
export const HIGH_WATER = 1024 * 1024;
/** bytes of lines a second sent to followers of one service */
export const FOLLOW_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/** how long release/close let a pipe drain before dropping it */
const DRAIN_MS = 300;
/** bytes of an existing log file read to fill the tail at start */
const SEED_BYTES = 256 * 1024;
/** `<ISO time> <stream> ` as the file has it */
const PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+Z (?:stdout|stderr) (.*)$/;

export interface ServiceLogHooks {
  /** lines for followers */
  lines(id: string, stream: LogStream, lines: string[], time: number): void;
  /** a problem with the file or a pipe (once per failure streak) */
  error(id: string, message: string): void;
  /** where console lines go */
  console(text: Buffer): void;
}

/** `<ISO time> <stream> ` as bytes, made once per millisecond and stream */
class PrefixCache {
  private time = -1;
  private cache: Partial<Record<LogStream, Buffer>> = {};

  get(time: number, stream: LogStream): Buffer {
    if (time !== this.time) {
      this.time = time;
      this.cache = {};
    }
    return (this.cache[stream] ??= Buffer.from(`${new Date(time).toISOString()} ${stream} `));
  }
}

export class ServiceLog {
  private readonly ring: TailRing;
  private readonly readers = new Map<LogStream, Socket>();
  private readonly prefixes = new PrefixCache();
  private readonly consolePrefix: Buffer;
  private file: RotatingFile | undefined;
  private paused = false;
  private dropped = 0;
  /** followers (PID 1 counts them); 0: nothing is sent */
  private followers = 0;
  private followBudget = FOLLOW_BYTES;
  private followRefill = Date.now();
  private unseen = 0;

  constructor(
    readonly id: string,
    private target: LogTarget,
    private readonly hooks: ServiceLogHooks,
  ) {
    this.ring = new TailRing(target.tail);
    this.consolePrefix = Buffer.from(`[${id}] `);
    if (target.to === 'file') {
      this.file = this.newFile(target);
      this.ring.push(fileTail(target.file));
    }
  }

  /** read a pipe (replacing an earlier reader of the same stream) */
  attach(stream: LogStream, socket: Socket): void {
    if (this.target.to === 'file') this.file ??= this.newFile(this.target);
    this.readers.get(stream)?.destroy();
    const splitter = new LineSplitter();
    this.readers.set(stream, socket);
    socket.on('data', (chunk: Buffer) => this.take(stream, splitter.push(chunk, this.prefix(stream))));
    socket.on('end', () => this.take(stream, splitter.end(this.prefix(stream))));
    socket.on('error', (e) => this.hooks.error(this.id, `unable to read ${stream}: ${e.message}`));
    if (this.paused) socket.pause();
  }

  async retarget(target: LogTarget): Promise<void> {
    if (this.file && target.to !== 'file') {
      await this.file.close();
      this.file = undefined;
    }
    if (this.file) await this.file.retarget(target);
    else if (target.to === 'file') this.file = this.newFile(target);
    this.target = target;
    this.ring.resize(target.tail);
  }

  follow(on: boolean): void {
    this.followers = Math.max(0, this.followers + (on ? 1 : -1));
  }

  /** the last n lines; `withPrefix` (kept only where the target files `<time> <stream> `) */
  tail(n: number, withPrefix = false): string[] {
    return this.ring.last(n, withPrefix && this.target.to === 'file');
  }

  /** a line metainit adds (a note about a run) */
  note(stream: LogStream, line: string, time = Date.now()): void {
    this.take(stream, oneLine(this.prefix(stream, time), line));
  }

  async flush(): Promise<void> {
    await this.file?.flush();
  }

  /**
   * Stop reading (the pipes are released or closed by PID 1): read what is left until the last
   * writer is gone or DRAIN_MS passed, then let go of the pipes and close the file until the next
   * line. `forGood` closes the file for good; `drainMs` 0 stops reading at once (another logger
   * reads on).
   */
  async release(forGood: boolean, drainMs = DRAIN_MS): Promise<void> {
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map((r) => drain(r, drainMs)));
    this.paused = false;
    if (forGood) {
      const f = this.file;
      this.file = undefined; // a service of the same name later gets a new one (attach)
      await f?.close();
    }
    else await this.file?.idle();
  }

  /** what goes in front of each line: `<time> <stream> ` in a file, `[id] ` on the console */
  private prefix(stream: LogStream, time = Date.now()): Buffer {
    if (this.target.to === 'file') return this.prefixes.get(time, stream);
    return this.target.to === 'console' ? this.consolePrefix : EMPTY;
  }

  private take(stream: LogStream, lines: Lines): void {
    if (lines.count === 0) return;
    this.ring.push(lines);
    if (this.target.to === 'file' && this.file) {
      if (this.file.backlog > HIGH_WATER && this.target.whenFull === 'drop') this.dropped += lines.count;
      else this.file.append(lines.body);
      if (this.file.backlog > HIGH_WATER && this.target.whenFull === 'block') this.pause();
    } else if (this.target.to === 'console') this.hooks.console(lines.body);
    if (this.followers > 0) this.forward(stream, lines);
  }

  private forward(stream: LogStream, lines: Lines): void {
    const now = Date.now();
    this.followBudget = Math.min(FOLLOW_BYTES, this.followBudget + ((now - this.followRefill) * FOLLOW_BYTES) / 1000);
    this.followRefill = now;
    if (this.followBudget < lines.body.length) {
      this.unseen += lines.count;
      return;
    }
    this.followBudget -= lines.body.length;
    const out = lineStrings(lines);
    if (this.unseen > 0) {
      out.unshift(`metainit: ${this.unseen} line(s) not shown: more than ${FOLLOW_BYTES / 1024} KiB/s (they are in the log file)`);
      this.unseen = 0;
    }
    this.hooks.lines(this.id, stream, out, now);
  }

  private newFile(target: LogTarget): RotatingFile {
    return new RotatingFile(target, (m) => this.hooks.error(this.id, m), () => this.drained());
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const r of this.readers.values()) r.pause();
  }

  /** The file caught up: resume the pipes, and say how many lines were dropped meanwhile. */
  private drained(): void {
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.note('stderr', `metainit: ${n} line(s) dropped: the log file could not keep up (log: {when_full: drop})`);
    }
    if (!this.paused) return;
    this.paused = false;
    for (const r of this.readers.values()) r.resume();
  }
}

/**
 * The last lines of an existing log file, without their `<time> <stream> ` prefix: the tail of a
 * restarted logger (or of PID 1 after a re-exec) goes on where the previous one stopped. Only a
 * regular file is read, its last SEED_BYTES at most, without blocking (this is the logger, not
 * PID 1, but a FIFO at the log path must not stall it either).
 */
function fileTail(file: string): Lines {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size === 0) return NO_LINES;
    const len = Math.min(st.size, SEED_BYTES);
    const buf = Buffer.alloc(len);
    const got = readSync(fd, buf, 0, len, st.size - len);
    let text = buf.toString('utf8', 0, got);
    if (len < st.size) text = text.slice(text.indexOf('\n') + 1); // the first line is cut
    const lines = text.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '');
    // kept as filed, `<time> <stream> ` in front (a line without one gets the file's time): the
    // tail can then show when each line was written, as `logs -o short` does
    const stamp = `${new Date(st.mtimeMs).toISOString()} stdout `;
    const filed = lines.map((l) => (PREFIX.test(l) ? l : stamp + l));
    return filed.length ? { body: Buffer.from(`${filed.join('\n')}\n`), count: filed.length, prefixLen: stamp.length } : NO_LINES;
  } catch {
    return NO_LINES; // no file yet, or unreadable: the file's own writer reports problems
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** read a pipe until its writers are gone (end) or `ms` passed, then close it */
function drain(r: Socket, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (r.destroyed) return resolve();
    const timer = setTimeout(() => r.destroy(), ms);
    r.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    r.resume();
  });
}
