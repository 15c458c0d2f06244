/**
 * logger-process.ts — PID 1's side of the logger: start it, hand it the pipes, keep it running.
 *
 * Model. One logger process (src/logger/main.ts) moves the output of every native service to
 * its log files, so that service output never runs through PID 1's event loop or memory. PID 1
 * keeps both ends of every log pipe (logsink.ts) and hands the logger a copy of each read end
 * over the node IPC channel (one `open` message per pipe, the pipe as its handle). When the
 * logger exits for whatever reason it is started again (backoff BACKOFF_MS doubling up to
 * BACKOFF_MAX_MS) and gets every pipe again: bytes it had not read yet are still in the pipes;
 * meanwhile a service that fills its pipe waits, as under s6-log. Requests (tail, flush,
 * release, exit) are answered within REQUEST_MS or given up: a stuck logger never holds up PID 1
 * or its shutdown. Everything the logger sends is checked against its schema (protocol.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Sys } from '../base/sys.js';
import { FromLogger, type LogStream, type LogTarget, type ToLogger } from '../logger/protocol.js';

const LOGGER_MAIN = fileURLToPath(new URL('../logger/main.js', import.meta.url));
const BACKOFF_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** a logger that lived this long restarts without delay */
const STABLE_MS = 10_000;
/** how long an answer may take */
const REQUEST_MS = 2000;
/** the logger's own heap limit: a logger that grows beyond it is restarted, PID 1 is not touched */
const LOGGER_HEAP_MB = 256;

export interface SinkHooks {
  lines(stream: LogStream, lines: string[], time: number): void;
  error(message: string): void;
}

interface Registered {
  target: LogTarget;
  pipes: Partial<Record<LogStream, Socket>>;
  hooks: SinkHooks;
}

type Answer = Extract<FromLogger, { req: number }>;
/** a request of ToLogger without its number */
type Request = ToLogger extends infer M ? (M extends { req: number } ? Omit<M, 'req'> : never) : never;

export interface LoggerOptions {
  /** where console-target lines go: default the logger writes to PID 1's stdout */
  console?: ((text: string) => void) | undefined;
  /** problems of the logger itself (it exited, it sent nonsense) */
  warn?: ((message: string) => void) | undefined;
}

export class LoggerProcess {
  private child: ChildProcess | undefined;
  private readonly sinks = new Map<string, Registered>();
  private readonly pending = new Map<number, (a: Answer | undefined) => void>();
  /** follower counts to give a restarted logger ('' = every service) */
  private readonly follows = new Map<string, number>();
  private nextReq = 1;
  private delay = BACKOFF_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** the running logger said it listens (nothing is sent before) */
  private ready = false;
  private readyWaiters: Array<() => void> = [];

  constructor(
    private readonly sys: Pick<Sys, 'cloexecFrom'>,
    private readonly opts: LoggerOptions = {},
  ) {}

  /** the logger's pid, if it runs */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** Hand the read ends of a service's pipes to the logger (again after every restart of it). */
  register(id: string, target: LogTarget, readFds: Record<LogStream, number>, hooks: SinkHooks): void {
    this.drop(id);
    const pipes: Partial<Record<LogStream, Socket>> = {};
    for (const stream of ['stdout', 'stderr'] as const) {
      // PID 1's copy of the read end, never read here: only handed on
      pipes[stream] = new Socket({ fd: readFds[stream], readable: true, writable: false, pauseOnCreate: true } as ConstructorParameters<typeof Socket>[0]);
    }
    this.sinks.set(id, { target, pipes, hooks });
    if (this.connected) this.openAll(id);
    else this.ensure();
  }

  retarget(id: string, target: LogTarget): void {
    const r = this.sinks.get(id);
    if (!r) return;
    r.target = target;
    this.send({ t: 'retarget', id, target });
  }

  /** the logger lets go of the pipes (after draining them briefly); PID 1 then closes its read ends */
  async release(id: string, forGood: boolean): Promise<void> {
    await this.request({ t: 'release', id, forGood });
    this.drop(id);
  }

  async tail(id: string, n: number, raw = false): Promise<string[]> {
    const a = await this.request({ t: 'tail', id, n, ...(raw ? { raw } : {}) });
    return a?.t === 'tail' ? a.lines : [];
  }

  async flush(id?: string): Promise<void> {
    await this.request({ t: 'flush', id });
  }

  /** one more follower of `id` (undefined: of every service) until the returned function is called */
  follow(id?: string): () => void {
    const key = id ?? '';
    this.follows.set(key, (this.follows.get(key) ?? 0) + 1);
    this.send({ t: 'follow', id, on: true });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.follows.set(key, Math.max(0, (this.follows.get(key) ?? 1) - 1));
      this.send({ t: 'follow', id, on: false });
    };
  }

  note(id: string, stream: LogStream, line: string, time: number): void {
    this.send({ t: 'note', id, stream, line, time });
  }

  /** Shutdown: the logger files what it has and exits, by `deadline` (ms epoch) or is killed. */
  async stop(deadline: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void this.request({ t: 'exit' }, Math.max(0, deadline - Date.now()));
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, deadline - Date.now()));
    await exited;
    clearTimeout(timer);
  }

  // ------------------------------------------------------------------------------ the child

  private get connected(): boolean {
    return this.ready && this.child?.connected === true;
  }

  /** wait (≤ ms) until a starting logger is ready; false if there is none or it did not become ready */
  private whenReady(ms: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (!this.child && !this.restartTimer) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.connected);
      });
    });
  }

  private ensure(): void {
    if (this.child || this.restartTimer || this.stopped) return;
    this.start();
  }

  private start(): void {
    this.sys.cloexecFrom([]); // the logger gets the pipes one by one, nothing by inheritance
    const started = Date.now();
    const child = spawn(process.execPath, [`--max-old-space-size=${LOGGER_HEAP_MB}`, LOGGER_MAIN], {
      stdio: ['ignore', this.opts.console ? 'pipe' : 'inherit', 'inherit', 'ipc'],
      detached: true, // its own session: a terminal's ^C reaches PID 1's group, not the logger
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      serialization: 'json',
    });
    this.child = child;
    this.ready = false;
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    if (this.opts.console) child.stdout?.on('data', (b: Buffer) => this.opts.console!(b.toString()));
    child.on('message', (m: unknown) => this.receive(m));
    child.on('error', (e) => this.opts.warn?.(`logger: unable to run ${LOGGER_MAIN}: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.ready = false;
      }
      for (const resolve of this.pending.values()) resolve(undefined);
      this.pending.clear();
      if (this.stopped) return;
      this.opts.warn?.(`logger: exited (${signal ?? `code ${code}`}); starting it again — services whose pipe is full wait meanwhile`);
      this.delay = Date.now() - started > STABLE_MS ? BACKOFF_MS : Math.min(BACKOFF_MAX_MS, this.delay * 2);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.sinks.size > 0) this.start();
      }, this.delay);
    });
  }

  /** the logger listens: give it every pipe and follower, then answer who waited */
  private onReady(): void {
    this.ready = true;
    // followers first: node sends the pipes one at a time (each waits for its ACK), and a line
    // read from the first one must already find its follower
    for (const [key, n] of this.follows) for (let i = 0; i < n; i++) this.send({ t: 'follow', id: key || undefined, on: true });
    for (const id of this.sinks.keys()) this.openAll(id);
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private openAll(id: string): void {
    const r = this.sinks.get(id)!;
    for (const stream of ['stdout', 'stderr'] as const) {
      const pipe = r.pipes[stream];
      if (pipe && this.connected) this.child!.send({ t: 'open', id, stream, target: r.target } satisfies ToLogger, pipe, { keepOpen: true }, () => undefined);
    }
  }

  /** close PID 1's read ends of a sink and forget it */
  private drop(id: string): void {
    const r = this.sinks.get(id);
    if (!r) return;
    this.sinks.delete(id);
    for (const p of Object.values(r.pipes)) p?.destroy();
  }

  private send(m: ToLogger): boolean {
    if (!this.connected) return false;
    this.child!.send(m, undefined, {}, () => undefined);
    return true;
  }

  private async request(m: Request, timeoutMs = REQUEST_MS): Promise<Answer | undefined> {
    const end = Date.now() + timeoutMs;
    if (!(await this.whenReady(timeoutMs))) return undefined;
    const req = this.nextReq++;
    return new Promise((resolve) => {
      if (!this.send({ ...m, req } as ToLogger)) return resolve(undefined);
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve(undefined);
      }, Math.max(0, end - Date.now()));
      this.pending.set(req, (a) => {
        clearTimeout(timer);
        this.pending.delete(req);
        resolve(a);
      });
    });
  }

  private receive(raw: unknown): void {
    const p = FromLogger.safeParse(raw);
    if (!p.success) return this.opts.warn?.(`logger: unable to read a message: ${p.error.issues[0]?.message ?? 'not a message'} (ignored)`);
    const m = p.data;
    if (m.t === 'ready') return this.onReady();
    if (m.t === 'lines') return this.sinks.get(m.id)?.hooks.lines(m.stream, m.lines, m.time);
    if (m.t === 'error') {
      const r = this.sinks.get(m.id);
      return r ? r.hooks.error(m.message) : this.opts.warn?.(`logger: ${m.id}: ${m.message}`);
    }
    this.pending.get(m.req)?.(m);
  }
}

let shared: LoggerProcess | undefined;

/** the logger of this process (PID 1 has one), started with the first sink */
export function sharedLogger(sys: Pick<Sys, 'cloexecFrom'>, opts?: LoggerOptions): LoggerProcess {
  return (shared ??= new LoggerProcess(sys, opts));
}

/** stop the shared logger, if any (stage 3's end); a later sink starts a new one */
export async function stopSharedLogger(deadline: number): Promise<void> {
  const l = shared;
  shared = undefined;
  await l?.stop(deadline);
}
