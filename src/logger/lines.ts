/**
 * lines.ts — bytes of a pipe → complete lines, as bytes, without a string per line.
 *
 * The logger's hot path: a read of up to 64 KiB becomes ONE new buffer holding its complete
 * lines, each as `<prefix><line>\n` (a \r before the \n dropped, a line longer than MAX_LINE cut
 * into pieces), plus the count. The prefix is what the target wants in front of every line
 * (`<time> <stream> ` for a file, `[instance/name] ` for the console, nothing otherwise), so the
 * same buffer is filed and kept in the tail. The unfinished rest of a read waits, copied, for
 * the next read. Nothing here decodes UTF-8: lines are filed as the service wrote them; the tail
 * decodes when asked.
 */

export const MAX_LINE = 64 * 1024;
const NL = 10;
const CR = 13;

/** complete lines, each `<prefix><line>\n`, every prefix prefixLen bytes long */
export interface Lines {
  body: Buffer;
  count: number;
  prefixLen: number;
}

export const NO_LINES: Lines = { body: Buffer.alloc(0), count: 0, prefixLen: 0 };

export class LineSplitter {
  private partial: Buffer[] = [];
  private partialLen = 0;

  /** the complete lines of what was read so far, each behind `prefix`; the rest waits */
  push(chunk: Buffer, prefix: Buffer): Lines {
    let nl = chunk.indexOf(NL, 0);
    if (nl < 0) {
      this.keep(chunk);
      return this.cutLong(prefix);
    }
    const spans: number[] = []; // [start, end) pairs into `src`
    let joined: Buffer | undefined;
    let pos = 0;
    if (this.partialLen > 0) {
      this.partial.push(chunk.subarray(0, nl));
      joined = Buffer.concat(this.partial, this.partialLen + nl);
      this.partial = [];
      this.partialLen = 0;
      pos = nl + 1;
      nl = chunk.indexOf(NL, pos);
    }
    while (nl >= 0) {
      spans.push(pos, nl);
      pos = nl + 1;
      nl = chunk.indexOf(NL, pos);
    }
    if (pos < chunk.length) this.keep(chunk.subarray(pos));
    return layOut(prefix, chunk, spans, joined);
  }

  /** at end of file: the unfinished line, if any, as a line of its own */
  end(prefix: Buffer): Lines {
    if (this.partialLen === 0) return NO_LINES;
    const rest = Buffer.concat(this.partial, this.partialLen);
    this.partial = [];
    this.partialLen = 0;
    return layOut(prefix, rest, [0, rest.length]);
  }

  /** copy (never keep a slice of a 64 KiB read alive for a few bytes) */
  private keep(part: Buffer): void {
    this.partial.push(Buffer.from(part));
    this.partialLen += part.length;
  }

  /** an unfinished line beyond MAX_LINE is cut: its first MAX_LINE bytes become a line */
  private cutLong(prefix: Buffer): Lines {
    if (this.partialLen < MAX_LINE) return NO_LINES;
    const all = Buffer.concat(this.partial, this.partialLen);
    const whole = all.length - (all.length % MAX_LINE);
    this.partial = whole < all.length ? [Buffer.from(all.subarray(whole))] : [];
    this.partialLen = all.length - whole;
    const spans: number[] = [];
    for (let s = 0; s < whole; s += MAX_LINE) spans.push(s, s + MAX_LINE);
    return layOut(prefix, all, spans, undefined, false);
  }
}

/** `text` (one line, no \n) as Lines behind `prefix` */
export function oneLine(prefix: Buffer, text: string): Lines {
  const b = Buffer.from(text.replace(/\n/g, ' '));
  return layOut(prefix, b, [0, b.length]);
}

/**
 * Lay out the lines — an optional joined first one, then the [start, end) spans of `src` — each
 * behind `prefix`, in one new buffer (its own memory: a tail that keeps it pins nothing else).
 */
function layOut(prefix: Buffer, src: Buffer, spans: number[], joined?: Buffer, stripCr = true): Lines {
  const ends: number[] = []; // [buffer index (0 joined, 1 src), start, end] per output line
  const add = (which: number, buf: Buffer, s: number, e: number): void => {
    if (stripCr && e > s && buf[e - 1] === CR) e--;
    if (e - s <= MAX_LINE) ends.push(which, s, e);
    else for (let p = s; p < e; p += MAX_LINE) ends.push(which, p, Math.min(e, p + MAX_LINE));
  };
  if (joined) add(0, joined, 0, joined.length);
  for (let i = 0; i < spans.length; i += 2) add(1, src, spans[i]!, spans[i + 1]!);
  const count = ends.length / 3;
  let size = count * (prefix.length + 1);
  for (let i = 0; i < ends.length; i += 3) size += ends[i + 2]! - ends[i + 1]!;
  const body = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (let i = 0; i < ends.length; i += 3) {
    at += prefix.copy(body, at);
    at += (ends[i] === 0 ? joined! : src).copy(body, at, ends[i + 1]!, ends[i + 2]!);
    body[at++] = NL;
  }
  return { body, count, prefixLen: prefix.length };
}

/** the lines as strings, without their prefix (for the tail and followers) */
export function lineStrings(lines: Lines, withPrefix = false): string[] {
  const { body } = lines;
  const prefixLen = withPrefix ? 0 : lines.prefixLen;
  if (body.length === 0) return [];
  const out: string[] = [];
  let pos = 0;
  while (pos < body.length) {
    const nl = body.indexOf(NL, pos);
    out.push(body.toString('utf8', pos + prefixLen, nl));
    pos = nl + 1;
  }
  return out;
}
