/**
 * systemd-launch.test.ts — the test bed's unpatched systemd as PID 1 of namespaces of its own,
 * launched by the supervisor's container helpers (src/supervisor/cgroup.ts, container.ts).
 *
 * The work is done by systemd-launch-driver.js, run once as PID 1 of
 *   unshare --pid --fork --kill-child --mount --propagation private --mount-proc --net
 * (the overlay of the test bed lives only in that mount namespace; everything dies with the
 * driver; systemd's daemons get a network namespace without the host's interfaces). The driver
 * makes the cgroup subtree <cgroup2>/metainit-test-<our pid>/systemd under the real cgroup2
 * mount, launches systemd, waits for READY=1, asks is-system-running through nsenter, sends
 * SIGRTMIN+4 and removes the subtree; it prints one JSON object, asserted on below.
 * `after()` kills and removes whatever of the subtree is left, even when the driver failed or
 * was killed. Needs root, unshare/nsenter and the test bed (METAINIT_TESTBED, default
 * /var/cache/metainit-testbed/rootfs) with systemd; skipped with the reason otherwise.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quietLogger } from '../../src/base/types.js';
import { existingSubtree, findCgroup2Mount, killSubtree, removeSubtree } from '../../src/supervisor/cgroup.js';
import type { LaunchResult } from './systemd-launch-driver.js';
import { whyNot as whyNotTestbed } from './testbed-root.js';

const DRIVER = fileURLToPath(new URL('./systemd-launch-driver.js', import.meta.url));
const PARENT = `metainit-test-${process.pid}`;

/** the test bed's checks (root, unshare, nsenter, its systemd), then a cgroup2 mount */
function whyNot(): string | undefined {
  return whyNotTestbed(['lib/systemd/systemd']) ?? (findCgroup2Mount() ? undefined : 'no cgroup2 file system is mounted');
}

/** host pids whose cgroup (v2 line) lies in our subtree */
function pidsInOurCgroup(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cgroup`, 'utf8').split('\n').some((l) => l.startsWith('0::') && l.includes(`/${PARENT}`))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('ns: systemd launched as PID 1 of its own namespaces (supervisor/container.ts)', function () {
  this.timeout(120_000);
  let r: LaunchResult;
  let mount: string | undefined;

  before(function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    mount = findCgroup2Mount();
    const env: NodeJS.ProcessEnv = { ...process.env, METAINIT_CGROUP_PARENT: PARENT };
    delete env.NODE_EXTRA_CA_CERTS;
    const argv = ['--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', '--net', process.execPath, DRIVER];
    const run = spawnSync('unshare', argv, { env, encoding: 'utf8', timeout: 90_000, killSignal: 'SIGKILL' });
    const last = run.stdout.trim().split('\n').pop() ?? '';
    if (!last.startsWith('{')) throw new Error(`driver: unable to run: exit ${run.status ?? run.signal}\n${run.stderr}`);
    r = JSON.parse(last) as LaunchResult;
    if (r.skip) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    if (r.error) throw new Error(`driver: ${r.error}\nlaunch output:\n${r.stderr}\ndriver stderr:\n${run.stderr}`);
  });

  after(async function () {
    this.timeout(30_000);
    const cg = mount ? existingSubtree({ mount, parent: PARENT, instance: 'systemd' }) : undefined;
    if (cg && existsSync(cg.parent)) {
      await killSubtree(cg, Date.now() + 10_000);
      removeSubtree(cg, quietLogger);
      if (existsSync(cg.parent)) rmdirSync(cg.parent);
    }
    if (existsSync(`/tmp/${PARENT}-scratch`)) rmdirSync(`/tmp/${PARENT}-scratch`);
  });

  it('makes the delegated subtree under the cgroup2 mount and roots systemd\'s cgroup namespace there', () => {
    expect(r.cgroup!.path).to.equal(join(mount!, PARENT, 'systemd'));
    // systemd moved itself into init.scope of its own cgroup namespace
    expect(r.pid1Cgroup).to.equal('0::/init.scope');
    expect(r.pid1HostCgroup).to.equal(`0::/${PARENT}/systemd/init.scope`);
    expect(r.procsRunning).to.be.greaterThan(1);
  });

  it('runs systemd as the namespace\'s PID 1, which sends READY=1 on the notify socket', () => {
    expect(r.pid1Comm).to.equal('systemd');
    expect(r.notify).to.include('READY=1');
    expect(r.readyMs).to.be.below(20_000);
  });

  it('reaches running or degraded, with the unit masked on its argv', () => {
    expect(r.state, `failed units: ${r.failedUnits?.join(', ')}`).to.be.oneOf(['running', 'degraded']);
    expect(r.sshState).to.match(/^masked/);
  });

  it('gives it the container interface: its own /proc, /dev, /run, /tmp, read-only /sys and /proc/sys, a writable cgroup2, nothing of the host', () => {
    const m = r.mounts!;
    expect(m[0]).to.match(/^\/ overlay rw$/);
    for (const want of ['/proc proc rw', '/proc/sys proc ro', '/sys sysfs ro', '/sys/fs/cgroup cgroup2 rw', '/dev tmpfs rw', '/dev/pts devpts rw', '/run tmpfs rw', '/run/host/notify tmpfs rw', '/tmp tmpfs rw']) {
      expect(m, want).to.include(want);
    }
    expect(m.filter((l) => /^\/(tmp\/metainit|sys\/fs\/cgroup\/unified|var\/cache)/.test(l))).to.deep.equal([]);
    // the basic device nodes are made afresh, not bound from the machine's /dev
    expect(m.filter((l) => /^\/dev\/(null|zero|full|random|urandom|tty) /.test(l))).to.deep.equal([]);
  });

  it('stops on SIGRTMIN+4: PID 1 dies by SIGINT within 20 s', () => {
    expect(r.exit, r.stderr).to.include({ signal: 'SIGINT', code: null });
    expect(r.exit!.ms).to.be.below(20_000);
    expect(r.pid1Gone).to.equal(true);
  });

  it('leaves nothing: no process in the subtree, and cgroup.ts removed it depth first', () => {
    expect(r.leftAfterExit).to.deep.equal([]);
    expect(r.killed).to.equal(true);
    expect(r.notRemoved).to.deep.equal([]);
    expect(r.cgroupGone).to.equal(true);
    expect(existsSync(join(mount!, PARENT))).to.equal(false);
    expect(pidsInOurCgroup()).to.deep.equal([]);
  });
});
