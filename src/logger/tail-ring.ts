/**
 * tail-ring.ts — the last lines of a service, kept as the buffers they arrived in.
 *
 * Entries are the compact line buffers of lines.ts (one per read), never strings: keeping the
 * tail costs no decoding on the hot path. The oldest entry goes once the newer ones hold
 * `lines` lines on their own, or while the ring holds more than MAX_BYTES.
 */
import { lineStrings, type Lines } from './lines.js';

/** bytes a ring may hold, whatever `tail` says (1000 lines of 64 KiB would be 64 MiB) */
export const MAX_BYTES = 2 * 1024 * 1024;

export class TailRing {
  private entries: Lines[] = [];
  private count = 0;
  private bytes = 0;

  constructor(private lines: number) {}

  resize(lines: number): void {
    this.lines = lines;
    this.trim();
  }

  push(l: Lines): void {
    if (l.count === 0 || this.lines <= 0) return;
    this.entries.push(l);
    this.count += l.count;
    this.bytes += l.body.length;
    this.trim();
  }

  /** the last n lines (n ≤ 0: none) */
  /** the last n lines; `withPrefix`: as filed, `<time> <stream> ` in front where the target gives it */
  last(n: number, withPrefix = false): string[] {
    if (n <= 0) return [];
    const out: string[][] = [];
    let got = 0;
    for (let i = this.entries.length - 1; i >= 0 && got < n; i--) {
      const ls = lineStrings(this.entries[i]!, withPrefix);
      out.push(ls);
      got += ls.length;
    }
    return out.reverse().flat().slice(-Math.min(n, this.lines));
  }

  private trim(): void {
    while (this.entries.length > 0) {
      const first = this.entries[0]!;
      const enoughWithout = this.count - first.count >= this.lines;
      if (!enoughWithout && !(this.bytes > MAX_BYTES && this.entries.length > 1)) break;
      this.entries.shift();
      this.count -= first.count;
      this.bytes -= first.body.length;
    }
    if (this.lines <= 0) {
      this.entries = [];
      this.count = 0;
      this.bytes = 0;
    }
  }
}
