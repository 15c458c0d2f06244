/**
 * console-log.ts — what a hosted systemd prints on its /dev/console (the pty metainit holds),
 * filed as `<log_dir>/<instance>/console.log`: `<ISO time> <line>` per line.
 *
 * Bounded, and never in PID 1's way: writes are asynchronous; while more than 256 KiB wait to be
 * written, lines are dropped and counted, and a line "[N lines dropped]" is written once the file
 * catches up; at 1 MiB the file is renamed to console.log.1 (the one before is replaced) and a new
 * one begun. A file that cannot be opened or written is reported once and the lines go nowhere
 * else — the instance runs on.
 */
import { createWriteStream, mkdirSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

const MAX_BYTES = 1024 * 1024;
const MAX_PENDING = 256 * 1024;

export class ConsoleLog {
  private out: WriteStream | undefined;
  private size = 0;
  private dropped = 0;
  private failed = false;

  constructor(
    readonly file: string,
    private readonly warn: (text: string) => void,
  ) {}

  private open(): WriteStream | undefined {
    if (this.failed) return undefined;
    if (this.out) return this.out;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      try {
        this.size = statSync(this.file).size;
      } catch {
        this.size = 0;
      }
      const out = createWriteStream(this.file, { flags: 'a', mode: 0o640 });
      out.on('error', (e) => this.fail(e));
      this.out = out;
      return out;
    } catch (e) {
      this.fail(e as Error);
      return undefined;
    }
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.out?.destroy();
    this.out = undefined;
    this.warn(`console log: unable to write ${this.file}: ${e.message} (fix: check log_dir; the console's lines are dropped meanwhile)`);
  }

  line(text: string): void {
    const out = this.open();
    if (!out) return;
    if (out.writableLength > MAX_PENDING) {
      this.dropped++;
      return;
    }
    const now = new Date().toISOString();
    let chunk = '';
    if (this.dropped > 0) {
      chunk += `${now} [${this.dropped} lines dropped]\n`;
      this.dropped = 0;
    }
    chunk += `${now} ${text}\n`;
    if (this.size + chunk.length > MAX_BYTES) this.rotate();
    this.size += Buffer.byteLength(chunk);
    this.out?.write(chunk);
  }

  private rotate(): void {
    const old = this.out;
    this.out = undefined;
    old?.end();
    try {
      renameSync(this.file, `${this.file}.1`);
    } catch {
      // nothing to keep
    }
    this.size = 0;
    this.open();
  }

  close(): void {
    this.out?.end();
    this.out = undefined;
  }
}
