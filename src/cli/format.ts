/**
 * format.ts — human output of the CLI: aligned tables, colour only on a terminal.
 *
 * Colour follows the usual conventions (NO_COLOR disables it, FORCE_COLOR forces it). States are
 * coloured by class: ready green, on its way yellow, failed red, stopped dim. Kept free of heavy
 * imports: the fast path loads it.
 */
import type { ServiceStatus } from '../base/states.js';
import type { RoleRow } from '../roles/registry.js';

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR) return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

const CODES = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1 } as const;
export type Paint = keyof typeof CODES;

export function paint(text: string, how: Paint, color: boolean): string {
  return color ? `\x1b[${CODES[how]}m${text}\x1b[0m` : text;
}

const STATE_PAINT: Record<string, Paint> = {
  running: 'green',
  ok: 'green',
  waiting: 'yellow',
  starting: 'yellow',
  respawn: 'yellow',
  stopping: 'yellow',
  error: 'red',
  stopped: 'dim',
};

export function paintState(state: string, color: boolean): string {
  return paint(state, STATE_PAINT[state] ?? 'bold', color);
}

/** Render rows as aligned columns; cells may contain colour codes (ignored for width). */
export function table(header: string[], rows: string[][], color: boolean): string {
  const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c))))
      .join('  ')
      .trimEnd();
  return [paint(line(header), 'bold', color), ...rows.map(line)].join('\n');
}

/** "2026-12-01 21:10:03" (with `millis`, ".123" too), in local time */
export function localTime(ms: number, millis = false): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const s = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return millis ? `${s}.${p(d.getMilliseconds(), 3)}` : s;
}

/** "850 ms", "12 s", "3 min 5 s", "2 h 10 min": how long, in words */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** the compact form for table columns: "12s", "3m05s", "2h10m", "4d03h" */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export const STATUS_HEADER = ['SERVICE', 'STATE', 'PID', 'SINCE', 'RESTARTS', 'REASON'];

export function statusTable(services: ServiceStatus[], color: boolean, now = Date.now()): string {
  return table(STATUS_HEADER, statusRows(services, color, now), color);
}

/** the rows of statusTable, for a table that adds rows of its own */
export function statusRows(services: ServiceStatus[], color: boolean, now = Date.now()): string[][] {
  return services.map((s) => [
    s.id,
    paintState(s.state, color),
    s.pid !== undefined ? String(s.pid) : '-',
    duration(now - s.since),
    String(s.restarts),
    s.reason ?? '',
  ]);
}

/** Aligned text table: ROLE HOLDER STATE VETOED; "unowned" for a null holder, "-" for nothing. */
export function formatRoleTable(rows: RoleRow[], opts: { color: boolean }): string {
  const { color } = opts;
  return table(
    ['ROLE', 'HOLDER', 'STATE', 'VETOED'],
    rows.map((r) => [
      r.role,
      r.holder ?? paint('unowned', 'dim', color),
      r.state !== null ? paintState(r.state, color) : '-',
      r.vetoed.length > 0 ? r.vetoed.join(', ') : '-',
    ]),
    color,
  );
}
