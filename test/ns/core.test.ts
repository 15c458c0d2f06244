/**
 * core.test.ts — the PID 1 core, as a user sees it: metainit booted as PID 1 of a fresh PID
 * namespace (harness.ts) with one configuration directory per case (test/ns/cases/<case>/),
 * driven only through the CLI; the host's /proc is read for what no CLI shows (zombies, whether
 * PID 1 is still the same process). Each test has its own namespace.
 *
 * Services built on helpers/record.sh write "NAME EVENT NANOSECONDS" lines (start, ready, term,
 * exit) to /run/test/events, which the test reads from the host; orders are asserted from those
 * records, never from how long something took. Deadlines are generous (2-core CI machine).
 * At stable moments the `status` table is also compared with the case's expected-status.txt
 * (golden.ts; the cases' README.md say what each one proves).
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ServiceStatus } from '../../src/base/states.js';
import { cliText, expectGolden, type GoldenOptions } from './golden.js';
import { bootNs, CASES, metainit, REPO, shellStatus, sleep, type BootOptions, type Ns } from './harness.js';

interface Rec {
  name: string;
  event: string;
  /** ms since the epoch */
  t: number;
}

/** The records of helpers/record.sh, in file order. */
function records(ns: Ns): Rec[] {
  return ns
    .read('events')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', event = '', t = '0'] = l.split(' ');
      return { name, event, t: Number(BigInt(t) / 1000n) / 1000 };
    });
}

/** The time of `name`'s `event`; fails the test when it was never recorded. */
function at(recs: Rec[], name: string, event: string): number {
  const r = recs.find((x) => x.name === name && x.event === event);
  if (!r) throw new Error(`no "${name} ${event}" record in: ${JSON.stringify(recs)}`);
  return r.t;
}

const byName = (all: ServiceStatus[], name: string): ServiceStatus => {
  const s = all.find((x) => x.name === name);
  if (!s) throw new Error(`service ${name} is not in status: ${all.map((x) => x.id).join(' ')}`);
  return s;
};

/** `metainit status` (the human table) compared with the case's expected-status.txt (golden.ts). */
async function goldenStatus(ns: Ns, caseDir: string, opts: GoldenOptions = {}): Promise<void> {
  expectGolden(join(CASES, caseDir), 'status', cliText(await ns.cli(['status'])), opts);
}

/** Zombies among the namespace's processes (as the host's /proc shows them). */
const zombies = (ns: Ns): number[] => ns.procs().filter((p) => p.state === 'Z').map((p) => p.pid);

/** `logs metainit`: PID 1's own log, through the CLI. */
async function pid1Log(ns: Ns): Promise<string> {
  const r = await ns.cli(['logs', 'metainit', '-n', '500']);
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout;
}

/** Timestamps (ms) of PID 1 log lines matching `re`. */
function lineTimes(log: string, re: RegExp): number[] {
  return log
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => Date.parse(l.slice(0, l.indexOf(' '))));
}

describe('ns: PID 1 core (metainit as PID 1 of a PID namespace)', function () {
  this.timeout(120_000);
  let ns: Ns | undefined;

  before(function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/unshare')) this.skip();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && ns) console.log(`--- PID 1 console (${this.currentTest.title}) ---\n${ns.console()}`);
    await ns?.cleanup();
    ns = undefined;
  });

  const boot = async (opts: BootOptions): Promise<Ns> => (ns = await bootNs(opts));

  it('reaps a storm of 2000 orphans without stealing the exit status of any managed service', async () => {
    const n = await boot({ caseDir: 'orphan-storm' });
    const settled: Record<string, string> = { storm: 'ok', 'ok-early': 'ok', 'ok-late': 'ok', 'fails-5': 'error', 'exits-3': 'error', killed: 'error' };
    await n.waitFor(
      async () => {
        const s = await n.statusAll();
        return s.manager.reaped >= 2000 && Object.entries(settled).every(([name, state]) => byName(s.services, name).state === state);
      },
      60_000,
      '2000 orphans reaped and every managed service settled',
    );
    await n.waitFor(() => zombies(n).length === 0, 15_000, 'no zombie left in the namespace');

    const { manager, services } = await n.statusAll();
    expect(manager.pid).to.equal(1);
    expect(manager.mode).to.equal('container');
    expect(manager.reaped).to.be.at.least(2000);
    for (const name of ['storm', 'ok-early', 'ok-late']) {
      expect(byName(services, name), name).to.include({ state: 'ok', restarts: 0 });
      expect(byName(services, name).lastExit, name).to.deep.equal({ code: 0, signal: null });
    }
    expect(byName(services, 'fails-5')).to.include({ state: 'error', reason: 'exit code 5' });
    expect(byName(services, 'fails-5').lastExit).to.deep.equal({ code: 5, signal: null });
    expect(byName(services, 'exits-3')).to.include({ state: 'error', reason: 'exit code 3', restarts: 0 });
    expect(byName(services, 'exits-3').lastExit).to.deep.equal({ code: 3, signal: null });
    expect(byName(services, 'killed')).to.include({ state: 'error', reason: 'killed by SIGTERM' });
    expect(byName(services, 'killed').lastExit).to.deep.equal({ code: null, signal: 'SIGTERM' });
    expect(byName(services, 'steady')).to.include({ state: 'running', restarts: 0 });
    // what is left in the namespace: PID 1, its logger and the steady service, nothing else
    expect(n.procs().map((p) => p.comm).sort()).to.deep.equal(['metainit', 'metainit-logger', 'sleep']);
    await goldenStatus(n, 'orphan-storm', { reaped: true });
  });

  it('restarts a crashing service with a growing backoff', async () => {
    const n = await boot({ caseDir: 'respawn' });
    const seen = new Set<string>();
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      seen.add((await n.service('crash')).state);
      await sleep(50);
    }
    const s = await n.service('crash');
    expect(seen, 'states seen').to.include('respawn');
    expect(s.restarts).to.be.at.least(4);
    expect(s.target).to.equal('up');
    expect(s.lastExit).to.deep.equal({ code: 1, signal: null });

    const log = await pid1Log(n);
    const delays = [...log.matchAll(/native\/crash: respawn — exit code 1, restarting in (\d+)ms/g)].map((m) => Number(m[1]));
    expect(delays.slice(0, 6)).to.deep.equal([100, 200, 400, 800, 1600, 2000]);
    expect(Math.max(...delays)).to.equal(2000);
    // the restarts themselves: the gaps between successive starts grow (generously: ≥ 3× overall)
    const starts = lineTimes(log, /native\/crash: starting$/);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps.length).to.be.at.least(4);
    for (let i = 1; i < Math.min(gaps.length, 5); i++) expect(gaps[i], `gap ${i} of ${gaps.join(', ')}`).to.be.above(gaps[i - 1]!);
    expect(gaps[4]!).to.be.at.least(3 * gaps[0]!);
  });

  it('never runs a oneshot that ended ok again', async () => {
    const n = await boot({ caseDir: 'oneshot-ok' });
    await n.waitFor(async () => (await n.service('once')).state === 'ok', 20_000, 'once ok');
    const first = await n.service('once');
    await sleep(4000);
    const later = await n.service('once');
    expect(later).to.include({ state: 'ok', restarts: 0, since: first.since, target: 'up' });
    expect(later.pid).to.equal(undefined);
    expect(n.read('once.runs')).to.equal('ran\n');
    await goldenStatus(n, 'oneshot-ok');
  });

  it('starts a service only once everything in its after: is ready, and independent ones at once', async () => {
    const n = await boot({ caseDir: 'after-order' });
    // a is ready only 3 s after it starts: b and c are seen waiting, saying for what
    const early = await n.status();
    expect(byName(early, 'b')).to.include({ state: 'waiting', reason: 'waiting for native/a' });
    expect(byName(early, 'c')).to.include({ state: 'waiting', reason: 'waiting for native/b' });
    await n.waitFor(async () => (await n.status()).every((s) => s.state === 'running'), 30_000, 'a, b, c and indep running');

    const r = records(n);
    expect(at(r, 'a', 'start')).to.be.below(at(r, 'a', 'ready'));
    expect(at(r, 'b', 'start')).to.be.at.least(at(r, 'a', 'ready'));
    expect(at(r, 'b', 'ready')).to.be.at.least(at(r, 'b', 'start'));
    expect(at(r, 'c', 'start')).to.be.at.least(at(r, 'b', 'ready'));
    // indep waited for nobody: it started while a was still getting ready
    expect(at(r, 'indep', 'start')).to.be.below(at(r, 'a', 'ready'));
    expect(r.filter((x) => x.event === 'start').map((x) => x.name)).to.have.lengthOf(4);
    await goldenStatus(n, 'after-order');
  });

  it('reports a dependency cycle and broken files, and runs everything else', async () => {
    const n = await boot({ caseDir: 'cycle-broken' });
    await n.waitFor(async () => byName(await n.status(), 'fine').state === 'running', 20_000, 'fine running');
    await n.waitFor(async () => byName(await n.status(), 'z').state === 'error', 10_000, 'z in error');
    const all = await n.status();
    expect(byName(all, 'x')).to.include({ state: 'error', reason: 'dependency cycle x → y → x' });
    expect(byName(all, 'y').state).to.equal('error');
    expect(byName(all, 'y').reason).to.match(/^dependency cycle (y → x → y|x → y → x)$/);
    expect(byName(all, 'z')).to.include({ state: 'error', reason: 'dependency failed: native/x' });
    expect(all.map((s) => s.id).sort()).to.deep.equal(['native/fine', 'native/x', 'native/y', 'native/z']);
    // which member the cycle is reported from is not fixed for y (see the match above)
    await goldenStatus(n, 'cycle-broken', { vary: { 'native/y': ['REASON'] } });

    const log = await pid1Log(n);
    const line = (file: string): string => log.split('\n').find((l) => l.includes(`/services.d/${file}:`)) ?? '';
    expect(line('not-yaml.yaml')).to.include('error: ').and.include('unable to load service native/not-yaml').and.include('invalid YAML');
    expect(line('typo.yaml')).to.include('unable to load service native/typo: key "restrat" is not known').and.include('did you mean "restart"');
  });

  it('stops every service and exits 0 on SIGTERM (container mode)', async () => {
    const n = await boot({ caseDir: 'shutdown' });
    await n.waitFor(async () => (await n.status()).filter((s) => s.state === 'running').length === 4, 30_000, 'a, b, c, solo running');
    await n.waitFor(async () => byName(await n.status(), 'setup').state === 'ok', 10_000, 'setup ok');
    await goldenStatus(n, 'shutdown');
    n.kill('SIGTERM');
    const exit = await n.waitExit();
    expect(exit).to.deep.equal({ code: 0, signal: null });
    const r = records(n);
    for (const name of ['a', 'b', 'c', 'solo']) {
      expect(at(r, name, 'term'), name).to.be.at.least(at(r, name, 'ready'));
      expect(at(r, name, 'exit'), name).to.be.at.least(at(r, name, 'term'));
    }
    expect(n.console()).to.match(/SIGTERM: shutting down \(exit\)/);
  });

  it('never hangs at shutdown: KILLs a service deaf to SIGTERM, then TERM and KILL for what is left', async () => {
    const n = await boot({ caseDir: 'stubborn' });
    await n.waitFor(
      async () => {
        const all = await n.status();
        return byName(all, 'deaf').state === 'running' && byName(all, 'leaky').state === 'ok' && byName(all, 'daemon').state === 'ok';
      },
      20_000,
      'deaf running, leaky and daemon ok',
    );
    // two processes nobody supervises any more: leaky's orphan and the daemon
    await n.waitFor(() => n.procs().filter((p) => p.comm === 'sleep' && p.ppid === n.pid1).length === 2, 10_000, 'two orphaned sleeps');
    await goldenStatus(n, 'stubborn', { reaped: true });
    n.kill('SIGTERM');
    // deaf's stop_timeout is 1 s, the shutdown deadline 30 s: ending well before the deadline
    // shows the KILL came from stop_timeout
    expect(await n.waitExit(20_000)).to.deep.equal({ code: 0, signal: null });
    const con = n.console();
    expect(con).to.match(/native\/deaf: stopping\n.*native\/deaf: stopped\n/s);
    expect(con).to.include('stage 4: sending TERM to 2 remaining process(es)');
    expect(con).to.match(/stage 4: sending KILL to 1 process\(es\) still alive after 1000 ms/);
  });

  for (const [command, signal, status] of [
    ['reboot', 'SIGHUP', 129],
    ['poweroff', 'SIGINT', 130],
  ] as const) {
    it(`\`metainit ${command}\` stops services in reverse dependency order, then ends the namespace by ${signal}`, async () => {
      const n = await boot({ caseDir: 'shutdown' });
      await n.waitFor(async () => (await n.status()).filter((s) => s.state === 'running').length === 4, 30_000, 'a, b, c, solo running');
      const r0 = await n.cli([command]);
      expect(r0.code, r0.stderr).to.equal(0);
      const exit = await n.waitExit();
      expect(exit.signal).to.equal(signal);
      expect(shellStatus(exit)).to.equal(status);
      const r = records(n);
      // c (depends on b) is gone before b is asked to stop, b before a
      expect(at(r, 'b', 'term')).to.be.at.least(at(r, 'c', 'exit'));
      expect(at(r, 'a', 'term')).to.be.at.least(at(r, 'b', 'exit'));
      expect(r.filter((x) => x.event === 'term' && x.name !== 'solo').map((x) => x.name)).to.deep.equal(['c', 'b', 'a']);
      expect(at(r, 'solo', 'exit')).to.be.at.least(at(r, 'solo', 'term'));
    });
  }

  it('survives an uncaught exception in PID 1 with every child kept', async () => {
    const n = await boot({ caseDir: 'survive', env: { METAINIT_INJECT_FAULT: 'throw:2500' } });
    await n.waitFor(async () => byName(await n.status(), 'steady').state === 'running', 20_000, 'steady running');
    const before = byName(await n.status(), 'steady');
    await n.waitFor(async () => (await pid1Log(n)).includes('injected uncaught exception'), 20_000, 'the injected exception logged');

    const log = await pid1Log(n);
    expect(log).to.match(/error: unable to continue a callback: Error: injected uncaught exception/);
    expect(log).not.to.include('(re-exec)');
    const after = await n.statusAll();
    expect(after.manager.pid).to.equal(1);
    expect(byName(after.services, 'steady')).to.include({ state: 'running', pid: before.pid, since: before.since });
    expect(byName(after.services, 'setup').state).to.equal('ok');
    expect(n.alive()).to.equal(true);
    // and it still does its job
    const stop = await n.cli(['stop', 'steady']);
    expect(stop.code, stop.stdout + stop.stderr).to.equal(0);
    expect(n.read('events')).to.match(/^steady term /m);
    const start = await n.cli(['start', 'steady']);
    expect(start.code, start.stdout + start.stderr).to.equal(0);
    expect(await n.service('steady')).to.include({ state: 'running' }).and.not.include({ pid: before.pid });
  });

  it('survives an abort of PID 1: re-executes in place and re-adopts its children', async () => {
    const n = await boot({ caseDir: 'survive', env: { METAINIT_INJECT_FAULT: 'abort:4000' } });
    await n.waitFor(async () => byName(await n.status(), 'steady').state === 'running', 20_000, 'steady running');
    const before = await n.status();
    const hostPid1 = n.pid1;
    expect(n.console(), 'the abort came before the first status').not.to.include('(re-exec)');

    await n.waitFor(() => n.console().includes('(re-exec)'), 30_000, 'the re-exec of PID 1');
    await n.waitFor(async () => (await n.statusAll()).manager.pid === 1, 30_000, 'status answering again');
    const after = await n.status();
    expect(n.alive(), 'namespace still there').to.equal(true);
    expect(n.procs()[0]?.pid, 'same PID 1 process on the host').to.equal(hostPid1);
    expect(byName(after, 'steady')).to.include({ state: 'running', pid: byName(before, 'steady').pid, since: byName(before, 'steady').since });
    expect(byName(after, 'setup')).to.include({ state: 'ok', since: byName(before, 'setup').since });

    // the adopted child is still supervised: its death is seen and it is restarted
    const k = await n.cli(['kill', 'steady', 'KILL']);
    expect(k.code, k.stderr).to.equal(0);
    await n.waitFor(
      async () => {
        const s = await n.service('steady');
        return s.state === 'running' && s.pid !== byName(before, 'steady').pid;
      },
      20_000,
      'steady restarted with a new pid',
    );
    expect((await n.service('steady')).lastExit).to.deep.equal({ code: null, signal: 'SIGKILL' });
    await n.waitFor(() => zombies(n).length === 0, 10_000, 'no zombie left');
  });

  it('`metainit reexec` re-executes PID 1 in place, keeping every service', async () => {
    const n = await boot({ caseDir: 'survive' });
    await n.waitFor(async () => byName(await n.status(), 'steady').state === 'running', 20_000, 'steady running');
    await sleep(1500);
    const before = await n.status();
    const reapedBefore = (await n.statusAll()).manager.reaped;
    expect(reapedBefore, 'the orphan service left one orphan to reap').to.be.at.least(1);
    const hostPid1 = n.pid1;
    const tReexec = Date.now(); // the machine has been up ≥ 1.5 s by now
    const r = await n.cli(['reexec']);
    expect(r.code, r.stderr).to.equal(0);
    await n.waitFor(() => n.console().includes('(re-exec)'), 30_000, 'the re-exec of PID 1');
    await n.waitFor(async () => (await n.statusAll()).manager.pid === 1, 30_000, 'status answering again');
    const after = await n.status();
    expect(n.procs()[0]?.pid, 'same PID 1 process on the host').to.equal(hostPid1);
    expect((await n.statusAll()).manager.uptime, 'uptime counts from the first boot, not the re-exec').to.be.greaterThan(Date.now() - tReexec + 1000);
    expect((await n.statusAll()).manager.reaped, 'the reaped count survives the re-exec').to.be.at.least(reapedBefore);
    expect(byName(after, 'steady')).to.include({ state: 'running', pid: byName(before, 'steady').pid, since: byName(before, 'steady').since });
    expect(byName(after, 'setup')).to.include({ state: 'ok', since: byName(before, 'setup').since });
    expect(n.read('events').match(/^steady start /gm)).to.have.lengthOf(1);
    await goldenStatus(n, 'survive', { reaped: true }); // the same table as before the re-exec
    // the re-exec'd image still stops what it adopted
    const stop = await n.cli(['stop', 'steady']);
    expect(stop.code, stop.stdout + stop.stderr).to.equal(0);
    expect(n.read('events')).to.match(/^steady term /m);
  });

  it('`metainit restart` reports done and the service comes back as a new process; `stop`/`start` report done', async () => {
    const n = await boot({ caseDir: 'survive' });
    await n.waitFor(async () => byName(await n.status(), 'steady').state === 'running', 20_000, 'steady running');
    await n.waitFor(async () => (await n.status()).every((s) => s.state === (s.name === 'steady' ? 'running' : 'ok')), 10_000, 'setup and orphan ok');
    await goldenStatus(n, 'survive', { reaped: true });
    const old = byName(await n.status(), 'steady');
    const r = await n.cli(['restart', 'steady']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/native\/steady: restart done, now running/);
    const now = byName(await n.status(), 'steady');
    expect(now.state).to.equal('running');
    expect(now.pid).to.not.equal(old.pid);
    const stop = await n.cli(['stop', 'steady', '--json']);
    expect(JSON.parse(stop.stdout)).to.deep.include({ result: 'done' });
    expect(JSON.parse(stop.stdout).status).to.include({ state: 'stopped', target: 'down' });
    const start = await n.cli(['start', 'steady']);
    expect(start.code, start.stdout + start.stderr).to.equal(0);
    const missing = await n.cli(['restart', 'nosuch']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/nosuch: unable to find service: no such service/);
  });

  it('`metainit logs metainit -f` follows PID 1\'s own log', async () => {
    const n = await boot({ caseDir: 'survive' });
    await n.waitFor(async () => byName(await n.status(), 'steady').state === 'running', 20_000, 'steady running');
    const follower = spawn(process.execPath, [join(REPO, 'bin/run.js'), 'logs', 'metainit', '-f', '-n', '1', '--socket', n.sock], { env: { ...process.env, NO_COLOR: '1' } });
    let seen = '';
    follower.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      await sleep(500);
      await n.cli(['stop', 'steady']); // makes PID 1 log "native/steady: stopping" and "stopped"
      await n.waitFor(() => /native\/steady: stopped/.test(seen), 10_000, 'the followed stop line');
    } finally {
      follower.kill();
    }
  });

  for (const [caseDir, code, how] of [
    ['main-exit', 42, 'exits 42'],
    ['main-signal', 143, 'is killed by SIGTERM'],
  ] as const) {
    it(`exits ${code} in container mode when the main service ${how}, stopping the others`, async () => {
      const n = await boot({ caseDir });
      expect((await n.service('app')).state).to.equal('running');
      // while app works (3 s) both run
      await n.waitFor(async () => byName(await n.status(), 'sidecar').state === 'running', 2000, 'sidecar running');
      await goldenStatus(n, caseDir);
      const exit = await n.waitExit();
      expect(exit).to.deep.equal({ code, signal: null });
      const r = records(n);
      expect(at(r, 'sidecar', 'term')).to.be.at.least(at(r, 'sidecar', 'start'));
      expect(n.console()).to.include('main service native/app ended');
    });
  }

  describe('offline: check and plan', () => {
    it('`check` exits non-zero and names each broken file and key', async () => {
      const r = await metainit(['check', '--config-dir', `${CASES}/cycle-broken`]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/error: \S+\/services\.d\/not-yaml\.yaml: unable to load service native\/not-yaml: .*invalid YAML/);
      expect(r.stdout).to.match(/error: \S+\/services\.d\/typo\.yaml: unable to load service native\/typo: key "restrat" is not known \(fix: did you mean "restart"\?/);
      expect(r.stdout).to.include('dependency cycle x → y → x');
      const j = await metainit(['check', '--config-dir', `${CASES}/cycle-broken`, '--json']);
      expect(j.code).to.equal(1);
      const parsed = JSON.parse(j.stdout) as { ok: boolean; errors: Array<{ file: string; key: string }> };
      expect(parsed.ok).to.equal(false);
      expect(parsed.errors.find((e) => e.file.endsWith('/typo.yaml'))?.key).to.equal('restrat');
    });

    it('`check` passes a good directory and `plan` prints its start levels', async () => {
      const c = await metainit(['check', '--config-dir', `${CASES}/after-order`]);
      expect(c.code, c.stdout).to.equal(0);
      const p = await metainit(['plan', '--config-dir', `${CASES}/after-order`]);
      expect(p.code).to.equal(0);
      expect(p.stdout).to.include('level 0: native/a native/indep\n  level 1: native/b\n  level 2: native/c');
      const j = JSON.parse((await metainit(['plan', '--config-dir', `${CASES}/after-order`, '--json'])).stdout) as { levels: string[][] };
      expect(j.levels).to.deep.equal([['native/a', 'native/indep'], ['native/b'], ['native/c']]);
    });
  });
});
