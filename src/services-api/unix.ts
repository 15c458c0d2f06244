/**
 * unix.ts — the control API on a unix stream socket (default /run/metainit/control.sock).
 *
 * Model. Who may control metainit is decided twice, by the file system and by the kernel:
 *   1. the socket file is 0600 (0660 and group-owned when `group` is configured), created under
 *      a umask that leaves no window with a wider mode; a directory we create is 0700 (0710 with
 *      the group). An existing directory is never re-moded: it may be shared, like /tmp.
 *   2. every accepted client's SO_PEERCRED (through the Sys seam) is checked: uid 0, the uid
 *      metainit runs as, or — with `group` — that gid as primary group or among the supplementary
 *      groups listed in /proc/<pid>/status. Anyone else gets one error line and is disconnected.
 * A socket file left by a dead metainit is removed; one somebody still answers on is not.
 * Framing: one JSON message per line (LineSplitter from client.ts), at most MAX_MESSAGE_BYTES.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { PeerCred, Sys } from '../base/sys.js';
import type { Logger } from '../base/types.js';
import { lookupGroup } from '../supervisor/userdb.js';
import { rateLimited } from '../base/rate-limit.js';
import { DEFAULT_SOCKET, LineSplitter } from './client.js';
import { MAX_MESSAGE_BYTES, encodeError } from './protocol.js';
import type { ApiServer } from './server.js';

export interface UnixListenOptions {
  /** socket path (default /run/metainit/control.sock) */
  path?: string;
  /** a group (name from /etc/group, or gid) whose members may use the socket besides root */
  group?: string | number | undefined;
  /** the syscall seam; only `peercred` is used */
  sys: Pick<Sys, 'peercred'>;
  log?: Logger;
  /** uid metainit runs as (default process.getuid()) */
  uid?: number;
  /** supplementary groups of a pid (default: the Groups: line of /proc/<pid>/status) */
  groupsOf?: (pid: number) => number[];
}

export interface UnixListener {
  readonly path: string;
  /** stop accepting, disconnect every client, remove the socket file */
  close(): Promise<void>;
}

/** Who may connect: besides root, `uid`, and members of `gid` (shown to users as `groupName`). */
export interface AccessPolicy {
  uid: number;
  gid?: number | undefined;
  groupName?: string | undefined;
}

/** null when the peer may use the API, else why not (for "control: unable to accept client: …"). */
export function checkPeer(cred: PeerCred, policy: AccessPolicy, groupsOf: (pid: number) => number[] = supplementaryGroups): string | null {
  if (cred.uid === 0 || cred.uid === policy.uid) return null;
  // the groups the kernel recorded at connect (SO_PEERGROUPS); /proc only without them (a peer outside our PID namespace has pid 0)
  if (policy.gid !== undefined && (cred.gid === policy.gid || (cred.groups ?? groupsOf(cred.pid)).includes(policy.gid))) return null;
  if (policy.gid !== undefined) return `uid ${cred.uid} is not root nor in group ${policy.groupName ?? policy.gid}`;
  const own = policy.uid === 0 ? '' : ` nor uid ${policy.uid}`;
  return `uid ${cred.uid} is not root${own} (fix: set "group" in metainit.yaml to let a group's members in)`;
}

/** The supplementary groups of a process; [] when it is gone or unreadable. */
export function supplementaryGroups(pid: number): number[] {
  try {
    const line = /^Groups:(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    return line.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const REFUSED_LINGER_MS = 2000;

/** Serve `api` on a unix socket. Throws "control: unable to listen on PATH: reason". */
export async function listenUnix(api: ApiServer, opts: UnixListenOptions): Promise<UnixListener> {
  const path = opts.path ?? DEFAULT_SOCKET;
  const fail = (reason: string): Error => new Error(`control: unable to listen on ${path}: ${reason}`);
  const policy: AccessPolicy = { uid: opts.uid ?? process.getuid?.() ?? 0 };
  if (opts.group !== undefined) {
    try {
      policy.gid = lookupGroup('/', opts.group);
    } catch (e) {
      throw fail(`${(e as Error).message} (fix: create the group or change "group" in metainit.yaml)`);
    }
    policy.groupName = String(opts.group);
  }

  prepareDirectory(dirname(path), policy.gid);
  await removeStale(path, fail);

  const clients = new Set<Socket>();
  const refusals = rateLimited((line) => opts.log?.warn(line));
  const server = createServer((socket) => accept(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(fail(e.message)));
    const umask = process.umask(0o177); // bind(2) creates the file 0600: no window with a wider mode
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  server.on('error', (e) => opts.log?.error(`control: unable to accept client on ${path}: ${e.message}`));
  try {
    if (policy.gid !== undefined) {
      chownSync(path, -1, policy.gid);
      chmodSync(path, 0o660);
    } else chmodSync(path, 0o600);
  } catch (e) {
    server.close();
    throw fail(`unable to set the socket's owner and mode: ${(e as Error).message}`);
  }

  function accept(socket: Socket): void {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => {}); // a client vanishing mid-write is its own business
    const who = admit(socket, opts.sys, policy, opts.groupsOf);
    if (typeof who === 'string') {
      const message = `control: unable to accept client: ${who}`;
      refusals.note(message);
      // the reason first, then a half-close: what the client sends meanwhile is read and dropped
      // (a client writing its request must read this frame, not an EPIPE); gone within 2 s
      socket.on('data', () => undefined);
      socket.end(encodeError(null, { code: 'denied', message }) + '\n');
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    const holder = {
      name: `client pid ${who.pid}`,
      held: () => ({ queued: socket.writableLength, partial: split.pending }),
      drop: (reason: string) => {
        // a reader that does not read gets no frame; one sending huge lines still may
        if (socket.writableLength === 0) socket.end(encodeError(null, { code: 'too-long', message: reason }) + '\n');
        socket.destroy();
      },
    };
    const conn = api.connect({ transport: 'unix', pid: who.pid, uid: who.uid, gid: who.gid }, (msg) => {
      if (socket.destroyed || !api.budget.check(holder)) return;
      socket.write(msg + '\n');
    });
    const split = new LineSplitter(MAX_MESSAGE_BYTES, (line) => void conn.receive(line), () => conn.overflow());
    const leave = api.budget.add(holder);
    socket.on('data', (b: Buffer) => {
      split.push(b);
      if (split.pending > 0) api.budget.check(holder);
    });
    socket.on('close', () => {
      leave();
      conn.close();
    });
  }

  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of clients) s.destroy();
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      }),
  };
}

/** The peer's credentials when it may use the API, else why not. */
function admit(socket: Socket, sys: Pick<Sys, 'peercred'>, policy: AccessPolicy, groupsOf?: (pid: number) => number[]): PeerCred | string {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return 'unable to read peer credentials: no file descriptor';
  let cred: PeerCred;
  try {
    cred = sys.peercred(fd);
  } catch (e) {
    return `unable to read peer credentials: ${(e as Error).message}`;
  }
  return checkPeer(cred, policy, groupsOf) ?? cred;
}

/** mkdir -p; a directory created here is 0700 (0710 + group when a group may connect). */
function prepareDirectory(dir: string, gid: number | undefined): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (gid !== undefined) {
    chownSync(dir, -1, gid);
    chmodSync(dir, 0o710);
  } else chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask; make it exact
}

/** Remove a socket file nobody answers on; refuse to touch anything else. */
async function removeStale(path: string, fail: (reason: string) => Error): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw fail('the path exists and is not a socket (fix: remove it, or set "socket" in metainit.yaml to another path)');
  const alive = await new Promise<boolean>((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw fail('another process is serving it (fix: stop that metainit, or set "socket" in metainit.yaml to another path)');
  unlinkSync(path);
}
