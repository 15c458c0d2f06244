/**
 * readiness.ts — when is a freshly spawned process "up"?
 *
 * Model. Dependents start once a service is *ready*, which is one of:
 *   spawn   ready the moment the process exists (the default);
 *   notify  sd_notify: the process sends READY=1 to $NOTIFY_SOCKET, a datagram socket metainit
 *           binds at <runDir>/notify/<name>.sock (inside a `root:`, at the same path under the
 *           root's /run). EXTEND_TIMEOUT_USEC=… pushes the readiness timeout out; every other
 *           assignment (STATUS, MAINPID, WATCHDOG, STOPPING, RELOADING …) goes to the service
 *           (`onMessage`). Only the service's own processes may notify (`owns`: systemd's
 *           NotifyAccess, by the sender's pid from SCM_CREDENTIALS); others are ignored and
 *           reported. The socket lives as long as the service, across runs;
 *   fd      s6-style: the process gets a pipe at fd N and writes a newline to it;
 *   test    zinit-style: a command (split, no shell) is run every `interval` until it exits 0.
 * With `timeout` > 0, a run not ready in time fails with "not ready after Xs".
 *
 * A `Readiness` belongs to one service. For each run, `prepare()` says what the run needs
 * (NOTIFY_SOCKET, the readiness fd) and `watch(run, hooks)` reports ready/failed once; watching
 * ends when the run exits or the returned cancel function is called.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { splitCommand } from '../config/split.js';
import type { NotifySocket, Sys } from '../base/sys.js';
import { ExecError, signalRun, type Run } from './process.js';
import { hostPath, isHostRoot } from './rootfs.js';

export type ReadySpec =
  | { kind: 'spawn' }
  | { kind: 'notify'; timeout: number }
  | { kind: 'fd'; fd: number; timeout: number }
  | { kind: 'test'; argv: string[]; interval: number; timeout: number };

/** The `ready:` key as the schema gives it. */
export type ReadyConfigValue =
  | 'spawn'
  | 'notify'
  | { fd?: number | undefined; notify?: true | undefined; test?: string | undefined; interval: number; timeout: number };

/**
 * `ready:` → ReadySpec. `testArgv` is the already split test command (the loader splits it and
 * folds zinit's top-level `test:` into `ready`); without it the command is split here, which
 * throws SplitError on a bad line.
 */
export function readySpec(ready: ReadyConfigValue, testArgv?: string[]): ReadySpec {
  if (ready === 'spawn') return { kind: 'spawn' };
  if (ready === 'notify') return { kind: 'notify', timeout: 0 };
  if (ready.fd !== undefined) return { kind: 'fd', fd: ready.fd, timeout: ready.timeout };
  if (ready.test !== undefined) return { kind: 'test', argv: testArgv ?? splitCommand(ready.test), interval: ready.interval, timeout: ready.timeout };
  return { kind: 'notify', timeout: ready.timeout };
}

export interface ReadyHooks {
  ready(): void;
  failed(reason: string): void;
}

export interface ReadinessContext {
  sys: Pick<Sys, 'notifySocket'>;
  instance: string;
  name: string;
  /** the instance's runtime dir (/run/metainit/<instance>) */
  runDir: string;
  root: string;
  /** run the test command the way the service runs (user, env, root); throws ExecError */
  spawnTest(argv: string[]): Run;
  /** is `pid` a process of this service (its main process, its group, session or descendants)? */
  owns(pid: number): boolean;
  /** the assignments of one sd_notify message from the service, in order (READY=1 included) */
  onMessage(fields: ReadonlyArray<readonly [string, string]>): void;
  /** a message from a process that is not the service's: ignored */
  onForeign(pid: number): void;
}

/** "5s", "0.5s", "250ms" */
function formatSeconds(ms: number): string {
  return ms >= 1000 || ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export class Readiness {
  private socket: NotifySocket | undefined;
  private notifyWaiter: (() => void) | undefined;
  /** EXTEND_TIMEOUT_USEC: give the running readiness timeout this much more from now */
  private extendTimeout: ((ms: number) => void) | undefined;

  constructor(
    private spec: ReadySpec,
    private readonly ctx: ReadinessContext,
  ) {}

  get kind(): ReadySpec['kind'] {
    return this.spec.kind;
  }

  /** a reload may change the readiness mode; takes effect at the next run */
  respec(spec: ReadySpec): void {
    if (spec.kind !== 'notify') this.closeSocket();
    this.spec = spec;
  }

  /** what a starting run waits for, in words ("waiting for READY=1"); undefined for spawn */
  waitsFor(): string | undefined {
    switch (this.spec.kind) {
      case 'notify':
        return 'waiting for READY=1 on $NOTIFY_SOCKET';
      case 'fd':
        return `waiting for a line on fd ${this.spec.fd}`;
      case 'test':
        return `waiting for ${this.spec.argv.join(' ')} to pass`;
      default:
        return undefined;
    }
  }

  /** What the next run needs: NOTIFY_SOCKET (path as the child sees it) and/or the readiness fd. */
  prepare(): { notifySocket?: string; readyFd?: number } {
    if (this.spec.kind === 'fd') return { readyFd: this.spec.fd };
    if (this.spec.kind !== 'notify') return {};
    const inside = isHostRoot(this.ctx.root)
      ? join(this.ctx.runDir, 'notify', `${this.ctx.name}.sock`)
      : `/run/metainit/${this.ctx.instance}/notify/${this.ctx.name}.sock`;
    if (!this.socket) {
      const path = hostPath(this.ctx.root, inside);
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      rmSync(path, { force: true });
      this.socket = this.ctx.sys.notifySocket(path, (msg, sender) => this.onNotify(msg, sender));
    }
    return { notifySocket: inside };
  }

  /** Report readiness of `run` once through hooks; returns a cancel function. */
  watch(run: Run, hooks: ReadyHooks): () => void {
    const cleanups: Array<() => void> = [];
    let settled = false;
    const cancel = (): void => {
      settled = true;
      for (const c of cleanups.splice(0)) c();
    };
    const settle = (ok: boolean, reason = ''): void => {
      if (settled) return;
      cancel();
      if (ok) hooks.ready();
      else hooks.failed(reason);
    };
    run.onExit(cancel);
    const spec = this.spec;
    if (spec.kind === 'spawn') {
      settle(true);
      return cancel;
    }
    if (spec.timeout > 0) {
      let t = setTimeout(() => settle(false, `not ready after ${formatSeconds(spec.timeout)}`), spec.timeout);
      this.extendTimeout = (ms) => {
        clearTimeout(t);
        t = setTimeout(() => settle(false, `not ready after ${formatSeconds(spec.timeout)} and the extension it asked for (${formatSeconds(ms)})`), ms);
      };
      cleanups.push(() => {
        clearTimeout(t);
        this.extendTimeout = undefined;
      });
    }
    if (spec.kind === 'notify') {
      this.notifyWaiter = () => settle(true);
      cleanups.push(() => (this.notifyWaiter = undefined));
    } else if (spec.kind === 'fd') {
      const pipe = run.readyPipe;
      if (!pipe) settle(false, `readiness fd ${spec.fd}: unable to open pipe`);
      else {
        pipe.on('data', (chunk: Buffer) => {
          if (chunk.includes(0x0a)) settle(true);
        });
        pipe.on('error', () => undefined);
        cleanups.push(() => pipe.destroy());
      }
    } else {
      this.pollTest(spec, (ok, reason) => settle(ok, reason), cleanups);
    }
    return cancel;
  }

  /** run the test command until it exits 0; each failure waits `interval` */
  private pollTest(spec: Extract<ReadySpec, { kind: 'test' }>, settle: (ok: boolean, reason?: string) => void, cleanups: Array<() => void>): void {
    let timer: NodeJS.Timeout | undefined;
    let probe: Run | undefined;
    let done = false;
    cleanups.push(() => {
      done = true;
      if (timer) clearTimeout(timer);
      if (probe) signalRun(probe.pid, 'SIGKILL', true);
    });
    const attempt = (): void => {
      timer = undefined;
      try {
        probe = this.ctx.spawnTest(spec.argv);
      } catch (e) {
        settle(false, `ready test: ${e instanceof ExecError ? e.reason : (e as Error).message}`);
        return;
      }
      probe.onExit((st) => {
        probe = undefined;
        if (done) return;
        if (st.code === 0) settle(true);
        else timer = setTimeout(attempt, spec.interval);
      });
    };
    attempt();
  }

  private onNotify(msg: string, sender: number): void {
    if (!this.ctx.owns(sender)) return this.ctx.onForeign(sender);
    const fields: Array<[string, string]> = [];
    for (const line of msg.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) fields.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
    for (const [k, v] of fields) {
      if (k === 'EXTEND_TIMEOUT_USEC' && /^\d+$/.test(v)) this.extendTimeout?.(Math.ceil(Number(v) / 1000));
    }
    this.ctx.onMessage(fields);
    if (fields.some(([k, v]) => k === 'READY' && v === '1')) this.notifyWaiter?.();
  }

  private closeSocket(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  /** the service is gone: close the notify socket */
  close(): void {
    this.closeSocket();
  }
}
