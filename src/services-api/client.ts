/**
 * client.ts — the lean end of the control protocol: what the CLI uses to talk to metainit.
 *
 * Model. One unix-socket connection; requests are written as JSON lines with increasing ids and
 * matched to answers by id, so several calls may be in flight. Events (after an `events` call or
 * `logs` with follow) are queued until `stream()` installs a listener, so none is lost between
 * the answer and the listener. An error answer rejects the call with an Error carrying the
 * server's message (and `code`); an answer without id (the server refused the connection or could
 * not read a request) rejects every call in flight; a closed connection rejects the rest.
 *
 * Speed matters here: `metainit status` should cost little more than starting node. This module
 * therefore imports only node:net at run time — protocol.ts (zod, ≈60 ms) is imported for its
 * types only, and answers are trusted rather than validated. The newline framing with a length
 * limit (`LineSplitter`) lives here too, as the one zod-free piece the server's unix transport
 * shares with the client.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Method, ParamsIn, Request, ResultOf, ServerMessage } from './protocol.js';
import type { Event } from '../base/events.js';

/** Where metainit serves its control socket unless configured otherwise. */
export const DEFAULT_SOCKET = '/run/metainit/control.sock';

/** The socket to use: $METAINIT_SOCKET, else DEFAULT_SOCKET. */
export function defaultSocket(env: NodeJS.ProcessEnv = process.env): string {
  return env.METAINIT_SOCKET || DEFAULT_SOCKET;
}

/**
 * Newline framing: bytes in, one string per complete line out. A line longer than `max` bytes is
 * dropped (reported once through `onOverflow`) up to its newline; the next line reads normally.
 * Splitting bytes at 0x0a is safe for UTF-8, where 0x0a never occurs inside a character.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly max: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void = () => {},
  ) {}

  /** bytes of the unfinished line held */
  get pending(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.discarding && end > start) {
        if (this.size + (end - start) > this.max) {
          this.discarding = true;
          this.parts = [];
          this.size = 0;
          this.onOverflow();
        } else {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl === -1) return;
      if (!this.discarding && this.size > 0) {
        const line = Buffer.concat(this.parts, this.size).toString('utf8');
        this.parts = [];
        this.size = 0;
        this.onLine(line);
      }
      this.discarding = false;
      start = nl + 1;
    }
  }
}

export interface Client {
  /** Run one request; resolves with its result, rejects with Error(server message). */
  call<M extends Method>(method: M, params: ParamsIn<M>): Promise<ResultOf<M>>;
  call(method: string, params: Record<string, unknown>): Promise<unknown>;
  /** Receive pushed events (queued ones first). */
  stream(onEvent: (ev: Event) => void): void;
  /** Called once when the connection is gone (either side closed it). */
  onClose(cb: () => void): void;
  close(): void;
}

/** An error answer from metainit; `code` is the protocol's error code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const FIX = 'is metainit running? fix: pass --socket or set METAINIT_SOCKET';

/** Why a connection attempt failed, in the CLI's words. */
function connectError(path: string, e: NodeJS.ErrnoException): Error {
  const reason =
    e.code === 'ENOENT' ? `no such socket (${FIX})`
    : e.code === 'ECONNREFUSED' ? `nobody is listening on it (${FIX})`
    : e.code === 'EACCES' ? 'permission denied (fix: run as root or as a member of the group set in metainit.yaml)'
    : e.code === 'ENOTSOCK' ? 'not a socket (fix: pass --socket or set METAINIT_SOCKET to the control socket)'
    : e.message;
  return new Error(`metainit: unable to connect to ${path}: ${reason}`);
}

/** Connect to the control socket (default: defaultSocket()). */
export function connect(socketPath: string = defaultSocket()): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(socketPath);
    const onError = (e: NodeJS.ErrnoException): void => reject(connectError(socketPath, e));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(new SocketClient(socket, socketPath));
    });
  });
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

class SocketClient implements Client {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queued: Event[] = [];
  private listener: ((ev: Event) => void) | undefined;
  private readonly closeListeners: Array<() => void> = [];
  /** set once the connection is unusable; later calls reject with it */
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    const split = new LineSplitter(Infinity, (line) => this.onLine(line));
    socket.on('data', (b: Buffer) => split.push(b));
    socket.on('error', (e) => this.fail(new Error(`metainit: unable to talk to ${path}: ${e.message}`)));
    socket.on('close', () => {
      this.fail(new Error(`metainit: unable to get an answer from ${path}: connection closed`));
      for (const cb of this.closeListeners.splice(0)) cb();
    });
  }

  call(method: string, params: Record<string, unknown>): Promise<never> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const req: Request = { v: 1, id, method: method as Method, params };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify(req) + '\n');
    });
  }

  stream(onEvent: (ev: Event) => void): void {
    this.listener = onEvent;
    for (const ev of this.queued.splice(0)) onEvent(ev);
  }

  onClose(cb: () => void): void {
    if (this.socket.destroyed) cb();
    else this.closeListeners.push(cb);
  }

  close(): void {
    this.socket.end();
  }

  private onLine(line: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(line) as ServerMessage;
    } catch {
      this.fail(new Error(`metainit: unable to read the answer from ${this.path}: not JSON (is this a metainit control socket?)`));
      this.socket.destroy();
      return;
    }
    if ('event' in msg) {
      if (this.listener) this.listener(msg.event);
      else this.queued.push(msg.event);
      return;
    }
    const id = msg.id;
    if (id === null) {
      // no id: the connection was refused, or a request could not be read at all
      if ('error' in msg) this.fail(new ApiError(msg.error.message, msg.error.code));
      return;
    }
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if ('error' in msg) p.reject(new ApiError(msg.error.message, msg.error.code));
    else p.resolve(msg.result);
  }

  /** Reject every call in flight; the first failure is kept for later calls. */
  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
