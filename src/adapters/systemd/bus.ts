/**
 * bus.ts — a D-Bus connection to one hosted systemd, on its private socket.
 *
 * Route (the one that works; see docs/adapters.md): systemd's /run/systemd/private accepts only
 * peers of its own PID namespace, and it is a peer-to-peer socket without a bus driver, so a
 * client must not send Hello. metainit spawns
 *
 *   nsenter -t PID -p -m -- /usr/bin/systemd-stdio-bridge --bus-path=unix:path=/run/systemd/private
 *
 * (the bridge runs inside systemd's PID and mount namespaces, from systemd's own tree) and speaks
 * D-Bus over the bridge's stdin and stdout with @homebridge/dbus-native in `direct` mode (no
 * Hello), authenticating as EXTERNAL. On a direct connection systemd sends its signals without a
 * Subscribe: UnitNew, UnitRemoved, JobNew, JobRemoved, StartupFinished, and PropertiesChanged of
 * every unit object. Each signal goes to `onSignal`; the end of the bridge (it died, systemd
 * went away) goes to `onClose` once, and every call still waiting fails with that reason.
 *
 * Values come back as dbus-native decodes them: arrays for structs and arrays, `[signature,
 * [value]]` for a variant (`variant()` unwraps one), `[[key, variant], …]` for a{sv} (`dict()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';

export const SYSTEMD_DEST = 'org.freedesktop.systemd1';
export const MANAGER_PATH = '/org/freedesktop/systemd1';
export const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
export const PROPS_IFACE = 'org.freedesktop.DBus.Properties';
export const BRIDGE = '/usr/bin/systemd-stdio-bridge';

export interface BusSignal {
  path: string;
  iface: string;
  member: string;
  body: unknown[];
}

interface DbusMessage {
  type?: number;
  path?: string;
  interface?: string;
  member?: string;
  destination?: string;
  signature?: string;
  body?: unknown[];
}
interface DbusConnection {
  on(ev: 'message', cb: (m: DbusMessage) => void): void;
  on(ev: 'error' | 'end' | 'connect', cb: (e?: Error) => void): void;
  once(ev: 'connect', cb: () => void): void;
  end(): void;
}
interface DbusBus {
  connection: DbusConnection;
  invoke(msg: DbusMessage, cb: (err: { name?: string; message?: string } | null | undefined, ...values: unknown[]) => void): void;
}
interface DbusNative {
  createClient(opts: { stream: Duplex; direct: boolean; authMethods: string[] }): DbusBus;
  messageType: { signal: number };
}

let dbusNative: DbusNative | undefined;
/** loaded on first use: a machine without a systemd instance never pays for it */
function lib(): DbusNative {
  dbusNative ??= createRequire(import.meta.url)('@homebridge/dbus-native') as DbusNative;
  return dbusNative;
}

/** The value inside a decoded variant. */
export function variant(v: unknown): unknown {
  return Array.isArray(v) && v.length === 2 && Array.isArray(v[0]) && Array.isArray(v[1]) ? v[1][0] : v;
}

/** A decoded a{sv} as a plain object of unwrapped values. */
export function dict(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(v)) return out;
  for (const e of v) if (Array.isArray(e) && typeof e[0] === 'string') out[e[0]] = variant(e[1]);
  return out;
}

/** The bridge's stdin and stdout as the one duplex stream dbus-native wants. */
function bridgeStream(child: ChildProcess): Duplex {
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      if (!child.stdin || child.stdin.destroyed) return cb(new Error('the bridge is gone'));
      child.stdin.write(chunk, (e) => cb(e ?? null));
    },
    final(cb) {
      child.stdin?.end();
      cb();
    },
  });
  child.stdout!.on('data', (d: Buffer) => stream.push(d));
  child.stdout!.on('end', () => stream.push(null));
  child.stdin!.on('error', () => undefined); // EPIPE once the bridge died: seen as its exit
  (stream as Duplex & { setNoDelay(): void }).setNoDelay = () => undefined;
  return stream;
}

export interface BusOptions {
  /** host pid of systemd (PID 1 of its namespaces) */
  pid: number;
  onSignal(sig: BusSignal): void;
  /** the connection ended (once); `why` in words */
  onClose(why: string): void;
  /** the reaper: node learns the bridge's exit itself, so the reaper must leave its pid alone */
  manage?(pid: number, stillOwned: () => boolean): void;
  /** ms to wait for the handshake and each call (default 25 000, systemd's own default) */
  timeoutMs?: number;
}

export class SystemdBus {
  private child: ChildProcess | undefined;
  private bus: DbusBus | undefined;
  private closed: string | undefined;
  private readonly waiting = new Set<(why: string) => void>();
  private stderr = '';

  constructor(private readonly o: BusOptions) {}

  get open(): boolean {
    return this.bus !== undefined && this.closed === undefined;
  }

  /** Spawn the bridge and authenticate; resolves once systemd answered a first call. */
  async connect(): Promise<void> {
    const child = spawn('nsenter', ['-t', String(this.o.pid), '-p', '-m', '--', BRIDGE, '--bus-path=unix:path=/run/systemd/private'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    this.child = child;
    let exited = false;
    if (child.pid !== undefined) this.o.manage?.(child.pid, () => !exited);
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-1000)));
    child.on('error', (e) => this.close(`the bridge could not be started: ${e.message}`));
    child.on('exit', (code, sig) => {
      exited = true;
      this.close(`the bridge ended (${sig ?? `code ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`);
    });
    const bus = lib().createClient({ stream: bridgeStream(child), direct: true, authMethods: ['EXTERNAL'] });
    this.bus = bus;
    bus.connection.on('error', (e?: Error) => this.close(`the connection failed: ${e?.message ?? 'unknown error'}`));
    bus.connection.on('end', () => this.close('the bridge closed the connection'));
    bus.connection.on('message', (m: DbusMessage) => {
      if (m.type !== lib().messageType.signal) return;
      try {
        this.o.onSignal({ path: m.path ?? '', iface: m.interface ?? '', member: m.member ?? '', body: m.body ?? [] });
      } catch {
        // a listener's fault must not end the connection
      }
    });
    await this.call(MANAGER_PATH, PROPS_IFACE, 'Get', 'ss', [MANAGER_IFACE, 'Version']);
  }

  /** One method call; resolves with the reply's values, rejects with systemd's error. */
  call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const bus = this.bus;
    if (!bus || this.closed !== undefined) return Promise.reject(new Error(`systemd's bus is not connected${this.closed ? `: ${this.closed}` : ''}`));
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.waiting.delete(fail);
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail(`${member}: no answer from systemd within ${(this.o.timeoutMs ?? 25_000) / 1000} s`), this.o.timeoutMs ?? 25_000);
      timer.unref();
      this.waiting.add(fail);
      const msg: DbusMessage = { destination: SYSTEMD_DEST, path, interface: iface, member };
      if (signature) Object.assign(msg, { signature, body });
      try {
        bus.invoke(msg, (err, ...values) => {
          clearTimeout(timer);
          this.waiting.delete(fail);
          if (err) reject(new Error(err.message || err.name || 'D-Bus error'));
          else resolve(values);
        });
      } catch (e) {
        fail(`${member}: ${(e as Error).message}`);
      }
    });
  }

  /** A property of an object, unwrapped. */
  async get(path: string, iface: string, prop: string): Promise<unknown> {
    const [v] = await this.call(path, PROPS_IFACE, 'Get', 'ss', [iface, prop]);
    return variant(v);
  }

  /** Every property of one interface of an object. */
  async getAll(path: string, iface: string): Promise<Record<string, unknown>> {
    const [v] = await this.call(path, PROPS_IFACE, 'GetAll', 's', [iface]);
    return dict(v);
  }

  /** A Manager method. */
  manager(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call(MANAGER_PATH, MANAGER_IFACE, member, signature, body);
  }

  private close(why: string): void {
    if (this.closed !== undefined) return;
    this.closed = why;
    for (const fail of [...this.waiting]) fail(`systemd's bus closed: ${why}`);
    try {
      this.bus?.connection.end();
    } catch {
      // already ended
    }
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.o.onClose(why);
  }

  /** End the connection (the bridge is killed). */
  end(): void {
    this.close('closed by metainit');
  }
}
