/**
 * handler.ts — the control API's methods, answered by the manager.
 *
 * Glue between the transport-independent ApiServer (server.ts) and the Manager: each method maps
 * to one manager call. Control methods are *jobs*: `start`, `stop`, `restart` wait until the
 * service reaches the wanted state and answer `done`, `failed` (it reached `error`), or `timeout`
 * (still on its way after JOB_TIMEOUT_MS — the job itself goes on). Subscriptions filter the
 * manager's event stream by type and, for `logs -f`, by service.
 */
import type { Mode } from '../base/mode.js';
import { DEFAULT_KINDS, isFailed, isReady, type ServiceStatus } from '../base/states.js';
import type { Sys } from '../base/sys.js';
import type { ShutdownKind } from '../base/types.js';
import type { Diagnostic } from '../base/types.js';
import type { Logger } from '../base/types.js';
import { roleTable } from '../roles/registry.js';
import type { Manager, ManagerEvent } from '../manager/manager.js';
import { checkConfig, planStage } from '../manager/plan.js';
import type { JobResult, Method } from './protocol.js';
import { ApiServer, type ConnInfo, type Handler, type SubscriptionFilter } from './server.js';
import { listenUnix } from './unix.js';

export const JOB_TIMEOUT_MS = 30_000;

export interface ApiHooks {
  mode: Mode;
  startedAt: number;
  reaped: () => number;
  shutdown: (kind: ShutdownKind) => void;
  reexec: () => void;
  /** follow PID 1's own log; returns an unsubscribe function */
  ownLog: (cb: (line: string) => void) => () => void;
}

export interface ApiHandle {
  close(): Promise<void>;
}

type Job = 'start' | 'stop' | 'restart';

/** Is `st` the end of job `job` begun at `since0`? → outcome, or null while still under way. */
export function jobOutcome(job: Job, st: ServiceStatus, since0: number): JobResult['result'] | null {
  if (job === 'stop') return st.state === 'stopped' || st.state === 'error' ? 'done' : null;
  if (job === 'restart' && st.since <= since0) return null; // nothing happened yet
  if (isReady(st.state)) return 'done';
  if (isFailed(st.state)) return st.reason?.startsWith('dependency') ? 'dependency' : 'failed';
  if (st.state === 'stopped' && st.target === 'down') return 'canceled';
  return null;
}

/** The status of one service by name; a user-facing error when there is none. */
function one(manager: Manager, name: string): ServiceStatus {
  const st = manager.status(name)[0];
  if (!st) throw new Error(`${name}: unable to find service: no such service (fix: see metainit status)`);
  return st;
}

interface JobOptions {
  /** ms to wait for the outcome (default JOB_TIMEOUT_MS) */
  timeout?: number | undefined;
  /** ask, answer `queued` at once */
  no_block?: boolean | undefined;
  /** start: start the stopped dependencies first (else the job fails at once naming them) */
  with_deps?: boolean | undefined;
}

/**
 * start / stop / restart: ask, then wait for the outcome in the event stream (or the timeout).
 * A start whose dependencies are stopped — nothing would ever start them — answers `dependency`
 * at once, naming them, unless `with_deps` starts them first.
 */
async function runJob(manager: Manager, job: Job, name: string, opts: JobOptions = {}): Promise<JobResult> {
  const t0 = Date.now();
  const before = one(manager, name);
  if (job !== 'stop') {
    const stopped = manager.stoppedDeps(before.id, opts.with_deps === true);
    if (stopped.length > 0 && !opts.with_deps) return { result: 'dependency', status: before, blocked_by: stopped.map((s) => s.id), waited: 0 };
    for (const dep of stopped) await manager.control('start', dep.id);
  }
  if (opts.no_block) {
    await manager.control(job, name);
    return { result: 'queued', status: one(manager, before.id), waited: Date.now() - t0 };
  }
  const timeoutMs = opts.timeout ?? JOB_TIMEOUT_MS;
  let armed = false; // a restart passes through stopped/down on its way: judge only once control() returned
  let finish: ((result: JobResult['result']) => void) | undefined;
  const done = new Promise<JobResult>((resolve) => {
    const timer = setTimeout(() => finish?.('timeout'), timeoutMs);
    const onEvent = (ev: ManagerEvent): void => {
      if (!armed || ev.type !== 'state' || ev.status.id !== before.id) return;
      const outcome = jobOutcome(job, ev.status, before.since);
      if (outcome) finish?.(outcome);
    };
    finish = (result) => {
      clearTimeout(timer);
      manager.events.off('event', onEvent);
      finish = undefined;
      resolve({ result, status: one(manager, before.id), waited: Date.now() - t0 });
    };
    manager.events.on('event', onEvent);
  });
  await manager.control(job, name);
  armed = true;
  const outcome = jobOutcome(job, one(manager, before.id), before.since); // already there?
  if (outcome) finish?.(outcome);
  return done;
}

/** reload / apply: one call that re-reads a definition; failed when its file has an error */
async function definitionJob(manager: Manager, run: () => Promise<Diagnostic[]>, name: string): Promise<JobResult> {
  const diagnostics = await run();
  return { result: diagnostics.some((d) => d.level === 'error') ? 'failed' : 'done', status: one(manager, name), diagnostics };
}

type Calls = { [M in Method]?: (p: Record<string, unknown>) => Promise<unknown> | unknown };

/** Each method, one manager call. */
function methods(manager: Manager, hooks: ApiHooks, version: string): Calls {
  const power = (kind: ShutdownKind): { ok: true } => {
    setImmediate(() => hooks.shutdown(kind));
    return { ok: true };
  };
  const name = (p: Record<string, unknown>): string => p.name as string;
  return {
    status: (p) => ({
      manager: { pid: process.pid, mode: hooks.mode, uptime: Date.now() - hooks.startedAt, reaped: hooks.reaped(), version },
      // one service by name whatever its kind; the whole list shows services and oneshots unless all
      services: manager.status(p.name as string | undefined).filter((s) => p.name !== undefined || p.all === true || DEFAULT_KINDS.includes(s.kind)),
      ...(p.name === undefined ? { problems: manager.problems() } : {}),
    }),
    start: (p) => runJob(manager, 'start', name(p), p as JobOptions),
    stop: (p) => runJob(manager, 'stop', name(p), p as JobOptions),
    restart: (p) => runJob(manager, 'restart', name(p), p as JobOptions),
    reload: (p) => definitionJob(manager, () => manager.reload(name(p)), name(p)),
    apply: (p) => definitionJob(manager, () => manager.apply(name(p)), name(p)),
    sync: () => manager.syncReport(),
    describe: (p) => manager.describe(name(p), (p.lines as number | undefined) ?? 10),
    console: (p) => {
      const { id, tap } = manager.console(name(p));
      return { id, scrollback: tap.scrollback() };
    },
    'console-input': (p) => {
      manager.console(name(p)).tap.write(p.data as string);
      return { ok: true };
    },
    kill: async (p) => {
      await manager.kill(name(p), p.signal as string, p.whom === 'main' ? 'main' : 'all');
      return { ok: true };
    },
    logs: (p) => manager.logs(name(p), p.lines as number, p.raw === true),
    plan: () => {
      const plan = planStage({ dir: manager.configDir, diagnostics: [], instances: manager.instances, disabled: [], files: manager.files, roles: manager.roles });
      return { levels: plan.levels, instanceLevels: plan.instanceLevels, summaries: plan.summaries };
    },
    check: async (): Promise<Diagnostic[]> => {
      const c = await checkConfig(manager.configDir);
      return [...c.errors, ...c.warnings];
    },
    roles: () => {
      if (!manager.roles) return [];
      const states = new Map(manager.list().map((s) => [s.id, s.state]));
      return roleTable(manager.roles, (id) => states.get(id) ?? null);
    },
    halt: () => power('halt'),
    poweroff: () => power('poweroff'),
    reboot: () => power('reboot'),
    reexec: () => {
      setImmediate(() => hooks.reexec()); // answer first, then exec
      return { ok: true };
    },
  };
}

export function createHandler(manager: Manager, hooks: ApiHooks, version: string): Handler {
  const calls = methods(manager, hooks, version);
  return {
    async call(method: Method, params: unknown, _conn: ConnInfo): Promise<unknown> {
      const fn = calls[method];
      if (!fn) throw new Error(`control: unable to run ${method}: not supported by this manager`);
      return fn((params ?? {}) as Record<string, unknown>);
    },
    subscribe(_conn: ConnInfo, filter: SubscriptionFilter, push): () => void {
      if (filter.consoleOf !== undefined) {
        const { id, tap } = manager.console(filter.consoleOf);
        return tap.attach((data) => push({ type: 'console', id, data }));
      }
      if (filter.logsOf === 'metainit') {
        // PID 1's own log: lines of the manager log, not an adapter's service
        return hooks.ownLog((line) => push({ type: 'log', id: 'metainit', stream: 'stdout', line, time: Date.now() }));
      }
      const logsOf = filter.logsOf ? manager.resolve(filter.logsOf) : undefined;
      const logsId = logsOf ? `${logsOf.inst.name}/${logsOf.service}` : undefined;
      const onEvent = (ev: ManagerEvent): void => {
        if (filter.types && !filter.types.includes(ev.type)) return;
        if (logsId && (ev.type !== 'log' || ev.id !== logsId)) return;
        push(ev);
      };
      // native services' lines come to PID 1 only while followed (the logger process moves them)
      const wantsLines = logsId !== undefined || !filter.types || filter.types.includes('log');
      const unfollow = wantsLines ? manager.follow(logsId) : () => undefined;
      manager.events.on('event', onEvent);
      return () => {
        manager.events.off('event', onEvent);
        unfollow();
      };
    },
  };
}

/** Serve the API on the unix socket (and WebSocket when enabled). */
export async function startApi(manager: Manager, sys: Sys, log: Logger, hooks: ApiHooks, version = '0'): Promise<ApiHandle> {
  const g = manager.global;
  const api = new ApiServer(createHandler(manager, hooks, version), { log });
  const unix = await listenUnix(api, { path: g.socket, group: g.group, sys, log });
  log.info(`control: listening on ${unix.path}`);
  let ws: { close(): Promise<void> | void } | undefined;
  if (g.websocket.enabled) {
    try {
      const { listenWs } = await import('./ws.js');
      const w = await listenWs(api, { port: g.websocket.port, tokenFile: g.websocket.token_file, log });
      log.info(`control: WebSocket API on ${w.host}:${w.port}`);
      ws = w;
    } catch (e) {
      log.error((e as Error).message);
    }
  }
  return {
    async close() {
      api.closeAll();
      await unix.close();
      await ws?.close();
    },
  };
}
