/**
 * status-view.ts — what `metainit status` prints beyond the plain table: the filters (several
 * names, `instance/`, globs, `--state`), the rows of definitions that failed to load
 * (`bad-config`), the "changed on disk" marker, and the detail view of one service
 * (`status NAME`, as systemctl status shows one unit). Pure formatting: the fast path loads it.
 */
import type { ServiceStatus } from '../base/states.js';
import { shq } from '../base/shell-quote.js';
import { humanDuration, localTime, paint, paintState, STATUS_HEADER, statusRows, table } from './format.js';

export interface Problem {
  id: string;
  file: string;
  message: string;
}

export interface Detail {
  status: ServiceStatus;
  kind: string;
  file: string;
  command?: string[] | undefined;
  dependents: string[];
  processes: Array<{ pid: number; depth: number; command: string }>;
  log: string[];
}

/** does `pattern` pick service id `id` (name `name`)? exact id, bare name, `instance/`, or a glob with `*` */
export function matches(pattern: string, id: string, name: string): boolean {
  if (pattern.endsWith('/')) return id.startsWith(pattern);
  if (pattern.includes('*')) {
    const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(id) || re.test(name);
  }
  return pattern === id || pattern === name;
}

/** a pattern that names exactly one service (no glob, no instance prefix) */
export function isExactName(pattern: string): boolean {
  return !pattern.includes('*') && !pattern.endsWith('/');
}

/** the services (and problems) picked by the patterns and states; none given: all */
export function pick<T extends { id: string; name?: string; state?: string }>(rows: T[], patterns: string[], states: string[]): T[] {
  return rows.filter((r) => {
    const name = r.name ?? r.id.slice(r.id.indexOf('/') + 1);
    if (patterns.length > 0 && !patterns.some((p) => matches(p, r.id, name))) return false;
    return states.length === 0 || states.includes(r.state ?? 'bad-config');
  });
}

/** the table, with bad-config rows and the changed-on-disk marker and its footnote */
export function statusList(services: ServiceStatus[], problems: Problem[], color: boolean, now = Date.now()): string {
  const marked = services.map((s) => (s.changed ? { ...s, state: `${s.state}*` as ServiceStatus['state'] } : s));
  const bad = problems.map((p) => [p.id, paint('bad-config', 'red', color), '-', '-', '-', p.message]);
  let text = table(STATUS_HEADER, [...statusRows(marked, color, now), ...bad], color);
  const changed = services.filter((s) => s.changed).map((s) => s.id);
  if (changed.length > 0) text += `\n* changed on disk since it started: run metainit apply ${changed.length === 1 ? changed[0] : 'NAME'} to use the new definition`;
  return text;
}

/** "5 s ago", "3 min 5 s ago", "2 days ago" (in whole seconds: a state change is not more precise) */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 86_400) return `${humanDuration(s * 1000)} ago`;
  return `${Math.floor(s / 86_400)} days ago`;
}

/** a word as a shell would need it written (plain words as they are) */
const quoteArg = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : shq(a));

/** `status NAME`: one service, as systemctl status shows a unit */
export function detailView(d: Detail, color: boolean, now = Date.now()): string {
  const s = d.status;
  const dot = paint('●', s.state === 'running' || s.state === 'ok' ? 'green' : s.state === 'error' ? 'red' : s.state === 'stopped' ? 'dim' : 'yellow', color);
  const lines = [`${dot} ${paint(s.id, 'bold', color)} — ${s.kind} of instance ${s.instance} (${d.kind})`];
  const row = (key: string, value: string): void => void lines.push(`${key.padStart(12)}: ${value}`);
  row('state', `${paintState(s.state, color)} since ${localTime(s.since)} (${ago(now - s.since)})${s.reason ? ` — ${s.reason}` : ''}`);
  row('target', s.target);
  row('defined in', d.file);
  if (s.changed) row('changed', `on disk since it started (fix: metainit apply ${s.id})`);
  if (d.command) row('command', d.command.map(quoteArg).join(' '));
  if (s.pid !== undefined) row('main pid', String(s.pid));
  if (s.lastExit) row('last exit', s.lastExit.signal ? `killed by ${s.lastExit.signal}` : `exit code ${s.lastExit.code ?? '?'}`);
  row('restarts', String(s.restarts));
  row('after', s.after.length ? s.after.join(', ') : '-');
  row('dependents', d.dependents.length ? d.dependents.join(', ') : '-');
  if (d.processes.length > 0) {
    lines.push(`${'processes'.padStart(12)}:`);
    for (const p of d.processes) lines.push(`${' '.repeat(14)}${'  '.repeat(p.depth)}${p.depth > 0 ? '└─' : ''}${p.pid} ${p.command}`);
  }
  if (d.log.length > 0) {
    lines.push('', paint(`last ${d.log.length} log line(s):`, 'bold', color));
    for (const l of d.log) lines.push(`  ${l}`);
  }
  return lines.join('\n');
}
