/**
 * protocol.ts — the control protocol, version 1: every message as a zod schema, types by z.infer.
 *
 * Model. A client talks to metainit over one stream (the unix control socket, one JSON object per
 * line; or a WebSocket, one JSON object per message). It sends requests, each with its own id,
 * and may send the next one before the previous answer came; the server answers each request once,
 * in any order, echoing the id:
 *
 *   client → server   {"v":1,"id":7,"method":"start","params":{"name":"native/redis"}}
 *   server → client   {"v":1,"id":7,"result":{…}}
 *                     {"v":1,"id":7,"error":{"code":"failed","message":"native/redis: unable to start: …"}}
 *   server → client   {"v":1,"event":{"type":"state","status":{…}}}     (subscribed connections only)
 *
 * A connection receives events after `events` (all types, or the listed ones) or `logs` with
 * `follow: true` (the `log` events of that service). A message the server cannot use — not JSON,
 * another protocol version, an unknown method, bad params, longer than MAX_MESSAGE_BYTES — gets an
 * error answer (id null when the id could not be read) and the connection stays usable.
 *
 * This module loads zod (≈60 ms), so the CLI client (client.ts) imports only its *types*.
 */
import { z } from 'zod';
import { Event, EventType } from '../base/events.js';
import { ServiceStatus } from '../base/states.js';
import { Diagnostic } from '../base/types.js';
import { SignalName } from '../config/schema.js';
import { RoleRow } from '../roles/registry.js';

export const PROTOCOL_VERSION = 1;
/** Longest request line (unix socket) or message (WebSocket) the server reads. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

// ----------------------------------------------------------------------------- shared pieces


// ----------------------------------------------------------------------------- events


// ----------------------------------------------------------------------------- methods and params

export const Method = z.enum([
  'status',
  'start',
  'stop',
  'restart',
  'reload',
  'apply',
  'sync',
  'kill',
  'logs',
  'plan',
  'events',
  'halt',
  'poweroff',
  'reboot',
  'reexec',
  'roles',
  'check',
  'describe',
  'console',
  'console-input',
]);
export type Method = z.infer<typeof Method>;

/** "instance/service", a unique bare service name, or "metainit" (logs only) */
const Name = z.string().min(1);
const NoParams = z.object({}).strict();
const ByName = z.object({ name: Name }).strict();
/** a job: how long to wait for its outcome (ms), or not at all; a start may start stopped dependencies first */
const JobParams = z
  .object({
    name: Name,
    timeout: z.number().int().min(0).max(86_400_000).optional(),
    no_block: z.boolean().optional(),
    with_deps: z.boolean().optional(),
  })
  .strict();

/** Params of each method. Every object is strict: an unknown key is a bad-params error. */
export const Params = {
  /** one service, or every service when name is left out */
  status: z.object({ name: Name.optional(), all: z.boolean().optional() }).strict(),
  start: JobParams,
  stop: JobParams,
  restart: JobParams,
  /** apply the changed definition file of one service */
  reload: ByName,
  /** metainit re-reads the service's definition file and applies it */
  apply: ByName,
  /** re-read the configuration of every instance */
  sync: NoParams,
  /** signal: a name with or without SIG ("HUP", "SIGUSR1"); normalised to "SIGHUP" */
  kill: z.object({ name: Name, signal: SignalName, whom: z.enum(['all', 'main']).optional() }).strict(),
  /** the last `lines` lines; with follow the connection then receives that service's `log` events */
  logs: z
    .object({
      name: Name,
      lines: z.number().int().min(0).max(100_000).default(50),
      follow: z.boolean().default(false),
      /** lines as filed: `<time> <stream> ` in front where the service's log keeps it */
      raw: z.boolean().default(false),
    })
    .strict(),
  /** the parallel start levels of the running configuration */
  plan: NoParams,
  /** subscribe this connection to events: every type, or only those listed */
  events: z.object({ types: z.array(EventType).min(1).optional() }).strict(),
  halt: NoParams,
  poweroff: NoParams,
  reboot: NoParams,
  /** re-execute metainit in place, keeping every service running */
  reexec: NoParams,
  /** who holds each system role */
  roles: NoParams,
  /** check the configuration directory without applying it */
  check: NoParams,
  /** attach to a console: the answer is its scrollback, then the connection gets its `console` events */
  console: z.object({ name: Name }).strict(),
  /** type into a console (what the viewer's keyboard gives, at most 64 KiB per message) */
  'console-input': z.object({ name: Name, data: z.string().max(65_536) }).strict(),
  /** status NAME's detail view, with the last `lines` log lines */
  describe: z.object({ name: Name, lines: z.number().int().min(0).max(1000).optional() }).strict(),
} satisfies { [M in Method]: z.ZodType };

/** What a client writes for method M (defaults may be left out). */
export type ParamsIn<M extends Method> = z.input<(typeof Params)[M]>;
/** What the handler receives for method M (validated, defaults filled in). */
export type ParamsOf<M extends Method> = z.output<(typeof Params)[M]>;

// ----------------------------------------------------------------------------- results

export const ManagerSummary = z.object({
  pid: z.number().int(),
  mode: z.enum(['machine', 'container', 'supervisor']),
  /** ms since metainit started (survives a re-exec) */
  uptime: z.number().nonnegative(),
  /** orphans reaped so far */
  reaped: z.number().int().nonnegative(),
  version: z.string(),
});
/** a definition that failed to load: status shows it as a bad-config row */
export const Problem = z.object({ id: z.string(), file: z.string(), message: z.string() });
export const StatusResult = z.object({ manager: ManagerSummary, services: z.array(ServiceStatus), problems: z.array(Problem).optional() });
export const DescribeResult = z.object({
  status: ServiceStatus,
  kind: z.string(),
  file: z.string(),
  command: z.array(z.string()).optional(),
  dependents: z.array(z.string()),
  processes: z.array(z.object({ pid: z.number().int(), depth: z.number().int(), command: z.string() })),
  log: z.array(z.string()),
});
export const SyncResult = z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()), diagnostics: z.array(Diagnostic) });
export type StatusResult = z.infer<typeof StatusResult>;

/** How a job ended: done, failed (service error), timeout, dependency (a dependency failed), canceled. */
/** queued: asked with no_block, not waited for */
export const JobOutcome = z.enum(['done', 'failed', 'timeout', 'dependency', 'canceled', 'queued']);
export const JobResult = z.object({
  result: JobOutcome,
  /** the service's status once the job ended */
  status: ServiceStatus,
  /** result dependency: the dependencies that are stopped and that nothing will start */
  blocked_by: z.array(z.string()).optional(),
  /** how long the job was waited for (ms) */
  waited: z.number().optional(),
  /** reload: problems found in the changed file */
  diagnostics: z.array(Diagnostic).optional(),
});
export type JobResult = z.infer<typeof JobResult>;

/** A request that only needs to be accepted (kill, halt, poweroff, reboot, reexec). */
export const Ack = z.object({ ok: z.literal(true) });


/** Start levels: everything in one level starts together, after the whole level before it. */
export const PlanResult = z.object({
  levels: z.array(z.array(z.string())),
  instanceLevels: z.array(z.array(z.string())),
  /** instances that order their services themselves, one line each */
  summaries: z.array(z.object({ instance: z.string(), adapter: z.string(), text: z.string() })),
});
export const EventsResult = z.object({ subscribed: z.array(EventType) });

export const Results = {
  status: StatusResult,
  start: JobResult,
  stop: JobResult,
  restart: JobResult,
  reload: JobResult,
  apply: JobResult,
  sync: SyncResult,
  kill: Ack,
  logs: z.array(z.string()),
  plan: PlanResult,
  events: EventsResult,
  halt: Ack,
  poweroff: Ack,
  reboot: Ack,
  reexec: Ack,
  roles: z.array(RoleRow),
  check: z.array(Diagnostic),
  describe: DescribeResult,
  console: z.object({ id: z.string(), scrollback: z.string() }),
  'console-input': Ack,
} satisfies { [M in Method]: z.ZodType };
export type ResultOf<M extends Method> = z.infer<(typeof Results)[M]>;

// ----------------------------------------------------------------------------- envelopes

export const Version = z.literal(PROTOCOL_VERSION);
export const RequestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const Request = z.object({ v: Version, id: RequestId, method: Method, params: z.record(z.string(), z.unknown()).optional() });
export type Request = z.infer<typeof Request>;

/**
 * Error codes. The first six are protocol errors (the request was not run); handlers may add
 * their own short codes (lower-case words joined by "-"); anything else a handler throws is `failed`.
 */
export const ERROR_CODES = ['bad-json', 'bad-request', 'bad-version', 'unknown-method', 'bad-params', 'too-long', 'denied', 'failed'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
export const ErrorBody = z.object({
  code: z.string().regex(/^[a-z][a-z0-9-]*$/),
  /** "<subject>: unable to <verb> <object>: <reason>" */
  message: z.string(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const ResultResponse = z.object({ v: Version, id: RequestId, result: z.unknown() });
export const ErrorResponse = z.object({ v: Version, id: RequestId.nullable(), error: ErrorBody });
export const Response = z.union([ResultResponse, ErrorResponse]);
export type Response = z.infer<typeof Response>;
export const EventMessage = z.object({ v: Version, event: Event });
export type EventMessage = z.infer<typeof EventMessage>;
/** Anything the server writes. */
export const ServerMessage = z.union([ResultResponse, ErrorResponse, EventMessage]);
export type ServerMessage = z.infer<typeof ServerMessage>;


// ----------------------------------------------------------------------------- decoding and encoding

export type Decoded =
  | { ok: true; id: number; method: Method; params: unknown }
  | { ok: false; id: number | null; error: ErrorBody };

const fail = (id: number | null, code: ErrorCode, message: string): Decoded => ({ ok: false, id, error: { code, message } });

/**
 * A client's value for an error message, bounded: a primitive as JSON (a string cut at 60
 * characters), anything else by its kind only — never JSON.stringify of a structure a client
 * chose, whose depth could overflow the stack and whose size is its own.
 */
function shown(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/** One request line/message → a validated request, or the error to answer with. Never throws. */
export function decodeRequest(text: string): Decoded {
  try {
    return decode(text);
  } catch (e) {
    // e.g. a RangeError from params nested deeper than the stack: still one answer, and the next line is read
    return fail(null, 'bad-request', `control: unable to parse request: ${(e as Error).message} (fix: send a flat request {"v":1,"id":N,"method":"…","params":{…}})`);
  }
}

function decode(text: string): Decoded {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return fail(null, 'bad-json', `control: unable to parse request: not JSON (${(e as Error).message})`);
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return fail(null, 'bad-request', 'control: unable to parse request: expected an object {"v":1,"id":N,"method":"…","params":{…}}');
  }
  const m = msg as Record<string, unknown>;
  const id = RequestId.safeParse(m.id);
  if (!id.success) return fail(null, 'bad-request', `control: unable to parse request: "id" must be a whole number >= 0, got ${shown(m.id) ?? 'nothing'}`);
  if (!Version.safeParse(m.v).success) {
    return fail(id.data, 'bad-version', `control: unable to serve protocol version ${shown(m.v) ?? '(none)'}: this metainit speaks version ${PROTOCOL_VERSION} (fix: use the metainit CLI of the same release)`);
  }
  const method = Method.safeParse(m.method);
  if (!method.success) {
    return fail(id.data, 'unknown-method', `control: unable to run ${shown(m.method) ?? 'a request without method'}: unknown method (fix: one of ${Method.options.join(', ')})`);
  }
  const params = Params[method.data].safeParse(m.params ?? {});
  if (!params.success) return fail(id.data, 'bad-params', `control: unable to run ${method.data}: bad params: ${describeIssues(params.error.issues)}`);
  return { ok: true, id: id.data, method: method.data, params: params.data };
}

/** zod issues as one line: `name: expected string, received undefined; "x": unrecognized key` */
function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .map((i) => {
      const where = i.path.length > 0 ? `${i.path.map(String).join('.')}: ` : '';
      return where + i.message.replace(/^Invalid input: /, '').replace(/^[A-Z]/, (c) => c.toLowerCase());
    })
    .join('; ');
}

export function encodeResult(id: number, result: unknown): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, result: result ?? null });
}

export function encodeError(id: number | null, error: ErrorBody): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, error });
}

export function encodeEvent(event: Event): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, event });
}

/** The answer to a message over MAX_MESSAGE_BYTES (its id cannot be read). */
export function tooLongError(): ErrorBody {
  return { code: 'too-long', message: `control: unable to read request: longer than ${MAX_MESSAGE_BYTES} bytes` };
}
