/**
 * script.ts — one init script as a service: its state, its actions, its output.
 *
 * Model. A Script holds what metainit knows of one /etc/init.d script: the observed `state` and
 * the wanted `target` (never one variable), the reason of the last change, the daemon's pid
 * (from its pid file), and the tail of everything its actions printed. Its *actions* — `start`,
 * `stop`, `force-reload`, each on a pty of its own, and the `status` query — form one queue:
 * two actions of one script never overlap, a stop asked during a start runs after it.
 *
 *   start   → starting → `script start` exit 0 → for a daemon: `script status` through the LSB
 *             table (running, or error "not running right after start"); for a oneshot (lsb.ts
 *             tells them apart): ok. Non-zero exit or timeout → error with the LSB meaning.
 *   stop    → stopping → `script stop` → stopped (with the exit's meaning when non-zero), or
 *             running again if `status` still says 0.
 *   poll    a running daemon's `status`, through the table for its target (died → error).
 * Deciding *when* to start (dependencies) is the adapter's job (index.ts); this file only runs
 * what it is told and reports every change as a `state` event.
 */
import { spawn } from 'node:child_process';
import { isReady, type ServiceState, type ServiceStatus, type Target } from '../../base/states.js';
import { sleep } from '../../base/time.js';
import type { Logger } from '../../base/types.js';
import { metainitOwner, ownedReason, type MetainitRole } from '../../roles/lsb-facilities.js';
import { childEnv } from '../../supervisor/environment.js';
import { firstLivePid } from '../../supervisor/pidfile.js';
import { LineTail, type PtyPool, type PtyResult } from '../../supervisor/pty-runner.js';
import { ConsoleTap } from '../../supervisor/console-tap.js';
import { inRoot } from '../../supervisor/rootfs.js';
import { runitHookWords } from './runit-hook.js';
import type { AdapterEvent, DepState } from '../adapter.js';
import type { InitScript } from './lsb.js';
import type { ScriptDeps } from './lsb-plan.js';
import { describeActionExit, stateFromStatus } from './states.js';

const STATUS_TIMEOUT_MS = 10_000;
/** pauses before asking `status` again when it says "not running" right after a start */
const SETTLE_MS = [200, 500, 1000];
const TAIL_LINES = 1000;

/** What a Script needs from its adapter. */
export interface ScriptHost {
  readonly instance: string;
  readonly root: string;
  /** longest time one action may take (ms) */
  readonly timeout: number;
  readonly pool: PtyPool;
  readonly log: Logger;
  env(): Record<string, string>;
  emit(ev: AdapterEvent): void;
  /** the `after` list shown in the script's status */
  after(name: string): string[];
  /** a queued action ended: the adapter may now start what waited for it */
  settled(): void;
}

/** The environment of every init script action, as sysvinit's rc gives it (no systemctl redirection). */
export function lsbEnv(runlevel: number): Record<string, string> {
  return {
    ...childEnv({ identity: { name: 'root', home: '/root' } }),
    TERM: 'dumb',
    RUNLEVEL: String(runlevel),
    PREVLEVEL: 'N',
    _SYSTEMCTL_SKIP_REDIRECT: '1',
  };
}

/** May a script start now: go, wait (for what), or fail (why). */
export type StartVerdict = 'go' | { fail?: string; wait: string[] };

/**
 * Local scripts it depends on first (ready, or down: fine; failed: fatal for a Required-Start),
 * then roles through the DependencyView (a required role nobody holds is said once and ignored).
 */
export function startVerdict(s: Script, deps: ScriptDeps | undefined, script: (name: string) => Script | undefined, depState: (ref: string) => DepState, warn: (text: string) => void): StartVerdict {
  const wait: string[] = [];
  for (const [dep, kind] of deps?.local ?? []) {
    const d = script(dep);
    if (!d || d.target === 'down' || isReady(d.state)) continue;
    if (d.state !== 'error') wait.push(dep);
    else if (kind === 'required') return { fail: `dependency ${dep} failed`, wait };
  }
  for (const [role, kind] of deps?.roles ?? []) {
    const st = depState(`role:${role}`);
    if (st === 'pending') wait.push(`role:${role}`);
    else if (st === 'failed' && kind === 'required') return { fail: `dependency role:${role} failed`, wait };
    else if (st === 'unknown' && kind === 'required') warn(`${s.id}: requires role ${role}, which no instance holds; starting without it`);
  }
  return wait.length > 0 ? { wait } : 'go';
}

export class Script {
  readonly owned: MetainitRole | undefined;
  vetoed = false;
  state: ServiceState = 'stopped';
  target: Target = 'down';
  reason: string | undefined;
  since = Date.now();
  pid: number | undefined;
  lastExit: { code: number | null; signal: string | null } | undefined;
  /** its start action ran since its last stop: a shutdown must run its stop action */
  ran = false;
  private queue: Promise<void> | undefined;
  private readonly tail = new LineTail(TAIL_LINES);

  constructor(
    public def: InitScript,
    private readonly host: ScriptHost,
  ) {
    this.owned = metainitOwner(def.name);
    this.reason = this.owned ? ownedReason(this.owned) : undefined;
  }

  /** words after every action: --force-sysv where runit's LSB hook would take the script (runit-hook.ts; read each time: a package may add /etc/sv/NAME) */
  private get extra(): string[] {
    return runitHookWords(this.host.root, this.def.name);
  }

  get name(): string {
    return this.def.name;
  }

  get id(): string {
    return `${this.host.instance}/${this.def.name}`;
  }

  /** an action or status query is queued or running */
  get busy(): boolean {
    return this.queue !== undefined;
  }

  logs(n: number): string[] {
    return this.tail.last(n);
  }

  // ------------------------------------------------------------------------------ actions

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  stop(timeoutMs = this.host.timeout): Promise<void> {
    return this.enqueue(() => this.doStop(timeoutMs));
  }

  /** LSB's force-reload: reload the configuration if the daemon can, else restart it. */
  reload(): Promise<void> {
    return this.enqueue(async () => {
      if (this.state !== 'running') return;
      const r = await this.action('force-reload', this.host.timeout);
      if (r.code !== 0) this.host.log.warn(`${this.id}: unable to reload: force-reload ${describeActionExit(r.code, r.signal)}`);
    });
  }

  /** Ask a running daemon's `status`; a change is reported. */
  poll(): void {
    if (this.state !== 'running' || this.busy || !this.def.daemon) return;
    void this.enqueue(async () => {
      const st = stateFromStatus(await this.queryStatus(), this.target);
      if (this.state !== 'running' || !st || st.state === 'running') return this.refreshPid();
      this.set(st.state, st.state === 'error' ? `died: ${st.reason}` : undefined);
    });
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const p: Promise<void> = (this.queue ?? Promise.resolve())
      .then(fn)
      .catch((e: unknown) => this.host.log.error(`${this.id}: unable to run its action: ${(e as Error).message}`))
      .finally(() => {
        if (this.queue === p) this.queue = undefined;
        this.host.settled();
      });
    this.queue = p;
    return p;
  }

  private async doStart(): Promise<void> {
    if (this.target !== 'up') return;
    this.ran = true;
    this.set('starting');
    const r = await this.action('start', this.host.timeout);
    if (r.code !== 0) {
      return this.set('error', r.timedOut ? `start timed out after ${this.host.timeout / 1000}s` : `start failed: ${describeActionExit(r.code, r.signal)}`);
    }
    if (!this.def.daemon) return this.set('ok');
    // a daemon that forks may write its pid file a moment after `start` returned: ask again
    let st = stateFromStatus(await this.queryStatus(), 'up');
    for (const ms of SETTLE_MS) {
      if (st?.state !== 'error') break;
      await sleep(ms);
      st = stateFromStatus(await this.queryStatus(), 'up');
    }
    if (st?.state === 'error') this.set('error', `not running after start (${st.reason})`);
    else this.set(st?.state ?? 'running');
  }

  private async doStop(timeoutMs: number): Promise<void> {
    if (!this.ran) {
      if (this.state === 'waiting' || this.state === 'error') this.set('stopped');
      return;
    }
    this.set('stopping');
    const r = await this.action('stop', timeoutMs);
    this.ran = false;
    const exit = r.timedOut ? 'timed out' : describeActionExit(r.code, r.signal);
    if (this.def.daemon && stateFromStatus(await this.queryStatus(), 'down')?.state === 'running') {
      this.ran = true;
      return this.set('running', `stop ${exit}, but status says it still runs`);
    }
    this.set('stopped', r.code === 0 ? undefined : `stop ${exit}`);
    if (this.target === 'up') this.set('waiting'); // wanted again while it stopped
  }

  /** the pty of the action running now (start, stop …), for `metainit console` */
  console: ConsoleTap | undefined;

  /**
   * `script verb` on a pty of its own; its lines go to the tail and the event stream. While it
   * runs, `metainit console sysv/NAME` attaches to that pty (a script asking for a passphrase).
   */
  private async action(verb: string, timeoutMs: number): Promise<PtyResult> {
    const r = await this.host.pool.run(
      [`/etc/init.d/${this.name}`, verb, ...this.extra],
      timeoutMs,
      (line) => {
        this.tail.push(line);
        this.host.emit({ type: 'log', id: this.id, stream: 'stdout', line, time: Date.now() });
      },
      (run) => (this.console = new ConsoleTap(run)),
    );
    this.console?.close();
    this.console = undefined;
    if (r.error) this.host.log.error(`${this.id}: unable to ${verb}: ${r.error}`);
    this.lastExit = { code: r.code, signal: r.signal };
    return r;
  }

  /** Exit code of `script status` (4, "unknown", when it cannot run or hangs). */
  private queryStatus(): Promise<number> {
    const argv = inRoot(this.host.root, [`/etc/init.d/${this.name}`, 'status', ...this.extra]);
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { env: this.host.env(), cwd: '/', stdio: 'ignore', timeout: STATUS_TIMEOUT_MS, killSignal: 'SIGKILL' });
      child.on('error', () => resolve(4));
      child.on('exit', (code) => resolve(code ?? 4));
    });
  }

  // ------------------------------------------------------------------------------ state

  /** The daemon's pid from the script's pid file (or /run/NAME.pid), when that process lives. */
  livePid(): number | undefined {
    return firstLivePid(this.host.root, [...(this.def.pidfile ? [this.def.pidfile] : []), `/run/${this.name}.pid`, `/var/run/${this.name}.pid`]);
  }

  private refreshPid(): void {
    const pid = this.livePid();
    if (pid === this.pid) return;
    this.pid = pid;
    this.host.emit({ type: 'state', status: this.status() });
  }

  set(state: ServiceState, reason?: string): void {
    if (this.state === state && this.reason === reason) return;
    this.state = state;
    this.reason = reason;
    this.since = Date.now();
    this.pid = state === 'running' ? this.livePid() : undefined;
    this.host.emit({ type: 'state', status: this.status() });
  }

  status(): ServiceStatus {
    const st: ServiceStatus = {
      id: this.id,
      instance: this.host.instance,
      name: this.name,
      adapter: 'sysv',
      state: this.state,
      target: this.target,
      since: this.since,
      restarts: 0,
      oneshot: !this.def.daemon,
      kind: this.def.daemon ? 'service' : 'oneshot',
      after: this.host.after(this.name),
    };
    if (this.reason !== undefined) st.reason = this.reason;
    if (this.pid !== undefined) st.pid = this.pid;
    if (this.lastExit) st.lastExit = this.lastExit;
    return st;
  }
}
