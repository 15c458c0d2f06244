/**
 * service.ts — one native service: its state machine, as an explicit state × event table.
 *
 * Model. A service has a *target* (up/down: what is wanted) and a *state* (what is observed),
 * never one variable. Wanting it up puts it in `waiting` until every `after` reference is ready
 * (a running service, a finished oneshot, a role holder — asked through the DependencyView); then
 * it is spawned (`starting`) and becomes `running` when its readiness says so. A oneshot stays
 * `starting` while it runs — dependents wait for its result — and ends `ok` on exit 0, never to
 * be respawned. When a process exits on its own, the restart policy decides (default `always`
 * for services, `never` for oneshots): restart → `respawn`, and after the backoff delay
 * (backoff.ts; first delay backoff.initial) a new run; no restart → `error` with the exit as
 * reason (`ok` when it exited 0). Wanting it down sends stop_signal to the process, and SIGKILL
 * to its whole process group when stop_timeout passes (`stopping` → `stopped`). A dependency
 * that failed, a missing program, a readiness timeout, a cycle, too many fast failures all end
 * in `error` with a reason; a start by hand leaves `error` again.
 *
 * Every change is reported as a `state` event with the full ServiceStatus. Events that a state
 * does not list are ignored (a late exit of an old run, a second start while running …).
 *
 *            | start     deps ready  dep failed  ready  not ready  exited     backoff   stop       stop timeout
 *   ---------+-----------------------------------------------------------------------------------------------
 *   stopped  | wait      ·           ·           ·      ·          ·          ·         ·          ·
 *   waiting  | ·         spawn       depFailed   ·      ·          ·          ·         drop       ·
 *   starting | ·         ·           ·           up     abort      exited     ·         terminate  ·
 *   running  | ·         ·           ·           ·      ·          exited     ·         terminate  ·
 *   ok       | ·         ·           ·           ·      ·          ·          ·         drop       ·
 *   respawn  | respawn   ·           ·           ·      ·          ·          respawn   drop       ·
 *   stopping | wantUp    ·           ·           ·      ·          down       ·         ·          kill
 *   error    | wait      ·           ·           ·      ·          ·          ·         drop       ·
 *
 * The table as data, with what each action does, is in states.ts; the actions are below.
 */
import type { ServiceState, ServiceStatus, Target } from '../../base/states.js';
import type { ResolvedNativeService } from '../../config/loader.js';
import { Backoff } from '../../supervisor/backoff.js';
import { sharedLogger } from '../../supervisor/logger-process.js';
import { LogSink } from '../../supervisor/logsink.js';
import { readProc } from '../../supervisor/proctree.js';
import { adoptRun, describeExit, endLeftovers, ExecError, signalRun, type ExitStatus, type Run } from '../../supervisor/process.js';
import type { ConsoleTap } from '../../supervisor/console-tap.js';
import { launchForeground, launchOnPty, launchPiped } from './launch.js';
import { Readiness, readySpec } from '../../supervisor/readiness.js';
import { refName, sinkOptions, type RestartPolicy, type ServiceHost, type ServiceSnapshot } from './host.js';
import { ServiceNotify } from './notify.js';
import { TABLE, type Action, type ServiceEvent } from './states.js';

/** spawn errors that pass: out of descriptors, processes or memory (not a missing or broken program) */
const TRANSIENT = /\b(EMFILE|ENFILE|EAGAIN|ENOMEM)\b|Too many open files|Resource temporarily unavailable|Cannot allocate memory/;

export class Service {
  readonly id: string;
  private state: ServiceState = 'stopped';
  private target: Target = 'down';
  private reason: string | undefined;
  private since = Date.now();
  private restarts = 0;
  private lastExit: ServiceStatus['lastExit'];
  /** a `console: true` service's pty, while a run is on it */
  console: ConsoleTap | undefined;
  private run: Run | undefined;
  /** the definition the current run was started with */
  private runDef: ResolvedNativeService | undefined;
  /** start time of the current run's pid (/proc/PID/stat), for the re-adoption check */
  private runStart: string | undefined;
  private sink: LogSink | undefined;
  private readiness: Readiness;
  private backoff: Backoff;
  private cancelReady: (() => void) | undefined;
  private respawnTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  /** set when a readiness failure is tearing the run down: the final error reason */
  private abortReason: string | undefined;
  /** upper bound for the next stop's timeout (a shutdown deadline) */
  private stopCap = Infinity;
  private readonly runGone: Array<() => void> = [];
  /** sd_notify beyond READY=1: status text, MAINPID, watchdog, who may notify (notify.ts) */
  private readonly notify: ServiceNotify;

  /** taken over from a previous incarnation of PID 1 (running, or deliberately down) */
  adopted = false;
  /** dependency cycle reason: the service cannot start while it is set */
  blocked: string | undefined;
  /** the role registry said no (the reason shown): the service is not started */
  vetoed: string | undefined;

  constructor(
    readonly name: string,
    public file: string,
    public def: ResolvedNativeService,
    public restartPolicy: RestartPolicy,
    private readonly host: ServiceHost,
  ) {
    this.id = `${host.instance}/${name}`;
    this.notify = new ServiceNotify({
      id: this.id,
      state: () => this.state,
      reason: () => this.reason,
      set: (state, reason) => this.set(state, reason),
      runPid: () => this.run?.pid,
      abort: (pid) => signalRun(pid, 'SIGABRT'),
      warn: (line) => host.log.warn(line),
    });
    this.backoff = new Backoff(def.backoff, def.max_restarts);
    this.readiness = new Readiness(readySpec(def.ready, def.readyArgv), {
      sys: host.sys,
      instance: host.instance,
      name,
      runDir: host.runDir,
      root: host.root,
      spawnTest: (argv) => this.launch(argv, 'ignore'),
      owns: (pid) => this.notify.owns(pid),
      onMessage: (fields) => this.notify.onMessage(fields),
      onForeign: (pid) => this.notify.onForeign(pid),
    });
  }

  // ------------------------------------------------------------------------------ inputs

  status(): ServiceStatus {
    return {
      id: this.id,
      instance: this.host.instance,
      name: this.name,
      adapter: 'native',
      state: this.state,
      target: this.target,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      ...(this.run ? { pid: this.run.pid } : {}),
      since: this.since,
      restarts: this.restarts,
      oneshot: this.def.oneshot,
      kind: this.def.oneshot ? 'oneshot' : 'service',
      after: this.def.after,
      ...(this.lastExit ? { lastExit: this.lastExit } : {}),
      ...(this.outdated && (this.state === 'running' || this.state === 'starting') ? { changed: true } : {}),
    };
  }

  /** where the service is defined and what it runs (status NAME) */
  describe(): { file: string; command: string[] } {
    return { file: this.file, command: this.def.argv };
  }

  get current(): ServiceState {
    return this.state;
  }

  get wanted(): Target {
    return this.target;
  }

  /** want it up; `byHand` (a user's start, the boot) resets the restart counter and backoff */
  start(byHand = true): void {
    if (byHand) {
      this.restarts = 0;
      this.backoff.reset();
    }
    this.dispatch({ kind: 'start' });
  }

  /** the dependency view changed: re-check `after` when waiting (`announce`: report even if unchanged) */
  evaluate(announce = false): void {
    if (this.state !== 'waiting') return;
    const pending: string[] = [];
    for (const ref of this.def.after) {
      const st = this.host.depState(ref);
      if (st === 'failed') return this.dispatch({ kind: 'depFailed', reason: `dependency failed: ${refName(this.host, ref)}` });
      if (st !== 'ready') pending.push(refName(this.host, ref));
    }
    if (pending.length === 0) return this.dispatch({ kind: 'depsReady' });
    const reason = `waiting for ${pending.join(', ')}`;
    if (announce || reason !== this.reason) this.set('waiting', reason);
  }

  /** want it down; resolves once no run is left. `cap` bounds stop_timeout (ms). */
  async stop(cap = Infinity): Promise<void> {
    this.stopCap = cap;
    this.dispatch({ kind: 'stop' });
    if (this.run) await new Promise<void>((resolve) => this.runGone.push(resolve));
  }

  /** send a signal to the running process (what happens next is up to its exit) */
  /** `all`: the run's process group (what it started too); `main`: its process only */
  kill(signal: string, whom: 'all' | 'main' = 'all'): void {
    if (!this.run) throw new Error(`${this.id}: unable to kill: not running`);
    // a MAINPID= process adopted from a forking daemon may lead no group: then it alone
    const sent = (whom === 'all' && signalRun(this.run.pid, signal, true)) || signalRun(this.run.pid, signal);
    if (!sent) throw new Error(`${this.id}: unable to kill: not running`);
  }

  /** block (cycle) or veto (roles) the service: it is shown as such and does not start */
  hold(kind: 'blocked' | 'vetoed', reason: string | undefined): void {
    if (kind === 'blocked') this.blocked = reason;
    else this.vetoed = reason;
    if (reason === undefined) return;
    if (kind === 'blocked' && (this.state === 'stopped' || this.state === 'waiting' || this.state === 'error')) this.set('error', reason);
    if (kind === 'vetoed' && (this.state === 'stopped' || this.state === 'waiting')) this.set('stopped', reason);
    // lost its role at a sync while up: stopped, then shown as vetoed
    else if (kind === 'vetoed' && this.run) void this.stop().then(() => this.vetoed && this.state === 'stopped' && this.set('stopped', this.vetoed));
  }

  /** store a changed definition; it applies from the next run */
  redefine(file: string, def: ResolvedNativeService, policy: RestartPolicy): void {
    this.file = file;
    this.def = def;
    this.restartPolicy = policy;
    this.backoff = new Backoff(def.backoff, def.max_restarts);
    this.readiness.respec(readySpec(def.ready, def.readyArgv));
    this.sink?.retarget(sinkOptions(this.host, this.name, def).target);
  }

  async logs(n: number, raw = false): Promise<string[]> {
    return (await this.sink?.tail(n, raw)) ?? [];
  }

  /** live lines as 'log' events until the returned function is called (also of runs yet to come) */
  follow(): () => void {
    return sharedLogger(this.host.sys).follow(`${this.host.instance}/${this.name}`);
  }

  snapshot(): ServiceSnapshot {
    return {
      name: this.name,
      state: this.state,
      target: this.target,
      since: this.since,
      restarts: this.restarts,
      reason: this.reason,
      pid: this.run?.pid,
      startedAt: this.run?.startedAt,
      procStart: this.run ? this.runStart : undefined,
      logFds: this.sink?.fds,
    };
  }

  /** take over a run of a previous incarnation of PID 1 (before the adapter's start()) */
  adopt(s: ServiceSnapshot): void {
    this.adopted = true;
    if (s.logFds) this.sink = LogSink.adopt(this.host.sys, sinkOptions(this.host, this.name, this.def), s.logFds);
    this.restarts = s.restarts;
    this.target = s.target;
    this.reason = s.reason;
    this.since = s.since;
    let alive = s.pid !== undefined && (s.state === 'starting' || s.state === 'running' || s.state === 'stopping');
    if (alive && s.procStart !== undefined && readProc(s.pid!)?.start !== s.procStart) {
      // the pid is gone, or is another process now (a recycled pid, another metainit's child): never adopt a stranger
      this.host.log.warn(`${this.host.instance}/${this.name}: unable to re-adopt pid ${s.pid}: it is not the process this service started (its start time differs); starting the service anew`);
      alive = false;
      if (s.state === 'stopping') this.target = 'down';
    }
    if (!alive) {
      // waiting/respawn: left stopped with its target, so the adapter's start() picks it up
      if (s.state === 'ok' || s.state === 'error' || s.state === 'stopped') this.state = s.state;
      return this.set(this.state, this.reason);
    }
    // a service still starting keeps waiting for READY=1 (the notify socket is bound again at
    // its path) or its test; an fd pipe cannot be re-observed: that one is taken as up
    const rewatch = s.state === 'starting' && !this.def.oneshot && (this.readiness.kind === 'notify' || this.readiness.kind === 'test');
    this.state = s.state === 'starting' && !this.def.oneshot && !rewatch ? 'running' : s.state;
    if (rewatch) this.readiness.prepare();
    this.attach(adoptRun(s.pid!, s.startedAt ?? s.since, this.host.watchPid));
    if (!this.run) return; // already gone: the exit was handled
    if (rewatch) this.watchReadiness(this.run);
    if (s.state === 'stopping') this.terminate();
    else this.set(this.state, this.reason);
  }

  /** is a run alive that was started with an older definition (a sync stored a new one)? */
  get outdated(): boolean {
    return this.run !== undefined && this.runDef !== this.def;
  }

  /** the service is removed: close its pipes and notify socket (call after stop()) */
  async dispose(): Promise<void> {
    this.clearTimers();
    this.readiness.close();
    await this.sink?.close();
  }

  // ------------------------------------------------------------------------------ machine

  private dispatch(ev: ServiceEvent): void {
    const action = TABLE[this.state][ev.kind];
    if (action) this.perform(action, ev);
  }

  private perform(action: Action, ev: ServiceEvent): void {
    switch (action) {
      case 'wait':
        this.target = 'up';
        if (this.blocked) return this.set('error', this.blocked);
        if (this.vetoed) return this.set('stopped', this.vetoed);
        // enter waiting and report it once, with what it waits for (or go straight on)
        this.state = 'waiting';
        this.since = Date.now();
        this.reason = undefined;
        return this.evaluate(true);
      case 'spawn':
        return this.spawn();
      case 'respawn':
        this.clearTimers();
        if (ev.kind === 'backoff') this.restarts += 1;
        return this.spawn(ev.kind === 'backoff');
      case 'depFailed':
        return this.set('error', ev.reason);
      case 'up':
        return this.set('running', this.notify.statusText);
      case 'abort':
        this.abortReason = ev.reason;
        this.signalStop();
        return this.set('stopping', ev.reason);
      case 'exited':
        return this.exited(ev.exit!);
      case 'drop':
        this.clearTimers();
        this.target = 'down';
        return this.set('stopped', undefined);
      case 'terminate':
        return this.terminate();
      case 'wantUp':
        this.target = 'up';
        return;
      case 'down':
        return this.down(ev.exit!);
      case 'kill':
        if (this.run) {
          signalRun(this.run.pid, 'SIGKILL', true);
          signalRun(this.run.pid, 'SIGKILL');
        }
        return;
    }
  }

  /** start a run; `restart`: an automatic one after a respawn, marked in the service's log */
  private spawn(restart = false): void {
    let run: Run;
    try {
      if (this.def.foreground) run = launchForeground(this.host, this.def, this.readiness);
      else {
        this.sink ??= LogSink.open(this.host.sys, sinkOptions(this.host, this.name, this.def));
        if (this.def.console) run = this.launchConsole(this.sink);
        else {
          this.sink.reopen(this.host.sys); // a oneshot's pipes are released between runs
          run = this.launch(this.def.argv, this.sink);
        }
      }
    } catch (e) {
      // a program that cannot run ends as a shell would say it: 127 not found, 126 not runnable
      if (e instanceof ExecError) this.lastExit = { code: e.status, signal: null };
      const why = e instanceof ExecError ? e.reason : (e as Error).message;
      return TRANSIENT.test(why) ? this.retryLater(why) : this.set('error', why);
    }
    // a restart marker in the service's own log: where one run ends and the next begins
    if (restart) this.sink?.line('stdout', `-- metainit: restart ${this.restarts} (pid ${run.pid}) after ${this.lastExit ? describeExit(this.lastExit) : 'a failed start'} --`);
    this.attach(run);
    this.notify.newRun();
    this.set('starting', this.def.oneshot ? undefined : this.readiness.waitsFor());
    if (this.def.oneshot) return;
    this.watchReadiness(run);
  }

  /** readiness of `run`; once ready, its watchdog runs (`watchdog:`) */
  private watchReadiness(run: Run): void {
    this.cancelReady = this.readiness.watch(run, {
      ready: () => {
        this.notify.armWatchdog(this.def.watchdog);
        this.dispatch({ kind: 'ready' });
      },
      failed: (reason) => this.dispatch({ kind: 'notReady', reason }),
    });
  }


  /** start argv as this service runs (user, env, root, cwd); stdout/stderr to the sink or /dev/null */
  private launch(argv: string[], out: LogSink | 'ignore'): Run {
    return launchPiped(this.host, this.def, argv, out, this.readiness);
  }

  /** a console run (launch.ts); its pty is opened to viewers as `console` until the run ends */
  private launchConsole(sink: LogSink): Run {
    const { run, tap } = launchOnPty(this.host, this.def, sink, this.readiness);
    if (tap) {
      this.console?.close();
      this.console = tap;
      run.onExit(() => tap.close());
    }
    return run;
  }

  private attach(run: Run): void {
    this.run = run;
    this.runStart = readProc(run.pid)?.start;
    this.runDef = this.def;
    run.onExit((exit) => {
      if (this.run === run) this.dispatch({ kind: 'exited', exit });
    });
  }

  /** forget the current run: wake stop() callers, stop readiness, remember the exit */
  private detach(exit: ExitStatus): number {
    const startedAt = this.run?.startedAt ?? Date.now();
    this.run = undefined;
    this.notify.runEnded(); // main pid and watchdog go with the run
    this.cancelReady?.();
    this.cancelReady = undefined;
    this.lastExit = { code: exit.code, signal: exit.signal };
    for (const w of this.runGone.splice(0)) w();
    return startedAt;
  }

  private exited(exit: ExitStatus): void {
    if (this.handOver(exit)) return;
    const pid = this.run?.pid;
    const fired = this.notify.runEnded();
    const startedAt = this.detach(exit);
    // a long-running service's leftovers (its process group) go with it: TERM, KILL after stop_timeout
    if (pid !== undefined && !this.def.oneshot) endLeftovers(pid, this.def.stop_timeout);
    const why = fired ? `${fired}, ${describeExit(exit)}` : describeExit(exit);
    if (exit.error) return TRANSIENT.test(exit.error) ? this.retryLater(why) : this.set('error', why);
    const failed = exit.code !== 0;
    const restart = this.restartPolicy === 'always' || (this.restartPolicy === 'on-failure' && failed);
    // a oneshot that ran to its end holds no descriptors until it is started again
    if (this.def.oneshot && (!failed || !restart)) void this.sink?.release();
    if (this.def.oneshot && exit.code === 0) return this.set('ok', undefined);
    if (!restart) return this.set(failed ? 'error' : 'ok', why);
    const decision = this.backoff.ran(startedAt, Date.now());
    if (decision.giveUp) return this.set('error', `${decision.reason} (last: ${why})`);
    this.respawnTimer = setTimeout(() => this.dispatch({ kind: 'backoff' }), decision.delay);
    this.set('respawn', `${why}, restarting in ${decision.delay}ms`);
  }

  /**
   * MAINPID= named another process and the first one ended well: the service goes on in that
   * process (a forking daemon) — supervised from now on through it; readiness, if still awaited,
   * is awaited from it.
   */
  private handOver(exit: ExitStatus): boolean {
    if (exit.code !== 0) return false;
    const main = this.notify.takeMainPid();
    if (main === undefined) return false;
    const waiting = this.state === 'starting';
    this.cancelReady?.();
    this.cancelReady = undefined;
    const run = adoptRun(main, Date.now(), this.host.watchPid);
    this.host.log.info(`${this.id}: main process is now ${main} (MAINPID=), the first one exited 0`);
    if (this.state === 'stopping') signalRun(main, this.def.stop_signal); // the stop goes on, to the process that is the service now
    this.attach(run);
    if (waiting && this.run === run) this.watchReadiness(run);
    else if (this.run === run) this.set(this.state, this.reason);
    return true;
  }

  /**
   * A start that failed for want of a resource that comes back (descriptors, processes, memory):
   * tried again with the service's backoff, however many times — never a permanent error.
   */
  private retryLater(why: string): void {
    this.clearTimers();
    const d = this.backoff.ran(Date.now(), Date.now());
    const delay = d.giveUp ? this.def.backoff.max : d.delay; // max_restarts does not apply: it is not the service failing
    this.respawnTimer = setTimeout(() => this.dispatch({ kind: 'backoff' }), delay);
    this.set('respawn', `unable to start: ${why} (a passing shortage: trying again in ${delay}ms)`);
  }

  private terminate(): void {
    this.target = 'down';
    this.clearTimers();
    this.cancelReady?.();
    this.signalStop();
    this.set('stopping', undefined);
  }

  /** stop_signal to the process; SIGKILL to its group once stop_timeout (capped) passes */
  private signalStop(): void {
    if (!this.run) return;
    signalRun(this.run.pid, this.def.stop_signal);
    const timeout = Math.max(0, Math.min(this.def.stop_timeout, this.stopCap));
    this.stopCap = Infinity;
    this.stopTimer = setTimeout(() => this.dispatch({ kind: 'stopTimeout' }), timeout);
  }

  private down(exit: ExitStatus): void {
    if (this.handOver(exit)) return;
    const pid = this.run?.pid;
    this.detach(exit);
    this.clearTimers();
    if (pid !== undefined) endLeftovers(pid, Math.max(0, Math.min(this.def.stop_timeout, this.stopCap))); // leftovers of its process group
    const abort = this.abortReason;
    this.abortReason = undefined;
    if (abort) {
      this.target = 'down';
      return this.set('error', abort);
    }
    if (this.target === 'up') return this.perform('wait', { kind: 'start' });
    this.set('stopped', undefined);
  }

  private clearTimers(): void {
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.respawnTimer = this.stopTimer = undefined;
  }

  private set(state: ServiceState, reason: string | undefined): void {
    const before = this.state;
    if (state !== before) this.since = Date.now();
    this.state = state;
    this.reason = reason;
    this.host.emit({ type: 'state', status: this.status() });
    if (state === 'error' && before !== 'error') {
      const verb = before === 'running' || before === 'respawn' ? 'keep running' : 'start';
      this.host.emit({ type: 'message', level: 'error', text: `${this.id}: unable to ${verb}: ${reason ?? 'failed'}` });
    }
  }

}
