/**
 * rotating-file.ts — a service's log file: appended to, rotated by size, never able to stall.
 *
 * Model. Lines (buffers of whole lines, lines.ts) are queued and written a batch at a time,
 * asynchronously, in the logger process (main.ts): a slow disk never blocks PID 1. When the file
 * would grow beyond max_size it is rotated first, at a line boundary: name.log.(keep-1) →
 * name.log.keep … name.log → name.log.1, the oldest falling off. A failed or short write keeps
 * what is unwritten at the head of the queue and is retried every RETRY_MS until it succeeds, so
 * logging resumes by itself once the cause is gone; `backlog` (the queued bytes) is what the
 * service's log (service-log.ts) bounds by pausing its pipes or dropping lines, and `onDrain`
 * tells it when the backlog is below LOW_WATER again. close() never waits for a failing file.
 */
import { mkdirSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** queued bytes below which the sink may read its pipes again */
export const LOW_WATER = 256 * 1024;
/** a failed write is tried again after this long */
export const RETRY_MS = 1000;
/** bytes written in one write(2) at most */
const BATCH = 256 * 1024;

/** Where and how big: the part of a sink's `log:` setting that concerns the file. */
export interface FileTarget {
  /** absolute path */
  file: string;
  /** rotate before the file would grow beyond this many bytes */
  maxSize: number;
  /** rotated files kept */
  keep: number;
}

/** One log file (see the top of this file). */
export class RotatingFile {
  private handle: FileHandle | undefined;
  private size = 0;
  /** whole lines, each buffer ending in \n; the head may be the rest of a partly written one */
  private queue: Buffer[] = [];
  private queued = 0;
  private pumping: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  failing = false;

  constructor(
    private target: FileTarget,
    private readonly onError: (message: string) => void,
    /** the backlog went below LOW_WATER (or was written after a failure) */
    private readonly onDrain: () => void = () => undefined,
  ) {}

  /** bytes queued and not yet written */
  get backlog(): number {
    return this.queued;
  }

  /** queue whole lines (each ending in \n) */
  append(lines: Buffer | string): void {
    const b = typeof lines === 'string' ? Buffer.from(lines) : lines;
    if (b.length === 0) return;
    this.queue.push(b);
    this.queued += b.length;
    this.kick();
  }

  /** Resolves once the queue is written — or the write is failing (it is retried in the background). */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** switch to a new target (file, size, keep); takes effect for the next line */
  async retarget(target: FileTarget): Promise<void> {
    await this.flush();
    if (target.file !== this.target.file) await this.closeHandle();
    this.target = target;
  }

  /** Write what is queued, then close the file until the next line (a finished oneshot). */
  async idle(): Promise<void> {
    await this.flush();
    if (!this.pumping) await this.closeHandle();
  }

  /** Write what is queued (unless it is failing), then close; no retry after this. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.flush();
    await this.closeHandle();
  }

  private kick(): void {
    if (this.retry) return; // failing: the retry timer writes next
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.ensureOpen();
        const room = this.target.maxSize - this.size;
        const head = this.gather(room);
        if (head.length <= room) {
          await this.write(head.length);
        } else {
          // the head does not fit: write the whole lines that do (on an empty file at least one
          // line, however long), then rotate
          const fits = room > 0 ? head.lastIndexOf(10, room - 1) + 1 : 0;
          const first = this.size === 0 && fits === 0 ? head.indexOf(10) + 1 || head.length : fits;
          if (first > 0) await this.write(first);
          if (this.queue.length > 0) await this.rotate();
        }
        if (this.queued < LOW_WATER) this.onDrain();
      }
      if (this.failing) this.onError(`writing ${this.target.file} again`);
      this.failing = false;
    } catch (e) {
      // what is unwritten stays at the head of the queue, in order; a retry writes it
      if (!this.failing) this.onError(`unable to write ${this.target.file}: ${(e as Error).message} (fix: free space or make the path writable; writing resumes by itself, retried every ${RETRY_MS / 1000} s)`);
      this.failing = true;
      await this.closeHandle();
      if (!this.closed) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.kick();
        }, RETRY_MS);
        this.retry.unref();
      }
    }
  }

  /** join small queued buffers into one head (up to BATCH bytes, or what fits before a rotation) */
  private gather(room: number): Buffer {
    const limit = Math.max(Math.min(room, BATCH), 1);
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.length <= limit)) bytes += this.queue[n++]!.length;
    if (n > 1) this.queue.splice(0, n, Buffer.concat(this.queue.slice(0, n), bytes));
    return this.queue[0]!;
  }

  /** write the first `len` bytes of the head, consuming them as they are written */
  private async write(len: number): Promise<void> {
    const h = await this.ensureOpen();
    while (len > 0) {
      const head = this.queue[0]!;
      const { bytesWritten } = await h.write(head, 0, len);
      this.size += bytesWritten;
      this.queued -= bytesWritten;
      len -= bytesWritten;
      if (bytesWritten === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(bytesWritten);
    }
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (!this.handle) {
      mkdirSync(dirname(this.target.file), { recursive: true, mode: 0o755 });
      this.handle = await open(this.target.file, 'a', 0o640);
      this.size = (await this.handle.stat()).size;
    }
    return this.handle;
  }

  /** name.log.(keep-1) → name.log.keep … name.log → name.log.1; the oldest falls off */
  private async rotate(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    this.size = 0;
    await h?.close();
    const { file, keep } = this.target;
    const ignoreMissing = (e: NodeJS.ErrnoException): void => {
      if (e.code !== 'ENOENT') throw e;
    };
    if (keep === 0) {
      await unlink(file).catch(ignoreMissing);
      return;
    }
    // each rename replaces its target in one step (the oldest falls off that way): no moment
    // without name.log.1 for a reader, as an unlink first would leave
    for (let i = keep - 1; i >= 1; i--) await rename(`${file}.${i}`, `${file}.${i + 1}`).catch(ignoreMissing);
    await rename(file, `${file}.1`).catch(ignoreMissing);
  }
}
