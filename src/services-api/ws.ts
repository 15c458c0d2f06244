/**
 * ws.ts — the control API over WebSocket, for tools that cannot open a unix socket.
 *
 * Model. Off unless `websocket.enabled`; only then are `ws`, http and crypto loaded (≈30 ms that
 * PID 1 and the CLI should not otherwise pay). It listens on 127.0.0.1 only — never another
 * address — and every client must present the token from `token_file`, as
 * `Authorization: Bearer <token>` or `?token=<token>` in the URL; the comparison takes the same
 * time whatever the guess. The token file must be a regular file (not a symlink) owned by root or
 * by the user metainit runs as, with no group or other permission bits; otherwise the server
 * refuses to start and says how to fix the file. A client without the right token gets
 * `401 Unauthorized` before any WebSocket exists. The protocol is protocol.ts with one JSON
 * message per WebSocket text message.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { rateLimited } from '../base/rate-limit.js';
import type { Logger } from '../base/types.js';
import { MAX_MESSAGE_BYTES } from './protocol.js';
import type { ApiServer } from './server.js';

/** The only address the WebSocket API binds. */
export const WS_HOST = '127.0.0.1';
/** Shortest token accepted: guessing must be hopeless. */
export const MIN_TOKEN_LENGTH = 16;

export interface WsListenOptions {
  /** TCP port on 127.0.0.1 (0 = any free port, for tests) */
  port: number;
  tokenFile: string;
  log?: Logger;
  /** uid metainit runs as (default process.getuid()): the token file may be owned by it or root */
  uid?: number;
}

export interface WsListener {
  readonly host: typeof WS_HOST;
  /** the port actually bound */
  readonly port: number;
  /** disconnect every client and stop listening */
  close(): Promise<void>;
}

/** Read and check the token file. Throws "websocket: unable to read token FILE: reason (fix: …)". */
export function readTokenFile(file: string, ownUid: number = process.getuid?.() ?? 0): string {
  const fail = (reason: string): Error => new Error(`websocket: unable to read token ${file}: ${reason}`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail(`no such file (fix: umask 077; head -c 32 /dev/urandom | base64 > ${file})`);
    if (code === 'ELOOP') throw fail('it is a symbolic link (fix: point websocket.token_file at the real file)');
    throw fail((e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail('not a regular file');
    if (st.uid !== 0 && st.uid !== ownUid) throw fail(`owned by uid ${st.uid}, not root (fix: chown root ${file})`);
    if ((st.mode & 0o077) !== 0) {
      throw fail(`group or others may access it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}) (fix: chmod 600 ${file})`);
    }
    const token = readFileSync(fd, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      throw fail(`the token is shorter than ${MIN_TOKEN_LENGTH} characters (fix: umask 077; head -c 32 /dev/urandom | base64 > ${file})`);
    }
    return token;
  } finally {
    closeSync(fd);
  }
}

/** The token a client presented: Authorization: Bearer …, else ?token=…; null when none. */
export function presentedToken(req: Pick<IncomingMessage, 'headers' | 'url'>): string | null {
  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (auth) return auth[1]!;
  try {
    return new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  } catch {
    return null;
  }
}

/** Serve `api` over WebSocket on 127.0.0.1:port. Throws when the token file or the port is unusable. */
export async function listenWs(api: ApiServer, opts: WsListenOptions): Promise<WsListener> {
  const token = readTokenFile(opts.tokenFile, opts.uid);
  const [{ WebSocketServer }, http, { createHash, timingSafeEqual }] = await Promise.all([import('ws'), import('node:http'), import('node:crypto')]);
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  const expected = digest(token);
  const authorized = (given: string | null): boolean => given !== null && timingSafeEqual(digest(given), expected);
  const refusals = rateLimited((line) => opts.log?.warn(line));

  // Messages over MAX_MESSAGE_BYTES get a protocol error from the server; ws itself closes the
  // connection only beyond this hard limit, which bounds the memory one message can take.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * MAX_MESSAGE_BYTES });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'Upgrade' });
    res.end('metainit control API: WebSocket only\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (!authorized(presentedToken(req))) {
      refusals.note(`websocket: unable to accept client ${req.socket.remoteAddress ?? '?'}: missing or wrong token`);
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, req));
  });

  function attach(ws: WebSocket, req: IncomingMessage): void {
    const address = req.socket.remoteAddress ?? WS_HOST;
    const holder = { name: `websocket client ${address}`, held: () => ({ queued: ws.bufferedAmount, partial: 0 }), drop: () => ws.terminate() };
    const leave = api.budget.add(holder);
    ws.on('close', leave);
    const conn = api.connect({ transport: 'ws', address }, (msg) => {
      if (ws.readyState !== ws.OPEN || !api.budget.check(holder)) return;
      ws.send(msg);
    });
    ws.on('message', (data) => void conn.receive(messageText(data)));
    ws.on('error', () => {});
    ws.on('close', () => conn.close());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`websocket: unable to listen on ${WS_HOST}:${opts.port}: ${e.message}`)));
    server.listen(opts.port, WS_HOST, () => resolve());
  });
  server.on('error', (e) => opts.log?.error(`websocket: unable to accept client: ${e.message}`));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log?.info(`websocket: control API on ws://${WS_HOST}:${port}/`);

  return {
    host: WS_HOST,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function messageText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
