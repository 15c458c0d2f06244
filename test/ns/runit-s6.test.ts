/**
 * runit-s6.test.ts — the runit and s6 adapters hosting Debian's real runsvdir and s6-svscan.
 *
 * The adapters mount nothing themselves, but this test has to (an overlay of the test bed per
 * adapter, /proc, /dev, tmpfs /run) and it starts supervisors, so the work happens in
 * runit-s6-driver.js, run here as PID 1 of
 *   unshare --pid --fork --mount --propagation private --mount-proc
 * The driver prints one JSON object; the cases below assert on it. Without root, unshare or the
 * test bed (METAINIT_TESTBED, default /var/cache/metainit-testbed/rootfs) the suite is skipped
 * with the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { DriverResult } from './runit-s6-driver.js';

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), 'runit-s6-driver.js');
const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount, unshare)';
  if (!existsSync(`${TESTBED}/usr/bin/runsvdir`)) return `no test bed at ${TESTBED} (build it with test/testbed/build.sh rootfs)`;
  if (spawnSync('unshare', ['--version']).status !== 0) return 'unshare(1) is not available';
  return undefined;
}

describe('runit and s6 adapters (ns: real runsvdir and s6-svscan in a private namespace)', function () {
  this.timeout(180_000);
  let r: DriverResult;

  before(function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const run = spawnSync('unshare', ['--pid', '--fork', '--mount', '--propagation', 'private', '--mount-proc', process.execPath, DRIVER], { encoding: 'utf8', env, timeout: 170_000 });
    const last = run.stdout.trim().split('\n').pop() ?? '';
    if (!last.startsWith('{')) throw new Error(`runit-s6-driver: no result (status ${run.status}): ${run.stderr}`);
    r = JSON.parse(last) as DriverResult;
    if (r.skip) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
  });

  it('completes its scenario without an error', () => {
    expect(r.error, 'driver error').to.equal(undefined);
  });

  it('starts hello-runit and hello-s6: their .alive files appear and the states read running', () => {
    expect(r.aliveAfterStart).to.include.members(['hello-runit', 'hello-s6']);
    expect(r.startedStates).to.include({ 'runit/hello-runit': 'running', 's6/hello-s6': 'running' });
  });

  it('keeps a log/ service working (svlogd receives the service output)', () => {
    expect(r.aliveAfterStart).to.include('hello-log');
    expect(r.logServiceLine).to.equal(true);
  });

  it('claims the cron role for a service named cron, and never starts it once vetoed', () => {
    expect(r.runitClaims).to.deep.include({ role: 'cron', service: 'cron' });
    expect(r.vetoed.ranAnyway).to.equal(false);
    expect(r.vetoed.status?.state).to.equal('stopped');
    expect(r.vetoed.status?.reason).to.equal('vetoed: another instance holds its role (see metainit roles)');
  });

  it('shows an s6 service with notification-fd as starting until it reports ready', () => {
    expect(r.slowReadyStates).to.include('starting');
    expect(r.slowReadyStates.at(-1)).to.equal('running');
    expect(r.slowReadyStates.indexOf('starting')).to.be.lessThan(r.slowReadyStates.indexOf('running'));
  });

  it('restarts runsvdir after kill -9, and hello-runit comes back as a new process', () => {
    expect(r.killed.warned, 'a warning names the death').to.equal(true);
    expect(r.killed.newScanner).to.be.a('number').and.not.equal(r.killed.oldScanner);
    expect(r.killed.newPid).to.be.a('number').and.not.equal(r.killed.oldPid);
    expect(r.killed.stateAfter).to.equal('running');
  });

  it('stops and starts a single service through sv', () => {
    expect(r.control.stopped).to.equal('stopped');
    expect(r.control.stillAliveAfterStop).to.equal(false);
    expect(r.control.restarted).to.equal('running');
  });

  it('picks up a service linked after start on sync, and captures its output as runsvdir log lines', () => {
    expect(r.syncedLateAlive).to.equal(true);
    expect(r.scannerLog).to.include('hello-late: says hi');
    expect(r.lateLogs).to.deep.equal(['hello-late: says hi']);
  });

  it('leaves no process in either root after stop(deadline), SIGKILLing what ignores SIGTERM', () => {
    expect(r.leftAfterStop.runit, 'runit leftovers').to.deep.equal([]);
    expect(r.leftAfterStop.s6, 's6 leftovers').to.deep.equal([]);
    expect(r.messages.some((m) => m.startsWith('s6: killing')), 's6/stubborn needed the deadline').to.equal(true);
    expect(r.messages.some((m) => m.startsWith('runit: killing')), 'runit stopped cleanly').to.equal(false);
    expect(r.stopMs.s6, 'stop keeps to its 4 s deadline (generous bound)').to.be.below(10_000);
  });
});
