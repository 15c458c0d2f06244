/**
 * console-tap.ts — a pseudo-terminal metainit holds the master of (a hosted systemd's
 * /dev/console), opened to viewers: `metainit console NAME`. It keeps the last SCROLLBACK bytes
 * of output so that a viewer who attaches late sees what came before, hands every chunk to each
 * attached viewer (any number at once), and passes what a viewer types to the terminal. Output
 * nobody watches costs only the scrollback copy.
 */
import type { PtyRun } from './pty-runner.js';

/** bytes of output kept for a viewer who attaches later */
export const SCROLLBACK = 64 * 1024;

export class ConsoleTap {
  private back = '';
  private readonly viewers = new Set<(chunk: string) => void>();
  private readonly stop: () => void;

  constructor(private readonly run: Pick<PtyRun, 'onData' | 'write'>, private readonly limit = SCROLLBACK) {
    this.stop = run.onData((chunk) => this.take(chunk));
  }

  /** what was printed lately (at most `limit` characters, cut at a line start when it can be) */
  scrollback(): string {
    return this.back;
  }

  /** every chunk from now on goes to `cb` until the returned function is called */
  attach(cb: (chunk: string) => void): () => void {
    this.viewers.add(cb);
    return () => this.viewers.delete(cb);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  write(data: string): void {
    this.run.write(data);
  }

  close(): void {
    this.stop();
    this.viewers.clear();
  }

  private take(chunk: string): void {
    this.back += chunk;
    if (this.back.length > this.limit) {
      const cut = this.back.length - this.limit;
      const nl = this.back.indexOf('\n', cut);
      this.back = this.back.slice(nl >= 0 && nl - cut < 1024 ? nl + 1 : cut);
    }
    for (const v of this.viewers) {
      try {
        v(chunk);
      } catch {
        /* one viewer's trouble is not the others' */
      }
    }
  }
}
