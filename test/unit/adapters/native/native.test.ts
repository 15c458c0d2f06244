/**
 * native.test.ts — the native adapter driving real processes (no namespace needed).
 *
 * Each case copies a folder of test/fixtures/native/ into a temp services dir (replacing @TMP@ by
 * the temp dir), builds the adapter with the real addon, a small DependencyView that answers for
 * the instance's own services like the manager does, and records every state event. Every test
 * stops the adapter, which ends every process it started.
 */
import { stopSharedLogger } from '../../../../src/supervisor/logger-process.js';
import { installReaper } from '../../../../src/supervisor/reaper.js';
import { NO_ROOT_HOOKS } from '../../../../src/supervisor/sandbox.js';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { closeSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterEvent, DependencyView, DepState } from '../../../../src/adapters/adapter.js';
import { NativeAdapter } from '../../../../src/adapters/native/index.js';
import { realSys } from '../../../../src/base/sys.js';
import { isFailed, isReady, type ServiceState, type ServiceStatus } from '../../../../src/base/states.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../../../test/fixtures/native');

interface Seen {
  status: ServiceStatus;
  at: number;
}

class Harness {
  readonly tmp = mkdtempSync(join(tmpdir(), 'metainit-native-'));
  readonly servicesDir = join(this.tmp, 'services.d');
  readonly seen: Seen[] = [];
  readonly messages: string[] = [];
  readonly adapter: NativeAdapter;
  private readonly listeners = new Set<() => void>();

  constructor(fixture: string) {
    mkdirSync(this.servicesDir);
    for (const f of readdirSync(join(FIXTURES, fixture))) {
      const text = readFileSync(join(FIXTURES, fixture, f), 'utf8').replaceAll('@TMP@', this.tmp);
      writeFileSync(join(this.servicesDir, f), text);
    }
    const deps: DependencyView = {
      state: (ref: string): DepState => {
        const name = ref.includes('/') ? ref.slice(ref.indexOf('/') + 1) : ref;
        const st = this.adapter.list().find((s) => s.name === name);
        if (!st) return 'unknown';
        return isReady(st.state) ? 'ready' : isFailed(st.state) ? 'failed' : 'pending';
      },
      onChange: (cb) => {
        this.listeners.add(cb);
        return () => this.listeners.delete(cb);
      },
    };
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    this.adapter = new NativeAdapter({
      instance: 'native',
      mode: 'supervisor',
      config: { adapter: 'native', root: '/', services: this.servicesDir },
      configDir: this.tmp,
      file: `${this.tmp}/adapters.d/instance.yaml`,
      runDir: join(this.tmp, 'run'),
      logDir: join(this.tmp, 'log'),
      sys: realSys(),
      log: quiet,
      deps,
      reaper: { manage: (pid, owned) => installReaper(realSys()).manage(pid, owned), watch: (pid, cb) => installReaper(realSys()).watch(pid, cb) },
      rootHooks: NO_ROOT_HOOKS,
      emit: (ev: AdapterEvent) => {
        if (ev.type === 'message') this.messages.push(ev.text);
        if (ev.type !== 'state') return;
        this.seen.push({ status: ev.status, at: Date.now() });
        for (const l of [...this.listeners]) l();
      },
    });
  }

  async up(): Promise<void> {
    const diags = await this.adapter.load();
    expect(diags.filter((d) => d.level === 'error')).to.deep.equal([]);
    this.adapter.applyRoles(new Set());
    await this.adapter.start();
  }

  status(name: string): ServiceStatus {
    const st = this.adapter.list().find((s) => s.name === name);
    if (!st) throw new Error(`no service ${name}`);
    return st;
  }

  /** state events of one service, in order */
  history(name: string): Seen[] {
    return this.seen.filter((s) => s.status.name === name);
  }

  /** first time `name` entered `state` */
  firstAt(name: string, state: ServiceState): number | undefined {
    return this.history(name).find((s) => s.status.state === state)?.at;
  }

  async until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await pred())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; states: ${JSON.stringify(this.adapter.list().map((s) => [s.name, s.state, s.reason]))}`);
      await sleep(20);
    }
  }

  async untilState(name: string, state: ServiceState, timeoutMs?: number): Promise<void> {
    await this.until(`${name} ${state}`, () => this.status(name).state === state, timeoutMs);
  }

  async down(): Promise<void> {
    await this.adapter.stop(Date.now() + 3000);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('native adapter', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.down();
    h = undefined;
  });
  // the services' logger process is a child of this process: gone before other tests count children
  after(() => stopSharedLogger(Date.now() + 3000));

  it('restarts a crash-looping service with growing delays', async () => {
    h = new Harness('crashloop');
    await h.up();
    await h.until('4 restarts', () => h!.status('crash').restarts >= 4);
    const delays = h
      .history('crash')
      .filter((s) => s.status.state === 'respawn')
      .map((s) => Number(/restarting in (\d+)ms/.exec(s.status.reason ?? '')?.[1]));
    expect(delays.slice(0, 4)).to.deep.equal([100, 200, 400, 800]);
    expect(h.history('crash').find((s) => s.status.state === 'respawn')!.status.reason).to.match(/^exit code 1, restarting in 100ms$/);
    // the spawns themselves are spaced further and further apart
    const spawns = h.history('crash').filter((s) => s.status.state === 'starting').map((s) => s.at);
    expect(spawns[4]! - spawns[3]!).to.be.greaterThan(spawns[1]! - spawns[0]!);
  });

  it('runs a oneshot once: exit 0 → ok and never respawned; exit 3 → error, not restarted', async () => {
    h = new Harness('oneshot');
    await h.up();
    await h.untilState('setup', 'ok');
    await h.untilState('fails', 'error');
    await sleep(600);
    expect(h.status('setup').state).to.equal('ok');
    expect(h.history('setup').filter((s) => s.status.state === 'starting')).to.have.length(1);
    expect(h.status('fails')).to.include({ state: 'error', reason: 'exit code 3', restarts: 0 });
    expect(h.history('fails').filter((s) => s.status.state === 'starting')).to.have.length(1);
    expect(await h.adapter.logs('setup', 10)).to.deep.equal(['done']);
  });

  it('starts a service only after its `after` dependencies are ready', async () => {
    h = new Harness('ordering');
    await h.up();
    await h.untilState('b', 'running');
    await h.untilState('app', 'running');
    // b waited for a to be *running* (ready on fd 3), not merely spawned
    expect(h.firstAt('b', 'starting')!).to.be.at.least(h.firstAt('a', 'running')!);
    expect(h.firstAt('a', 'running')! - h.firstAt('a', 'starting')!).to.be.at.least(250);
    // app waited for the oneshot init to be ok
    expect(h.firstAt('app', 'starting')!).to.be.at.least(h.firstAt('init', 'ok')!);
    expect(h.history('b')[0]!.status).to.include({ state: 'waiting', reason: 'waiting for native/a' });
  });

  it('puts services in a dependency cycle in error and runs the independent one', async () => {
    h = new Harness('cycle');
    await h.up();
    await h.untilState('z', 'running');
    expect(h.status('x')).to.include({ state: 'error', reason: 'dependency cycle x → y → x' });
    expect(h.status('y')).to.include({ state: 'error', reason: 'dependency cycle x → y → x' });
  });

  it('reports a missing program as an error with the reason', async () => {
    h = new Harness('missing');
    await h.up();
    expect(h.status('ghost')).to.include({ state: 'error', reason: 'exec: /usr/bin/metainit-no-such-program: not found' });
    expect(h.status('noname')).to.include({ state: 'error', reason: 'exec: metainit-no-such-program: not found in PATH' });
    expect(h.status('ghost').pid).to.equal(undefined);
    expect(h.messages).to.include('native/ghost: unable to start: exec: /usr/bin/metainit-no-such-program: not found');
  });

  it('ready: fd — running only once the newline arrives', async () => {
    h = new Harness('ready-fd');
    await h.up();
    expect(h.status('svc').state).to.equal('starting');
    await h.untilState('svc', 'running');
    expect(h.firstAt('svc', 'running')! - h.firstAt('svc', 'starting')!).to.be.at.least(250);
  });

  it('ready: notify — running only once READY=1 arrives on $NOTIFY_SOCKET', async () => {
    h = new Harness('ready-notify');
    await h.up();
    expect(h.status('svc').state).to.equal('starting');
    await h.untilState('svc', 'running');
    expect(h.firstAt('svc', 'running')! - h.firstAt('svc', 'starting')!).to.be.at.least(250);
    expect(h.status('svc').reason).to.equal('serving');
  });

  it('ready: test — running once the test command exits 0', async () => {
    h = new Harness('ready-test');
    await h.up();
    expect(h.status('svc').state).to.equal('starting');
    await h.untilState('svc', 'running');
    expect(h.firstAt('svc', 'running')! - h.firstAt('svc', 'starting')!).to.be.at.least(250);
  });

  it('stop sends stop_signal, then SIGKILLs the whole group after stop_timeout', async () => {
    h = new Harness('stop-escalate');
    await h.up();
    await h.until('trap installed', async () => (await h!.adapter.logs('stubborn', 1)).includes('trapped'));
    const pid = h.status('stubborn').pid!;
    const group = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[2] === String(pid);
        } catch {
          return false;
        }
      })
      .map(Number);
    const t0 = Date.now();
    await h.adapter.stopService('stubborn');
    expect(Date.now() - t0).to.be.at.least(450);
    expect(h.status('stubborn')).to.include({ state: 'stopped', target: 'down' });
    expect(h.status('stubborn').lastExit).to.deep.equal({ code: null, signal: 'SIGKILL' });
    expect(h.history('stubborn').map((s) => s.status.state)).to.include('stopping');
    await h.until('group gone', () => group.every((p) => !alive(p)), 2000);
  });

  it('gives a child a clean environment and only fds 0, 1, 2', async () => {
    // a descriptor metainit leaked without close-on-exec must not reach the child
    const sys = realSys();
    const [r, w] = sys.pipe();
    sys.setCloexec(w, false);
    // `container` is the one variable of metainit's own that is passed on; NODE_* never are
    const savedContainer = process.env.container;
    process.env.container = 'metainit-test';
    process.env.NODE_METAINIT_TEST_LEAK = '1';
    try {
      h = new Harness('clean-env');
      await h.up();
      await h.untilState('env', 'ok');
      await h.untilState('fds', 'ok');
      const env = Object.fromEntries((await h.adapter.logs('env', 100)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const expected = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', GREETING: 'hello', container: 'metainit-test' };
      expect(Object.keys(env).sort()).to.deep.equal([...Object.keys(expected), 'HOME', 'USER', 'LOGNAME'].sort());
      expect(env).to.include(expected);
      if (process.getuid?.() === 0) expect(env).to.include({ HOME: '/root', USER: 'root', LOGNAME: 'root' });
      // `ls` itself holds fd 3 open on the directory it lists
      expect((await h.adapter.logs('fds', 100)).sort()).to.deep.equal(['0', '1', '2', '3']);
    } finally {
      if (savedContainer === undefined) delete process.env.container;
      else process.env.container = savedContainer;
      delete process.env.NODE_METAINIT_TEST_LEAK;
      closeSync(r);
      closeSync(w);
    }
  });

  it('fails the dependents of a service in error', async () => {
    h = new Harness('depfail');
    await h.up();
    await h.untilState('user', 'error');
    expect(h.status('user').reason).to.equal('dependency failed: native/bad');
  });

  it('gives up after max_restarts fast failures in a row', async () => {
    h = new Harness('giveup');
    await h.up();
    await h.untilState('flaky', 'error');
    expect(h.status('flaky')).to.include({ reason: 'gave up after 2 restarts (last: exit code 2)', restarts: 2 });
  });

  it('does not start a service vetoed by the role registry', async () => {
    h = new Harness('oneshot');
    await h.adapter.load();
    h.adapter.applyRoles(new Set(['setup']));
    await h.adapter.start();
    await h.untilState('fails', 'error');
    expect(h.status('setup')).to.include({ state: 'stopped', reason: 'vetoed: another instance holds its role (see metainit roles)' });
    let err: Error | undefined;
    await h.adapter.startService('setup').catch((e: Error) => (err = e));
    expect(err?.message).to.equal('native/setup: unable to start: vetoed, another instance holds its role (fix: see metainit roles)');
  });

  it('sync: new → started, deleted → stopped and removed, changed → stored without a respawn; reload applies it', async () => {
    h = new Harness('sync');
    await h.up();
    await h.untilState('keep', 'running');
    await h.untilState('gone', 'running');
    const keepPid = h.status('keep').pid!;
    const gonePid = h.status('gone').pid!;
    writeFileSync(join(h.servicesDir, 'fresh.yaml'), 'exec: sleep 30\n');
    unlinkSync(join(h.servicesDir, 'gone.yaml'));
    writeFileSync(join(h.servicesDir, 'keep.yaml'), 'exec: sleep 30\nenviron: {VERSION: "2"}\n');
    const diags = await h.adapter.sync();
    expect(diags).to.deep.equal([]);
    await h.untilState('fresh', 'running');
    expect(h.adapter.list().map((s) => s.name)).to.deep.equal(['fresh', 'keep']);
    await h.until('gone ended', () => !alive(gonePid), 2000);
    expect(h.status('keep').pid).to.equal(keepPid);
    await h.adapter.reloadService('keep');
    await h.untilState('keep', 'running');
    expect(h.status('keep').pid).to.not.equal(keepPid);
    expect(alive(keepPid)).to.equal(false);
  });

  it('stop(deadline) stops dependents before what they depend on', async () => {
    h = new Harness('ordering');
    await h.up();
    await h.untilState('b', 'running');
    await h.untilState('app', 'running');
    const pids = ['a', 'b', 'app'].map((n) => h!.status(n).pid!);
    const t0 = Date.now();
    await h.adapter.stop(Date.now() + 3000);
    const stoppedAt = (name: string): number => h!.history(name).filter((s) => s.status.state === 'stopped' && s.at >= t0)[0]!.at;
    const stoppingAt = (name: string): number => h!.history(name).filter((s) => s.status.state === 'stopping' && s.at >= t0)[0]!.at;
    expect(stoppingAt('a')).to.be.at.least(stoppedAt('b'));
    expect(stoppedAt('init')).to.be.at.least(stoppedAt('app'));
    expect(pids.filter(alive)).to.deep.equal([]);
  });

  it('snapshot() names pid, state, restarts and the log fds of every service', async () => {
    h = new Harness('ready-fd');
    await h.up();
    await h.untilState('svc', 'running');
    const snap = h.adapter.snapshot();
    expect(snap.services).to.have.length(1);
    const s = snap.services[0]!;
    expect(s).to.include({ name: 'svc', state: 'running', pid: h.status('svc').pid, restarts: 0 });
    expect(Object.keys(s.logFds ?? {}).sort()).to.deep.equal(['stderrReadFd', 'stderrWriteFd', 'stdoutReadFd', 'stdoutWriteFd']);
  });

  it('re-adopts a running service across an execve of its supervisor; its exit comes from the reaper', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'metainit-reexec-'));
    const dir = join(tmp, 'services.d');
    mkdirSync(dir);
    writeFileSync(join(dir, 'svc.yaml'), "exec: sh -c 'echo run-$$; exec sleep 30'\nbackoff: {initial: 50ms}\n");
    const child = spawn(process.execPath, [join(FIXTURES, 'reexec.mjs'), dir, tmp], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const waitLine = async (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      const end = Date.now() + 10_000;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`timed out; lines: ${JSON.stringify(lines)}`);
        await sleep(20);
      }
    };
    const pids: number[] = [];
    try {
      const before = (await waitLine((l) => l.phase === 'phase1' && l.state === 'running')).pid as number;
      pids.push(before);
      const adopted = (await waitLine((l) => l.adopted !== undefined)).adopted as ServiceStatus;
      expect(adopted).to.include({ state: 'running', pid: before });
      process.kill(before, 'SIGKILL');
      const respawn = await waitLine((l) => l.phase === 'phase2' && l.state === 'respawn');
      expect(respawn.lastExit).to.deep.equal({ code: null, signal: 'SIGKILL' });
      const after = (await waitLine((l) => l.phase === 'phase2' && l.state === 'running' && l.pid !== before)).pid as number;
      pids.push(after);
      child.stdin!.write('quit\n');
      const logs = (await waitLine((l) => l.logs !== undefined)).logs as string[];
      // both runs wrote into the same pipe, which survived the execve
      expect(logs).to.include.members([`run-${before}`, `run-${after}`]);
    } finally {
      child.kill('SIGKILL');
      for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
