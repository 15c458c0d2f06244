/**
 * jobs.test.ts — a job never hangs silently: a start whose dependency is stopped fails at once
 * naming it (or starts it first with --with-deps); --timeout bounds the wait and the answer says
 * what the service waits for and for how long; --no-block returns at once.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, type Ns } from './harness.js';

describe('ns: jobs that never hang silently (start, stop, restart)', function () {
  this.timeout(60_000);
  let dir: string;
  let ns: Ns;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-jobs-'));
    mkdirSync(join(dir, 'services.d'));
    writeFileSync(join(dir, 'services.d/base.yaml'), 'exec: sleep 1000\n');
    writeFileSync(join(dir, 'services.d/prep.yaml'), 'exec: sleep 1000\nafter: [base]\n');
    writeFileSync(join(dir, 'services.d/web.yaml'), 'exec: sleep 1000\nafter: [prep]\n');
    // never says READY=1
    writeFileSync(join(dir, 'services.d/mute.yaml'), 'exec: sleep 1000\nready: {notify: true, timeout: 600s}\n');
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns.service('native/web')).state === 'running', 10_000, 'web running');
  });
  after(async () => {
    await ns?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a start whose dependency is stopped fails at once, naming it and the fix', async () => {
    for (const n of ['web', 'prep', 'base']) expect((await ns.cli(['stop', `native/${n}`])).code, `stop ${n}`).to.equal(0);
    const t0 = Date.now();
    const r = await ns.cli(['start', 'native/web']);
    expect(Date.now() - t0).to.be.below(5000);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('native/web: unable to start: its dependency native/prep is stopped and nothing will start it (fix: metainit start native/prep, or metainit start --with-deps native/web)');
    expect((await ns.service('native/web')).state).to.equal('stopped');
  });

  it('start --with-deps starts the stopped dependencies first, all the way down', async () => {
    const r = await ns.cli(['start', '--with-deps', 'native/web']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/native\/web: start done, now running/);
    for (const n of ['base', 'prep', 'web']) expect((await ns.service(`native/${n}`)).state, n).to.equal('running');
  });

  it('--timeout bounds the wait; the answer says what the service waits for and for how long', async () => {
    const t0 = Date.now();
    const r = await ns.cli(['start', 'native/mute', '--timeout', '1s']);
    expect(Date.now() - t0).to.be.below(6000);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^native\/mute: start timeout after 1 s, now starting \(waiting for READY=1 on \$NOTIFY_SOCKET for \d+ s\) — the job goes on$/m);
    const bad = await ns.cli(['start', 'native/mute', '--timeout', 'soon']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('"soon" is not a duration');
  });

  it('--no-block asks and returns at once', async () => {
    const r = await ns.cli(['stop', 'native/mute', '--no-block']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/native\/mute: stop queued/);
    await ns.waitFor(async () => (await ns.service('native/mute')).state === 'stopped', 15_000, 'mute stopped');
  });
});
