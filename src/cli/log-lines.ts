/**
 * log-lines.ts — `metainit logs -o cat|short|json` and `--since`: a filed line
 * (`<ISO time> <stream> <text>`, or metainit's own `<ISO time> metainit: <text>`) read back into
 * time, stream and text, and written out in the form asked for.
 */
import { localTime } from './format.js';

export interface LogRecord {
  /** ms since epoch, when the line carries its time */
  time?: number | undefined;
  stream?: string | undefined;
  line: string;
}

export type LogOutput = 'cat' | 'short' | 'json';
export const LOG_OUTPUTS: readonly LogOutput[] = ['cat', 'short', 'json'];

const FILED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (stdout|stderr|metainit:) (.*)$/;

/** a raw line (as the API gives it with raw: true) → its parts */
export function parseLogLine(raw: string): LogRecord {
  const m = FILED.exec(raw);
  if (!m) return { line: raw };
  return { time: Date.parse(m[1]!), stream: m[2] === 'metainit:' ? 'stdout' : m[2], line: m[3]! };
}

export function formatLogRecord(r: LogRecord, output: LogOutput, service: string): string {
  if (output === 'cat') return r.line;
  if (output === 'json') return JSON.stringify({ service, ...(r.time !== undefined ? { time: new Date(r.time).toISOString() } : {}), ...(r.stream ? { stream: r.stream } : {}), line: r.line });
  return `${r.time !== undefined ? localTime(r.time, true) : '-'.padEnd(23)} ${(r.stream ?? '-').padEnd(6)} ${r.line}`;
}

/**
 * `--since`: a duration back from now (`10m`, `2h`, `30s`, `1d`) or a time (`2026-12-01 21:00`,
 * an ISO timestamp, `21:00` today). Undefined when it is neither.
 */
export function parseSince(text: string, now = Date.now()): number | undefined {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)$/.exec(text.trim());
  if (d) return now - Number(d[1]) * { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'ms']!;
  const clock = /^(\d\d?):(\d\d)(?::(\d\d))?$/.exec(text.trim());
  if (clock) {
    const t = new Date(now);
    t.setHours(Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0), 0);
    return t.getTime();
  }
  const t = Date.parse(text.trim().replace(' ', 'T'));
  return Number.isNaN(t) ? undefined : t;
}
