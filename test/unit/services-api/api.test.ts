/**
 * api.test.ts — the control API end to end over real sockets, with a fake handler standing in for
 * the manager: the unix socket (files, permissions, peer check, framing, errors, subscriptions),
 * the CLI client, and the WebSocket transport (token, loopback only).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { PeerCred, Sys } from '../../../src/base/sys.js';
import { realSys } from '../../../src/base/sys.js';
import { connect, defaultSocket, type Client } from '../../../src/services-api/client.js';
import type { Method } from '../../../src/services-api/protocol.js';
import type { Event } from '../../../src/base/events.js';
import { ApiServer, type ConnInfo, type Handler, type SubscriptionFilter } from '../../../src/services-api/server.js';
import { checkPeer, listenUnix, supplementaryGroups, type UnixListener } from '../../../src/services-api/unix.js';
import { listenWs, readTokenFile, type WsListener } from '../../../src/services-api/ws.js';
import { createFakeSys } from '../fake-sys.js';

const STATUS = {
  manager: { pid: 1, mode: 'container', uptime: 5000, reaped: 2, version: '0.1.0' },
  services: [{ id: 'native/redis', instance: 'native', name: 'redis', adapter: 'native', state: 'running', target: 'up', since: 1, restarts: 0, oneshot: false, kind: 'service', after: [] }],
};
const isRoot = process.getuid?.() === 0;

/** A handler that answers from fixtures and records what the server asked of it. */
class FakeHandler implements Handler {
  calls: Array<{ method: Method; params: unknown; conn: ConnInfo }> = [];
  subs: Array<{ filter: SubscriptionFilter; push: (ev: Event) => void; active: boolean }> = [];
  /** events pushed from inside call() — before the answer is written */
  pushDuringCall: Event[] = [];

  async call(method: Method, params: unknown, conn: ConnInfo): Promise<unknown> {
    this.calls.push({ method, params, conn });
    for (const ev of this.pushDuringCall) this.pushAll(ev);
    if (method === 'status') return STATUS;
    if (method === 'logs') return ['one', 'two'];
    if (method === 'start') throw Object.assign(new Error('nope: unable to find service: no such service (fix: see metainit status)'), { code: 'not-found' });
    if (method === 'stop') throw new Error('native/redis: unable to stop: boom');
    return { ok: true };
  }

  subscribe(_conn: ConnInfo, filter: SubscriptionFilter, push: (ev: Event) => void): () => void {
    const sub = { filter, push, active: true };
    this.subs.push(sub);
    return () => (sub.active = false);
  }

  pushAll(ev: Event): void {
    for (const s of this.subs) if (s.active) s.push(ev);
  }
}

/** The real addon when it is built, else a fake SO_PEERCRED that reports this process. */
function peerSys(): Pick<Sys, 'peercred'> {
  try {
    return realSys();
  } catch {
    return createFakeSys({ peercred: () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }) });
  }
}

/** A raw line-oriented connection, to send what the client never would. */
async function rawLines(path: string): Promise<{ sock: Socket; send(s: string): void; next(): Promise<Record<string, unknown>> }> {
  const sock = netConnect(path);
  await new Promise((r) => sock.once('connect', r));
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  let buf = '';
  sock.on('data', (b) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else queue.push(line);
    }
  });
  return {
    sock,
    send: (s) => sock.write(s),
    next: () => new Promise((r) => (queue.length > 0 ? r(JSON.parse(queue.shift()!)) : waiters.push((l) => r(JSON.parse(l))))),
  };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond` holds (polling), failing after a generous deadline. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(5);
  }
}

describe('control API over the unix socket', () => {
  let dir: string;
  let handler: FakeHandler;
  let api: ApiServer;
  let listener: UnixListener;
  let client: Client | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-api-'));
    handler = new FakeHandler();
    api = new ApiServer(handler);
    listener = await listenUnix(api, { path: join(dir, 'run', 'control.sock'), sys: peerSys() });
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket 0600 in a new 0700 directory', () => {
    expect(statSync(listener.path).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, 'run')).mode & 0o777).to.equal(0o700);
  });

  it('answers a request through the client', async () => {
    client = await connect(listener.path);
    expect(await client.call('status', {})).to.deep.equal(STATUS);
    expect(handler.calls[0]).to.deep.include({ method: 'status', params: {} });
    expect(handler.calls[0]!.conn).to.include({ transport: 'unix', uid: process.getuid!(), pid: process.pid });
  });

  it('runs requests in flight together and matches answers by id', async () => {
    client = await connect(listener.path);
    const [a, b] = await Promise.all([client.call('logs', { name: 'redis' }), client.call('status', { name: 'redis' })]);
    expect(a).to.deep.equal(['one', 'two']);
    expect(b).to.deep.equal(STATUS);
  });

  it("rejects a failed request with the handler's message and code", async () => {
    client = await connect(listener.path);
    const e1 = await client.call('start', { name: 'nope' }).catch((e: Error & { code?: string }) => e);
    expect(e1).to.be.instanceOf(Error).and.include({ message: 'nope: unable to find service: no such service (fix: see metainit status)', code: 'not-found' });
    const e2 = await client.call('stop', { name: 'native/redis' }).catch((e: Error & { code?: string }) => e);
    expect(e2).to.include({ message: 'native/redis: unable to stop: boom', code: 'failed' });
    expect(await client.call('status', {})).to.deep.equal(STATUS); // still usable
  });

  it('answers garbage, unknown methods and bad params with errors and keeps the connection', async () => {
    const raw = await rawLines(listener.path);
    raw.send('this is not json\n');
    const garbage = await raw.next();
    expect(garbage).to.include({ v: 1, id: null });
    expect(garbage.error).to.include({ code: 'bad-json' });
    raw.send('{"v":1,"id":1,"method":"frobnicate"}\n');
    const unknown = await raw.next();
    expect(unknown).to.include({ v: 1, id: 1 });
    expect(unknown.error).to.include({ code: 'unknown-method' });
    raw.send('{"v":1,"id":2,"method":"start","params":{"name":3}}\n');
    expect((await raw.next()).error).to.include({ code: 'bad-params' });
    raw.send('{"v":1,"id":3,"method":"status"}\n');
    expect(await raw.next()).to.deep.equal({ v: 1, id: 3, result: STATUS });
    expect(handler.calls.map((c) => c.method)).to.deep.equal(['status']);
    raw.sock.destroy();
  });

  it('refuses a line over 1 MiB and reads the next one', async () => {
    const raw = await rawLines(listener.path);
    raw.send(`{"v":1,"id":1,"method":"status","params":{"name":"${'x'.repeat(1024 * 1024)}"}}\n`);
    const err = await raw.next();
    expect(err).to.deep.include({ id: null });
    expect(err.error).to.include({ code: 'too-long' });
    raw.send('{"v":1,"id":2,"method":"status"}\n');
    expect(await raw.next()).to.include({ id: 2 });
    expect(handler.calls).to.have.length(1);
    raw.sock.destroy();
  });

  it('pushes subscribed events and stops after the client closes', async () => {
    client = await connect(listener.path);
    expect(await client.call('events', { types: ['state', 'log'] })).to.deep.equal({ subscribed: ['state', 'log'] });
    expect(handler.subs).to.have.length(1);
    expect(handler.subs[0]!.filter).to.deep.equal({ types: ['state', 'log'] });
    const got: Event[] = [];
    client.stream((ev) => got.push(ev));
    handler.pushAll({ type: 'message', level: 'info', text: 'hello' });
    await until(() => got.length > 0, 'the event');
    expect(got).to.deep.equal([{ type: 'message', level: 'info', text: 'hello' }]);
    client.close();
    client = undefined;
    await until(() => api.connections === 0, 'the server to see the close');
    expect(handler.subs[0]!.active).to.equal(false);
  });

  it('with logs --follow, answers with the tail first, then streams the lines', async () => {
    handler.pushDuringCall = [{ type: 'log', id: 'native/redis', stream: 'stdout', line: 'three', time: 3 }];
    const raw = await rawLines(listener.path);
    raw.send('{"v":1,"id":1,"method":"logs","params":{"name":"redis","follow":true}}\n');
    expect(await raw.next()).to.deep.equal({ v: 1, id: 1, result: ['one', 'two'] });
    expect(await raw.next()).to.deep.equal({ v: 1, event: { type: 'log', id: 'native/redis', stream: 'stdout', line: 'three', time: 3 } });
    expect(handler.subs[0]!.filter).to.deep.equal({ logsOf: 'redis' });
    raw.sock.destroy();
    await until(() => api.connections === 0, 'the server to see the close');
    expect(handler.subs[0]!.active).to.equal(false);
  });

  it('does not subscribe when the logs request fails', async () => {
    handler.call = async () => {
      throw new Error('ghost: unable to find service: no such service');
    };
    client = await connect(listener.path);
    await client.call('logs', { name: 'ghost', follow: true }).catch(() => {});
    expect(handler.subs.map((s) => s.active)).to.deep.equal([false]);
  });

  it('refuses to replace a socket somebody still serves, and replaces a stale one', async () => {
    const e = await listenUnix(new ApiServer(handler), { path: listener.path, sys: peerSys() }).catch((err: Error) => err);
    expect(String(e)).to.contain(`control: unable to listen on ${listener.path}: another process is serving it`);

    const stale = join(dir, 'stale.sock');
    await leaveStaleSocket(stale);
    const again = await listenUnix(new ApiServer(handler), { path: stale, sys: peerSys() });
    const c = await connect(stale);
    expect(await c.call('status', {})).to.deep.equal(STATUS);
    c.close();
    await again.close();
  });

  it('refuses to remove a file that is not a socket', async () => {
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    const e = await listenUnix(api, { path: file, sys: peerSys() }).catch((err: Error) => err);
    expect(String(e)).to.contain('is not a socket');
    expect(statSync(file).size).to.equal(7);
  });
});

/** A unix socket file whose server died without removing it (connect → ECONNREFUSED). */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((r) => child.once('exit', r));
  expect(statSync(path).isSocket()).to.equal(true);
}

describe('control API: who may connect', () => {
  let dir: string;
  let listener: UnixListener | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'metainit-peer-'))));
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const cred = (uid: number, gid: number, pid = process.pid): PeerCred => ({ pid, uid, gid });

  it('lets in root, its own uid, and members of the configured group', () => {
    const none = (): number[] => [];
    expect(checkPeer(cred(0, 0), { uid: 0 }, none)).to.equal(null);
    expect(checkPeer(cred(1000, 1000), { uid: 1000 }, none)).to.equal(null);
    expect(checkPeer(cred(1000, 50), { uid: 0, gid: 50, groupName: 'wheel' }, none)).to.equal(null);
    expect(checkPeer(cred(1000, 1000), { uid: 0, gid: 50, groupName: 'wheel' }, () => [4, 50])).to.equal(null);
    expect(checkPeer(cred(1000, 1000), { uid: 0, gid: 50, groupName: 'wheel' }, () => [4])).to.equal('uid 1000 is not root nor in group wheel');
    expect(checkPeer(cred(1000, 1000), { uid: 0 }, none)).to.match(/^uid 1000 is not root \(fix: set "group"/);
  });

  it('rejects another uid with one error line and closes', async () => {
    const sys = createFakeSys({ peercred: () => cred(1234, 1234) });
    listener = await listenUnix(new ApiServer(new FakeHandler()), { path: join(dir, 'c.sock'), sys, group: 0 });
    const raw = await rawLines(listener.path);
    const closed = new Promise((r) => raw.sock.once('close', r));
    expect(await raw.next()).to.deep.equal({ v: 1, id: null, error: { code: 'denied', message: 'control: unable to accept client: uid 1234 is not root nor in group 0' } });
    await closed;
    const c = await connect(listener.path);
    const e = await c.call('status', {}).catch((err: Error) => err);
    expect(String(e)).to.contain('control: unable to accept client: uid 1234 is not root');
  });

  it('makes the socket 0660 and group-owned when a group is configured', async () => {
    listener = await listenUnix(new ApiServer(new FakeHandler()), { path: join(dir, 'g', 'c.sock'), sys: peerSys(), group: process.getgid!() });
    expect(statSync(listener.path).mode & 0o777).to.equal(0o660);
    expect(statSync(listener.path).gid).to.equal(process.getgid!());
    expect(statSync(join(dir, 'g')).mode & 0o777).to.equal(0o710);
  });

  it('names an unknown group before listening', async () => {
    const e = await listenUnix(new ApiServer(new FakeHandler()), { path: join(dir, 'c.sock'), sys: peerSys(), group: 'no-such-group-here' }).catch((err: Error) => err);
    expect(String(e)).to.contain('group no-such-group-here: not found in /etc/group');
  });

  (isRoot ? it : it.skip)("reads a client's supplementary groups from /proc", async function () {
    let child: ChildProcess | undefined;
    try {
      child = spawn('setpriv', ['--reuid', '1234', '--regid', '4321', '--groups', '5555,6666', 'sleep', '30'], { stdio: 'ignore' });
      const pid = child.pid!;
      const comm = (): string => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      };
      await until(() => comm() === 'sleep' || child!.exitCode !== null, 'setpriv to exec sleep');
      if (child.exitCode !== null) this.skip();
      expect(supplementaryGroups(child.pid!)).to.deep.equal([5555, 6666]);
      const policy = { uid: 0, gid: 6666, groupName: 'ops' };
      expect(checkPeer(cred(1234, 4321, child.pid!), policy)).to.equal(null);
      expect(checkPeer(cred(1234, 4321, child.pid!), { ...policy, gid: 7777 })).to.equal('uid 1234 is not root nor in group ops');
    } finally {
      child?.kill('SIGKILL');
    }
  });
});

describe('control API client', () => {
  it('says how to fix a missing socket', async () => {
    const e = await connect('/nonexistent/metainit.sock').catch((err: Error) => err);
    expect(String(e)).to.equal('Error: metainit: unable to connect to /nonexistent/metainit.sock: no such socket (is metainit running? fix: pass --socket or set METAINIT_SOCKET)');
  });

  it('takes the socket from METAINIT_SOCKET, else the default', () => {
    expect(defaultSocket({ METAINIT_SOCKET: '/tmp/x.sock' })).to.equal('/tmp/x.sock');
    expect(defaultSocket({})).to.equal('/run/metainit/control.sock');
  });

  it('rejects calls in flight when the server goes away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metainit-cl-'));
    const path = join(dir, 's.sock');
    const server = createServer((s) => s.once('data', () => s.destroy())).listen(path);
    await new Promise((r) => server.once('listening', r));
    const c = await connect(path);
    const e = await c.call('status', {}).catch((err: Error) => err);
    expect(String(e)).to.contain(`metainit: unable to get an answer from ${path}: connection closed`);
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('control API over WebSocket', () => {
  const TOKEN = 'aG9vcmF5LXRoaXMtaXMtYS10ZXN0LXRva2Vu';
  let dir: string;
  let tokenFile: string;
  let handler: FakeHandler;
  let listener: WsListener | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-ws-'));
    tokenFile = join(dir, 'api-token');
    writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
    handler = new FakeHandler();
  });
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  }
  function ask(ws: WebSocket, text: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      ws.once('message', (d) => resolve(JSON.parse(String(d))));
      ws.send(text);
    });
  }

  it('refuses to start when the token file is readable by others', async () => {
    chmodSync(tokenFile, 0o644);
    const e = await listenWs(new ApiServer(handler), { port: 0, tokenFile }).catch((err: Error) => err);
    expect(String(e)).to.contain(`websocket: unable to read token ${tokenFile}: group or others may access it (mode 0644) (fix: chmod 600 ${tokenFile})`);
  });

  it('refuses a symlinked, missing or too short token file', () => {
    const link = join(dir, 'link');
    symlinkSync(tokenFile, link);
    expect(() => readTokenFile(link)).to.throw(/symbolic link/);
    expect(() => readTokenFile(join(dir, 'missing'))).to.throw(/no such file \(fix: umask 077;/);
    writeFileSync(tokenFile, 'short');
    expect(() => readTokenFile(tokenFile)).to.throw(/shorter than 16 characters/);
    expect(() => readTokenFile(tokenFile, 4242)).to.not.throw(/owned by/);
  });

  it('turns clients without the right token away with 401', async () => {
    listener = await listenWs(new ApiServer(handler), { port: 0, tokenFile });
    const url = `ws://127.0.0.1:${listener.port}/`;
    for (const attempt of [open(url), open(url, { authorization: 'Bearer wrong-token-wrong-token' }), open(`${url}?token=${TOKEN}x`)]) {
      const e = await attempt.then(
        (ws) => (ws.close(), null),
        (err: Error) => err,
      );
      expect(String(e)).to.contain('401');
    }
    expect(handler.calls).to.have.length(0);
  });

  it('serves the protocol to a client with the token, in the header or the URL', async () => {
    listener = await listenWs(new ApiServer(handler), { port: 0, tokenFile });
    const byHeader = await open(`ws://127.0.0.1:${listener.port}/`, { authorization: `Bearer ${TOKEN}` });
    expect(await ask(byHeader, '{"v":1,"id":1,"method":"status"}')).to.deep.equal({ v: 1, id: 1, result: STATUS });
    expect((await ask(byHeader, 'garbage')).error).to.include({ code: 'bad-json' });
    expect(await ask(byHeader, '{"v":1,"id":2,"method":"logs","params":{"name":"redis"}}')).to.deep.equal({ v: 1, id: 2, result: ['one', 'two'] });
    byHeader.close();
    const byQuery = await open(`ws://127.0.0.1:${listener.port}/?token=${encodeURIComponent(TOKEN)}`);
    expect(await ask(byQuery, '{"v":1,"id":7,"method":"status"}')).to.include({ id: 7 });
    expect(handler.calls.at(-1)!.conn).to.include({ transport: 'ws', address: '127.0.0.1' });
    byQuery.close();
  });

  it('listens on 127.0.0.1 only', async function () {
    listener = await listenWs(new ApiServer(handler), { port: 0, tokenFile });
    expect(listener.host).to.equal('127.0.0.1');
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!external) this.skip();
    const e = await new Promise<Error | null>((resolve) => {
      const s = netConnect(listener!.port, external!.address);
      s.once('connect', () => (s.destroy(), resolve(null)));
      s.once('error', resolve);
    });
    expect(e, `port ${listener.port} answered on ${external!.address}`).to.be.instanceOf(Error);
    expect((e as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
  });
});
