/**
 * rotating-file.ts — a service's log file: appended to, rotated by size, never able to stall.
 *
 * Model. Lines are queued and written one batch at a time (asynchronously: a slow disk never
 * blocks PID 1). When the file would grow beyond max_size it is rotated first: name.log.(keep-1)
 * → name.log.keep … name.log → name.log.1, the oldest falling off. A failed write (an unwritable
 * path, a full disk) keeps its lines at the head of the queue and is retried every RETRY_MS until
 * it succeeds, so logging resumes by itself once the cause is gone; `backlog` (the queued bytes)
 * is what the sink (logsink.ts) bounds by pausing its pipes or dropping lines, and `onDrain` tells
 * it when the backlog is below LOW_WATER again. close() never waits for a failing file.
 */
import { mkdirSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** queued bytes below which the sink may read its pipes again */
export const LOW_WATER = 256 * 1024;
/** a failed write is tried again after this long */
export const RETRY_MS = 1000;

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
  private queue: string[] = [];
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

  append(line: string): void {
    this.queue.push(line);
    this.queued += Buffer.byteLength(line);
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
    while (this.queue.length > 0) {
      const lines = this.queue;
      this.queue = [];
      let written = 0;
      try {
        await this.ensureOpen();
        let batch: string[] = [];
        let batchBytes = 0;
        for (const line of lines) {
          const bytes = Buffer.byteLength(line);
          if (this.size + batchBytes + bytes > this.target.maxSize && this.size + batchBytes > 0) {
            await this.write(batch.join(''), batchBytes);
            written += batch.length;
            batch = [];
            batchBytes = 0;
            await this.rotate();
          }
          batch.push(line);
          batchBytes += bytes;
        }
        await this.write(batch.join(''), batchBytes);
        written += batch.length;
        if (this.failing) this.onError(`writing ${this.target.file} again`);
        this.failing = false;
      } catch (e) {
        // the unwritten lines go back to the head of the queue, in order; a retry writes them
        this.queue = [...lines.slice(written), ...this.queue];
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
        return;
      }
      if (this.queued < LOW_WATER) this.onDrain();
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

  private async write(text: string, bytes: number): Promise<void> {
    if (!text) return;
    await (await this.ensureOpen()).appendFile(text);
    this.size += bytes;
    this.queued -= bytes;
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
