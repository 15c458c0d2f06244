/**
 * client-commands.ts — what each client command does, shared by the fast path and oclif.
 *
 * A command connects to the control socket, makes one request and prints the answer: a table on
 * a terminal, stable JSON with --json. Exit codes (EXIT below): 0 done, 1 the request failed
 * (job failed, service error), 2 usage, 69 metainit unreachable (sysexits' EX_UNAVAILABLE); for
 * `status NAME`, `is-active` as systemctl and LSB `status` do: 0 active, 3 not running, 4 no such
 * service; `is-failed`: 0 failed, 1 not. Errors go to stderr as one line
 * `<subject>: unable to <verb> <object>: <reason>`.
 */
import { connect, defaultSocket } from '../services-api/client.js';
import type { ServiceStatus } from '../base/states.js';
import type { RoleRow } from '../roles/registry.js';
import { detailView, isExactName, matches, pick, statusList, type Detail, type Problem } from './status-view.js';
import { eventLine, eventService } from './events-view.js';
import { formatLogRecord, LOG_OUTPUTS, parseLogLine, parseSince, type LogOutput, type LogRecord } from './log-lines.js';
import type { Event } from '../base/events.js';
import { formatRoleTable, humanDuration, paint, paintState, useColor } from './format.js';

type Flags = Record<string, string | number | boolean | undefined>;
type Args = Record<string, string | undefined>;

interface StatusResult {
  manager: { pid: number; mode: string; uptime: number; reaped: number; version: string };
  services: ServiceStatus[];
  problems?: Problem[];
}
interface JobResult {
  result: 'done' | 'failed' | 'timeout' | 'canceled' | 'dependency' | 'queued';
  status: ServiceStatus;
  blocked_by?: string[];
  waited?: number;
}

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const err = (s: string): void => void process.stderr.write(s + '\n');

/** the exit codes of the client commands (README, Command line) */
export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, noSuchService: 4, unreachable: 69 } as const;

/** a state that counts as active (systemctl's "active": running, or a oneshot that finished well) */
const ACTIVE = new Set(['running', 'ok']);

/** systemctl's words for is-active */
function activeWord(state: string): string {
  if (ACTIVE.has(state)) return 'active';
  if (state === 'error') return 'failed';
  if (state === 'starting' || state === 'waiting' || state === 'respawn') return 'activating';
  if (state === 'stopping') return 'deactivating';
  return 'inactive';
}

type Client = Awaited<ReturnType<typeof connect>>;

/** the NAME… words of status and events: the declared argument and the rest */
const namesOf = (args: Args, rest: string[]): string[] => [args.name, ...rest].filter((n): n is string => !!n);

/** hand every event to `onEvent` until the connection closes or ^C (logs -f, events) */
function followUntilEnd(client: Client, onEvent: (ev: unknown) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    client.stream(onEvent);
    client.onClose(resolve);
    process.once('SIGINT', () => resolve());
  });
}

/** one client command; `rest` holds the positionals beyond the declared arguments (status NAME…) */
type Run = (client: Client, args: Args, flags: Flags, color: boolean, rest: string[]) => Promise<number>;

/**
 * status [NAME…] [--state LIST]: one exact NAME → the detail view (exit 0 active, 3 not, 4 none);
 * several, `instance/`, globs or --state → the table filtered (0 when every picked service is
 * active, 3 when not, 4 when nothing matched); nothing → the whole table with bad-config rows.
 */
async function status(client: Client, args: Args, flags: Flags, color: boolean, rest: string[]): Promise<number> {
  const patterns = namesOf(args, rest);
  const states = typeof flags.state === 'string' ? flags.state.split(',').map((s) => s.trim()).filter(Boolean) : [];
  if (patterns.length === 1 && isExactName(patterns[0]!) && states.length === 0) {
    const res = (await client.call('status', { name: patterns[0] })) as StatusResult;
    if (flags.json) out(JSON.stringify(res, null, 2));
    else out(detailView((await client.call('describe', { name: patterns[0], lines: 10 })) as Detail, color));
    return res.services.some((s) => ACTIVE.has(s.state)) ? EXIT.ok : EXIT.notRunning;
  }
  const res = (await client.call('status', flags.all ? { all: true } : {})) as StatusResult;
  const services = pick(res.services, patterns, states);
  const problems = pick(res.problems ?? [], patterns, states);
  if (flags.json) out(JSON.stringify({ ...res, services, problems }, null, 2));
  else {
    const m = res.manager;
    out(`${paint('metainit', 'bold', color)} pid ${m.pid}, ${m.mode} mode, up ${Math.round(m.uptime / 1000)}s, ${m.reaped} orphan(s) reaped`);
    out(statusList(services, problems, color));
  }
  if (patterns.length === 0 && states.length === 0) return EXIT.ok;
  if (services.length === 0 && problems.length === 0) {
    if (!flags.json) err(`metainit status: no service matches ${[...patterns, ...states.map((s) => `--state ${s}`)].join(' ')} (fix: see metainit status)`);
    return EXIT.noSuchService;
  }
  return problems.length === 0 && services.every((s) => ACTIVE.has(s.state)) ? EXIT.ok : EXIT.notRunning;
}

/** is-active / is-failed NAME: one word on stdout, the answer in the exit code (for scripts) */
function isState(which: 'active' | 'failed'): Run {
  return async (client, args) => {
    const res = (await client.call('status', { name: args.name })) as StatusResult;
    const st = res.services[0]?.state ?? 'unknown';
    out(activeWord(st));
    if (which === 'active') return ACTIVE.has(st) ? EXIT.ok : EXIT.notRunning;
    return st === 'error' ? EXIT.ok : EXIT.failed;
  };
}

/** "30" → 30 s, "500ms", "10s", "2m", "1h" → ms; undefined when it is no duration */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}

/** the line a job ends with: what happened, where the service is, what it waits for and since when */
function jobLine(verb: string, res: JobResult, color: boolean): string {
  const st = res.status;
  const id = st.id;
  if (res.result === 'dependency' && res.blocked_by?.length) {
    const deps = res.blocked_by.join(', ');
    const one = res.blocked_by.length === 1;
    return `${id}: unable to ${verb}: ${one ? 'its dependency' : 'its dependencies'} ${deps} ${one ? 'is' : 'are'} stopped and nothing will start ${one ? 'it' : 'them'} (fix: metainit start ${res.blocked_by[0]}, or metainit ${verb} --with-deps ${id})`;
  }
  const pending = st.state === 'waiting' || st.state === 'starting' || st.state === 'stopping';
  const why = st.reason ? ` (${st.reason}${pending ? ` for ${humanDuration(Date.now() - st.since)}` : ''})` : pending ? ` (for ${humanDuration(Date.now() - st.since)})` : '';
  const after = res.result === 'timeout' && res.waited !== undefined ? ` after ${humanDuration(res.waited)}` : '';
  const tail = res.result === 'timeout' ? ' — the job goes on' : '';
  return `${id}: ${verb} ${res.result}${after}, now ${paintState(st.state, color)}${why}${tail}`;
}

/** start, stop, restart, reload, apply: one job on one service */
function job(verb: string): Run {
  return async (client, args, flags, color) => {
    const params: Record<string, unknown> = { name: args.name };
    if (flags['no-block'] === true) params.no_block = true;
    if (flags['with-deps'] === true) params.with_deps = true;
    if (typeof flags.timeout === 'string') {
      const ms = parseDuration(flags.timeout);
      if (ms === undefined) {
        err(`metainit ${verb}: unable to parse --timeout: "${flags.timeout}" is not a duration (fix: 30, 500ms, 10s, 2m)`);
        return EXIT.usage;
      }
      params.timeout = ms;
    }
    const res = (await client.call(verb, params)) as JobResult;
    if (flags.json) out(JSON.stringify(res, null, 2));
    else (res.result === 'done' || res.result === 'queued' ? out : err)(jobLine(verb, res, color));
    return res.result === 'done' || res.result === 'queued' ? 0 : 1;
  };
}

/** logs NAME [-n N] [-f] [-o cat|short|json] [--since WHEN] */
async function logs(client: Client, args: Args, flags: Flags): Promise<number> {
  const output = (typeof flags.output === 'string' ? flags.output : 'cat') as LogOutput;
  if (!LOG_OUTPUTS.includes(output)) {
    err(`metainit logs: unable to parse --output: "${output}" is not a format (fix: one of ${LOG_OUTPUTS.join(', ')})`);
    return EXIT.usage;
  }
  const since = typeof flags.since === 'string' ? parseSince(flags.since) : undefined;
  if (typeof flags.since === 'string' && since === undefined) {
    err(`metainit logs: unable to parse --since: "${flags.since}" is neither a duration nor a time (fix: 10m, 2h, 21:00, 2026-12-01 21:00)`);
    return EXIT.usage;
  }
  // --since looks through the whole tail, -n then bounds what is shown
  const n = (flags.lines as number | undefined) ?? 50;
  const raw = (await client.call('logs', { name: args.name, lines: since !== undefined ? 100_000 : n, follow: !!flags.follow, raw: true })) as string[];
  // metainit's own log is shown as it is written (its lines carry their time already)
  const own = (line: string): LogRecord => (output === 'cat' ? { line } : parseLogLine(line));
  let records = args.name === 'metainit' ? raw.map(own) : raw.map(parseLogLine);
  if (since !== undefined) records = records.filter((r) => r.time === undefined || r.time >= since).slice(-n);
  const service = String(args.name);
  for (const r of records) out(formatLogRecord(r, output, service));
  if (!flags.follow) return 0;
  await followUntilEnd(client, (ev) => {
    const e = ev as { type: string; line?: string; time?: number; stream?: string; id?: string };
    if (e.type === 'log' && e.line !== undefined) out(formatLogRecord(e.id === 'metainit' ? own(e.line) : { time: e.time, stream: e.stream, line: e.line }, output, e.id ?? service));
  });
  return 0;
}

/** Ctrl-] ends a console session, as in telnet and virsh console */
const DETACH = '\x1d';

/** console NAME: the scrollback, then live output; what is typed goes to the console; Ctrl-] detaches */
async function consoleCmd(client: Client, args: Args): Promise<number> {
  const res = (await client.call('console', { name: args.name })) as { id: string; scrollback: string };
  const tty = process.stdin.isTTY === true;
  if (tty) err(`metainit: attached to the console of ${res.id}; detach with Ctrl-]`);
  process.stdout.write(res.scrollback);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      if (tty) process.stdin.setRawMode(false);
      process.stdin.pause();
      resolve();
    };
    client.stream((raw) => {
      const ev = raw as { type: string; data?: string };
      if (ev.type === 'console' && ev.data !== undefined) process.stdout.write(ev.data);
    });
    client.onClose(done);
    if (tty) process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      const at = chunk.indexOf(DETACH);
      const typed = at >= 0 ? chunk.slice(0, at) : chunk;
      if (typed) client.call('console-input', { name: args.name, data: typed }).catch(() => undefined);
      if (at >= 0) done();
    });
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  if (tty) err('\nmetainit: detached');
  return EXIT.ok;
}

const EVENT_TYPES = ['state', 'orphan', 'log', 'message', 'shutdown'];

/** events [NAME…] [--type LIST] [--json]: one line per event until interrupted */
async function events(client: Client, args: Args, flags: Flags, color: boolean, rest: string[]): Promise<number> {
  const patterns = namesOf(args, rest);
  const types = typeof flags.type === 'string' ? flags.type.split(',').map((t) => t.trim()).filter(Boolean) : EVENT_TYPES.filter((t) => t !== 'log');
  const unknown = types.filter((t) => !EVENT_TYPES.includes(t));
  if (unknown.length > 0 || types.length === 0) {
    err(`metainit events: unable to parse --type: ${unknown.length ? `"${unknown.join(',')}" is not an event type` : 'no type given'} (fix: one or more of ${EVENT_TYPES.join(', ')})`);
    return EXIT.usage;
  }
  await client.call('events', { types });
  await followUntilEnd(client, (raw) => {
    const ev = raw as Event;
    const id = eventService(ev);
    if (patterns.length > 0 && (id === undefined || !patterns.some((p) => matches(p, id, id.slice(id.indexOf('/') + 1))))) return;
    out(flags.json ? JSON.stringify(ev) : eventLine(ev, color));
  });
  return EXIT.ok;
}

/** sync: what was added, removed and changed, then the problems found */
async function sync(client: Client, _args: Args, flags: Flags, color: boolean): Promise<number> {
  const res = (await client.call('sync', {})) as { added: string[]; removed: string[]; changed: string[]; diagnostics: Array<{ level: string; message: string }> };
  const diags = res.diagnostics;
  if (flags.json) out(JSON.stringify(res, null, 2));
  else {
    const parts = [
      res.added.length ? `added ${res.added.join(', ')}` : '',
      res.removed.length ? `removed ${res.removed.join(', ')}` : '',
      res.changed.length ? `changed ${res.changed.join(', ')} (run metainit apply NAME to use the new definition)` : '',
    ].filter(Boolean);
    out(`sync: configuration re-read: ${parts.length ? parts.join('; ') : 'nothing added, removed or changed'}; ${diags.length === 0 ? 'no problems' : `${diags.length} problem(s):`}`);
    for (const d of diags) out(`${d.level === 'error' ? paint('error', 'red', color) : paint('warning', 'yellow', color)}: ${d.message}`);
  }
  return diags.some((d) => d.level === 'error') ? 1 : 0;
}

function printRoles(rows: RoleRow[], flags: Flags, color: boolean): number {
  if (flags.json) out(JSON.stringify(rows, null, 2));
  else out(formatRoleTable(rows, { color }));
  return 0;
}

function power(verb: string): Run {
  return async (client) => {
    await client.call(verb, {});
    out(`metainit: ${verb} requested`);
    return 0;
  };
}

const RUN: Record<string, Run> = {
  status,
  'is-active': isState('active'),
  'is-failed': isState('failed'),
  start: job('start'),
  stop: job('stop'),
  restart: job('restart'),
  reload: job('reload'),
  apply: job('apply'),
  kill: async (client, args, flags) => {
    await client.call('kill', { name: args.name, signal: args.signal, ...(flags.main === true ? { whom: 'main' } : {}) });
    out(`${args.name}: sent ${String(args.signal).toUpperCase()}`);
    return 0;
  },
  logs,
  console: consoleCmd,
  events,
  sync,
  roles: async (client, _args, flags, color) => printRoles((await client.call('roles', {})) as RoleRow[], flags, color),
  halt: power('halt'),
  poweroff: power('poweroff'),
  reboot: power('reboot'),
  reexec: power('reexec'),
};

export async function runClientCommand(name: string, args: Args, flags: Flags, rest: string[] = []): Promise<number> {
  const run = RUN[name];
  if (!run) {
    err(`metainit: unable to run ${name}: not a client command`);
    return 2;
  }
  const color = useColor();
  if (name === 'roles' && typeof flags['config-dir'] === 'string') {
    // offline: the roles booting that directory would decide (the same pipeline as boot)
    const { offlineRoles } = await import('./offline.js');
    return printRoles(await offlineRoles(flags['config-dir']), flags, color);
  }
  const socket = (flags.socket as string | undefined) || defaultSocket();
  let client;
  try {
    client = await connect(socket);
  } catch (e) {
    err((e as Error).message);
    return EXIT.unreachable;
  }
  try {
    return await run(client, args, flags, color, rest);
  } catch (e) {
    const message = (e as Error).message;
    err(message);
    // status of a name that resolves to nothing: LSB's "program or service status is unknown" (4);
    // any other command on it simply failed (1)
    const unknown = /unable to find service|no such service/i.test(message);
    if (unknown && (name === 'status' || name === 'is-active')) return EXIT.noSuchService;
    return EXIT.failed;
  } finally {
    client.close();
  }
}
