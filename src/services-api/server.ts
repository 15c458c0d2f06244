/**
 * server.ts — the control API server, independent of any transport.
 *
 * Model. A transport (unix.ts, ws.ts) accepts a client, checks who it is, and calls
 * `api.connect(peer, send)`; from then on it hands every request it reads to
 * `connection.receive(text)` and calls `connection.close()` when the client goes away. The
 * server decodes and validates each request (protocol.ts), runs it through the `Handler` — the
 * object that knows the manager — and writes the answer with `send`. Requests on one connection
 * run concurrently; each answer carries its request's id.
 *
 * Subscriptions belong to the connection: `events` subscribes it to the event stream, `logs` with
 * `follow` to one service's log lines. Events that arrive while the subscribing request is still
 * being answered are held back and written right after the answer, so a client sees the answer
 * first and misses nothing. A second `events` replaces the first; closing the connection ends
 * every subscription.
 *
 * Nothing a client sends can throw out of here: bad input becomes an error answer, a handler
 * failure becomes an error answer carrying the handler's message.
 */
import type { Logger } from '../base/types.js';
import { MAX_MESSAGE_BYTES, Results, decodeRequest, encodeError, encodeEvent, encodeResult, tooLongError, type ErrorBody, type Method, type ParamsOf } from './protocol.js';
import { EventType, type Event } from '../base/events.js';
import { ClientBudget } from './budget.js';

/** Who is at the other end of a connection. */
export interface ConnInfo {
  /** serial number, unique within this metainit process */
  id: number;
  transport: 'unix' | 'ws';
  /** peer credentials (unix socket) */
  pid?: number;
  uid?: number;
  gid?: number;
  /** remote address (WebSocket) */
  address?: string;
}

/** What a subscription wants: event types (all when left out), or the log lines of one service. */
export interface SubscriptionFilter {
  types?: EventType[];
  /** the `name` a client gave to `logs` (resolve it as the manager resolves names) */
  logsOf?: string;
  /** the `name` a client gave to `console`: its output as `console` events */
  consoleOf?: string;
}

/** The object that knows the manager; the server does the protocol around it. */
export interface Handler {
  /**
   * Run one request. `params` are already validated and defaulted (ParamsOf<method>). Resolve
   * with the result (see `Results` in protocol.ts); throw an Error whose message reads
   * "<subject>: unable to <verb> <object>: <reason>" to answer with an error (an Error with a
   * string `code` of lower-case words, e.g. "not-found", sets the error code; otherwise "failed").
   * Never called for `events`; for `logs` it returns the tail only (the server subscribes).
   */
  call(method: Method, params: unknown, conn: ConnInfo): Promise<unknown>;
  /**
   * Deliver every future event matching `filter` to `push` until the returned function is
   * called. May throw (e.g. `logsOf` names no service); the request then gets that error.
   */
  subscribe(conn: ConnInfo, filter: SubscriptionFilter, push: (ev: Event) => void): () => void;
}

/** One client, as a transport sees it. */
export interface ApiConnection {
  readonly info: ConnInfo;
  /** one request: a line without its newline, or one WebSocket message. Resolves once answered. */
  receive(text: string): Promise<void>;
  /** the transport dropped a request longer than MAX_MESSAGE_BYTES */
  overflow(): void;
  /** the client went away: end its subscriptions, drop answers still to come */
  close(): void;
}

export interface ApiServerOptions {
  log?: Logger;
  /** check every result against its schema (tests of handlers); a mismatch becomes an error answer */
  validateResults?: boolean;
}

export { SEND_QUEUE_LIMIT } from './budget.js';

export class ApiServer {
  private serial = 0;
  private readonly open = new Set<Session>();
  /** what all clients of every transport together may make PID 1 hold (budget.ts) */
  readonly budget: ClientBudget;

  constructor(
    private readonly handler: Handler,
    private readonly options: ApiServerOptions = {},
  ) {
    this.budget = new ClientBudget(options.log);
  }

  /** Register a client; `send` writes one message (the transport adds its framing). */
  connect(peer: Omit<ConnInfo, 'id'>, send: (message: string) => void): ApiConnection {
    const session = new Session({ ...peer, id: ++this.serial }, send, this.handler, this.options, (s) => this.open.delete(s));
    this.open.add(session);
    return session;
  }

  /** connections currently open */
  get connections(): number {
    return this.open.size;
  }

  /** End every connection's subscriptions (the transports close the sockets). */
  closeAll(): void {
    for (const s of [...this.open]) s.close();
  }
}

class Session implements ApiConnection {
  private closed = false;
  private readonly subscriptions = new Map<string, () => void>();

  constructor(
    readonly info: ConnInfo,
    private readonly send: (message: string) => void,
    private readonly handler: Handler,
    private readonly options: ApiServerOptions,
    private readonly gone: (s: Session) => void,
  ) {}

  receive(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (text.length > MAX_MESSAGE_BYTES / 4 && Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
      this.overflow();
      return Promise.resolve();
    }
    if (text.trim() === '') return Promise.resolve();
    const req = decodeRequest(text);
    if (!req.ok) {
      this.write(encodeError(req.id, req.error));
      return Promise.resolve();
    }
    return this.run(req.id, req.method, req.params).catch((e: unknown) => {
      // only reachable through a bug in this file; keep serving
      this.options.log?.error(`control: unable to answer request ${req.id} (${req.method}): ${(e as Error).message}`);
    });
  }

  overflow(): void {
    this.write(encodeError(null, tooLongError()));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.subscriptions.values()) safely(stop);
    this.subscriptions.clear();
    this.gone(this);
  }

  private async run(id: number, method: Method, params: unknown): Promise<void> {
    const held = new HoldBack((ev) => this.write(encodeEvent(ev)));
    let key: string | undefined;
    try {
      let result: unknown;
      if (method === 'events') {
        const p = params as ParamsOf<'events'>;
        key = 'events';
        this.subscribe(key, p.types ? { types: p.types } : {}, held.push);
        result = { subscribed: p.types ?? EventType.options };
      } else {
        const p = params as Partial<ParamsOf<'logs'>>;
        if (method === 'logs' && p.follow && p.name !== undefined) {
          key = `logs:${p.name}`;
          this.subscribe(key, { logsOf: p.name }, held.push);
        }
        if (method === 'console' && p.name !== undefined) {
          key = `console:${p.name}`;
          this.subscribe(key, { consoleOf: p.name }, held.push);
        }
        result = await this.handler.call(method, params, this.info);
      }
      if (this.options.validateResults) {
        const check = Results[method].safeParse(result);
        if (!check.success) throw new Error(`control: unable to answer ${method}: the handler's result does not match the protocol: ${check.error.message}`);
      }
      this.write(encodeResult(id, result));
      held.release(true);
    } catch (e) {
      if (key !== undefined) this.unsubscribe(key);
      held.release(false);
      this.write(encodeError(id, errorBody(e, method)));
    }
  }

  private subscribe(key: string, filter: SubscriptionFilter, push: (ev: Event) => void): void {
    if (this.closed) return;
    this.unsubscribe(key);
    this.subscriptions.set(key, this.handler.subscribe(this.info, filter, push));
  }

  private unsubscribe(key: string): void {
    const stop = this.subscriptions.get(key);
    this.subscriptions.delete(key);
    if (stop) safely(stop);
  }

  private write(message: string): void {
    if (this.closed) return;
    try {
      this.send(message);
    } catch (e) {
      this.options.log?.warn(`control: unable to write to client ${this.info.id}: ${(e as Error).message}`);
    }
  }
}

/** Buffers events until the answer that started the subscription is written. */
class HoldBack {
  private queue: Event[] | null = [];
  constructor(private readonly out: (ev: Event) => void) {}

  readonly push = (ev: Event): void => {
    if (this.queue) this.queue.push(ev);
    else this.out(ev);
  };

  release(deliver: boolean): void {
    const q = this.queue ?? [];
    this.queue = null;
    if (deliver) for (const ev of q) this.out(ev);
  }
}

/** A thrown value → the error part of an answer. */
export function errorBody(e: unknown, method: Method): ErrorBody {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: typeof code === 'string' && /^[a-z][a-z0-9-]*$/.test(code) ? code : 'failed',
    message: message || `control: unable to run ${method}: the handler failed without a reason`,
  };
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* an unsubscribe that throws must not keep the others from running */
  }
}
