/**
 * sysv-openrc.test.ts — the sysv and OpenRC adapters on the Debian test bed, in a namespace.
 *
 * The work is done by sysv-openrc-driver.js, run once as PID 1 of
 *   unshare --pid --fork --kill-child --mount --propagation private --mount-proc --net
 * (private mounts for the overlays; a PID namespace so the driver is the reaper of the daemons
 * the scripts start and nothing outlives the test; its own network namespace so daemons of the
 * test bed can never listen on the host's network). The driver prints one JSON object; the
 * tests below assert on it. Needs root and the test bed (METAINIT_TESTBED, default
 * /var/cache/metainit-testbed/rootfs); skipped with the reason otherwise.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverResult } from './sysv-openrc-driver.js';

const DRIVER = fileURLToPath(new URL('./sysv-openrc-driver.js', import.meta.url));

describe('ns: sysv and OpenRC adapters on the test bed', function () {
  this.timeout(180_000);
  let r: DriverResult;

  before(function () {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const argv = ['--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', '--net', process.execPath, DRIVER];
    const run = spawnSync('unshare', argv, { env, encoding: 'utf8', timeout: 170_000 });
    const last = run.stdout.trim().split('\n').pop() ?? '';
    if (!last.startsWith('{')) throw new Error(`driver: unable to run: exit ${run.status ?? run.signal}\n${run.stderr}`);
    r = JSON.parse(last) as DriverResult;
    if (r.skip) this.skip();
    if (r.error) throw new Error(`driver: ${r.error}\n${run.stderr}`);
  });

  describe('sysv', () => {
    it('starts hello-sysv from its rc2.d link and reports it running with its pid', () => {
      expect(r.sysv.diagnostics).to.deep.equal([]);
      expect(r.sysv.alive).to.equal(true);
      expect(r.sysv.listed['hello-sysv']).to.include({ state: 'running', target: 'up' });
      expect(r.sysv.listed['hello-sysv']!.pid).to.be.a('number');
      expect(r.sysv.logs).to.deep.equal(['hello-sysv started']);
    });

    it('notices through `status` that the daemon died, and restarts it on request', () => {
      expect(r.sysv.diedReason).to.equal('died: status 1: program is dead and /var/run pid file exists');
      expect(r.sysv.restarted).to.equal('running');
    });

    it('stops it with `script stop`: stopped, and its process gone', () => {
      expect(r.sysv.stopped).to.equal('stopped');
      expect(r.sysv.pidGoneAfterStop).to.equal(true);
    });

    it('lists sendsigs as owned by metainit and never runs it', () => {
      expect(r.sysv.listed.sendsigs).to.deep.equal({ state: 'stopped', target: 'down', reason: 'owned by metainit (role shutdown)' });
      expect(r.sysv.sendsigsRan).to.equal(false);
    });
  });

  describe('sysv parallel levels (lvl1→lvl2, lvl3→lvl4)', () => {
    it('runs every script to ok, each with its own output', () => {
      expect(r.levels.states).to.deep.equal({ lvl1: 'ok', lvl2: 'ok', lvl3: 'ok', lvl4: 'ok' });
      for (const n of ['lvl1', 'lvl2', 'lvl3', 'lvl4']) expect(r.levels.logs[n]).to.deep.equal([`${n}: starting`]);
    });

    it('starts lvl1 and lvl3 together, before lvl2 and lvl4', () => {
      const t = r.levels.times;
      // together: each began before the other ended (lvl1 takes 1 s)
      expect(t['begin lvl3']!).to.be.below(t['end lvl1']!);
      expect(t['begin lvl1']!).to.be.below(t['end lvl3']!);
      expect(t['begin lvl2']!).to.be.at.least(t['end lvl1']!);
      expect(t['begin lvl4']!).to.be.at.least(t['end lvl3']!);
    });

    it('starts lvl2 as soon as lvl1 is done, without waiting for lvl3 (event-driven, not level by level)', () => {
      expect(r.levels.times['begin lvl2']!).to.be.below(r.levels.times['end lvl3']!);
    });

    it('holds a script requiring $syslog until the holder of role logging is ready', () => {
      expect(r.levels.asked).to.include('role:logging');
      expect(r.levels.asked.some((ref) => ref.includes('local_fs') || ref.includes('remote_fs'))).to.equal(false);
      expect(r.levels.syslogWaiting).to.deep.equal({ state: 'waiting', reason: 'waiting for role:logging' });
      expect(r.levels.syslogAfter).to.equal('ok');
      expect(r.levels.times['begin needs-syslog']!).to.be.at.least(r.levels.times['end lvl4']!);
    });
  });

  describe('OpenRC', () => {
    it('brings the default runlevel up with openrc and reports hello-openrc running', () => {
      expect(r.openrc.diagnostics).to.deep.equal([]);
      expect(r.openrc.alive).to.equal(true);
      expect(Object.keys(r.openrc.listed)).to.deep.equal(['hello-openrc']);
      expect(r.openrc.listed['hello-openrc']).to.include({ state: 'running', target: 'up' });
      expect(r.openrc.logs).to.deep.equal([' * Starting hello-openrc ... [ ok ]']);
    });

    it('marks the machine-wide services started so that OpenRC never runs them', () => {
      expect(r.openrc.marked).to.include.members(['mountall.sh', 'checkroot.sh', 'hwclock.sh', 'udev', 'sendsigs', 'umountroot', 'killprocs']);
    });

    it('stops hello-openrc itself at stop(deadline): stopped, its process gone, nothing else ran', () => {
      expect(r.openrc.afterStop).to.deep.equal({ 'hello-openrc': 'stopped' });
      expect(r.openrc.pidGoneAfterStop).to.equal(true);
      expect(r.openrc.events.map((l) => l.replace(/pid=\d+ ppid=\d+/, 'pid=N'))).to.deep.equal(['hello-openrc started pid=N', 'hello-openrc got TERM']);
    });
  });
});
