/**
 * container.test.ts — the launch of an init as PID 1 of new namespaces, without running it: the
 * outer command (cgroup entered before unshare, which namespaces, the network shared), the inner
 * script (every mount under the root, read-only only by bind remount, pivot_root and never
 * chroot, env -i with the container interface's variables) and what the launch refuses.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shq } from '../../../src/base/shell-quote.js';
import { containerLaunch, NOTIFY_SOCKET_INSIDE, type ContainerSpec } from '../../../src/supervisor/container.js';

describe('container: an init as PID 1 of its own namespaces', () => {
  let tmp: string;
  let spec: ContainerSpec;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'metainit-container-'));
    const root = join(tmp, 'root');
    mkdirSync(join(root, 'lib/systemd'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'lib/systemd/systemd'), '');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\ntty:x:5:\n');
    for (const d of ['notify', 'cg', 'run']) mkdirSync(join(tmp, d));
    writeFileSync(join(tmp, 'cg/cgroup.procs'), '');
    spec = { name: 'systemd', root, argv: ['/lib/systemd/systemd', 'systemd.mask=a b.service'], env: { LANG: 'C.UTF-8' }, notifyDir: join(tmp, 'notify'), cgroup: join(tmp, 'cg'), runDir: join(tmp, 'run'), hostname: 'sd1' };
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('enters the cgroup in the outer shell, then execs unshare with new pid, mount, uts, ipc and cgroup namespaces (network shared)', () => {
    const l = containerLaunch(spec);
    expect(l.argv.slice(0, 2)).to.deep.equal(['/bin/sh', '-c']);
    expect(l.argv[2]).to.match(/^echo \$\$ > "\$1\/cgroup.procs" \|\| .*; shift; exec "\$@"$/);
    expect(l.argv.slice(3)).to.deep.equal(['metainit-container', spec.cgroup, 'unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--cgroup', '--propagation', 'private', '/bin/sh', join(spec.runDir, 'systemd.container.sh')]);
    expect(l.argv).to.not.include('--net');
  });

  it('mounts only under the root, read-only by bind remount only, pivots (never chroot) and execs the init with env -i', () => {
    const s = containerLaunch(spec).script;
    expect(s.startsWith('#!/bin/sh\n')).to.equal(true);
    expect(s).to.include(`R=${shq(spec.root)}`);
    const mounts = s.split('\n').filter((l) => /^(m |for )/.test(l));
    for (const l of mounts) expect(l, l).to.match(/"\$R(\/[a-z/$]*)?"(; done)?$/); // the target is always under $R
    for (const l of s.split('\n').filter((x) => x.includes('remount'))) expect(l).to.include('bind,remount,ro');
    expect(s).to.include('-t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"');
    expect(s).to.include('-o bind,remount,ro,nosuid,nodev,noexec "$R/sys"');
    // a sysfs of the shared network namespace already on $R/sys would make the fresh one EBUSY
    const lines = s.split('\n');
    expect(lines.findIndex((l) => l === 'umount -R -l "$R/sys" 2>/dev/null || :')).to.be.within(0, lines.findIndex((l) => l.includes('-t sysfs')) - 1);
    expect(s).to.include('out=$(mount "$@" 2>&1) || fail "mount $what: ');
    expect(s).to.include('-o bind,remount,ro,nosuid,nodev,noexec "$R/proc/sys"');
    expect(s).to.include('newinstance,ptmxmode=0666,mode=0620,gid=5,');
    expect(s).to.include(`--bind ${shq(spec.notifyDir)} "$R/run/host/notify"`);
    expect(s).to.include(`printf '%s' 'sd1' > /proc/sys/kernel/hostname`);
    expect(s).to.not.match(/chroot/);
    expect(s).to.include('pivot_root . . ||');
    expect(s.trimEnd().split('\n').pop()).to.equal(`exec /usr/bin/env -i 'LANG=C.UTF-8' 'container=metainit' 'NOTIFY_SOCKET=${NOTIFY_SOCKET_INSIDE}' '/lib/systemd/systemd' 'systemd.mask=a b.service'`);
    expect(s).to.not.include('/dev/console'); // only when a console is given
    execFileSync('sh', ['-n', '-c', s]); // valid sh
  });

  it('binds a given console at /dev/console', () => {
    const s = containerLaunch({ ...spec, console: '/dev/pts/7', container: 'other' }).script;
    expect(s).to.include(`--bind '/dev/pts/7' "$R/dev/console"`);
    expect(s).to.include(`'container=other'`);
  });

  it('runs a machine\'s own tree ("/") from a recursive bind of it in the new mount namespace, its API file systems covered', () => {
    symlinkSync('/', join(tmp, 'slash'));
    const init = ['/bin/sh'];
    const s = containerLaunch({ ...spec, root: join(tmp, 'slash'), argv: init }).script;
    const stage = join(spec.runDir, 'systemd.root');
    expect(s).to.include(`R=${shq(stage)}`);
    const lines = s.split('\n');
    const bind = lines.findIndex((l) => l.includes('--rbind / "$R"'));
    expect(bind).to.be.greaterThan(0);
    for (const fresh of ['-t proc', '-t sysfs', '-t tmpfs -o mode=0755,nosuid,size=4m tmpfs "$R/dev"', 'tmpfs "$R/run"', 'tmpfs "$R/tmp"']) {
      expect(lines.findIndex((l) => l.includes(fresh)), fresh).to.be.greaterThan(bind);
    }
    execFileSync('sh', ['-n', '-c', s]);
  });

  it('with soleInCgroup, waits before the exec until no process from outside the namespace is in its cgroup', () => {
    const wait = (x: string): number => x.split('\n').findIndex((l) => l.includes('grep -qx 0 "$R/sys/fs/cgroup/cgroup.procs"'));
    const s = containerLaunch({ ...spec, soleInCgroup: true }).script;
    const lines = s.split('\n');
    expect(wait(s)).to.be.greaterThan(lines.findIndex((l) => l.includes('cgroup2 "$R/sys/fs/cgroup"')));
    expect(wait(s)).to.be.lessThan(lines.findIndex((l) => l.startsWith('exec ')));
    expect(lines[wait(s)], 'bounded: never waits forever').to.match(/\[ \$i -lt \d+ \]/);
    expect(wait(containerLaunch(spec).script), 'not asked: no wait').to.equal(-1);
    execFileSync('sh', ['-n', '-c', s]);
  });

  it('keeps exported /run directories shared (bound aside before /run is covered, then back), binds sockets onto the new /run, and the console from the pty on stdin', () => {
    writeFileSync(join(tmp, 'log'), '');
    const s = containerLaunch({ ...spec, exports: ['dbus'], binds: [{ source: join(tmp, 'log'), target: '/run/systemd/journal/syslog' }], consoleTty: true }).script;
    const lines = s.split('\n');
    const aside = lines.findIndex((l) => l.includes(`--bind "$R/run/dbus" ${shq(join(spec.runDir, 'systemd.export/dbus'))}`));
    const run = lines.findIndex((l) => l.includes('tmpfs "$R/run"'));
    const back = lines.findIndex((l) => l.includes(`--bind ${shq(join(spec.runDir, 'systemd.export/dbus'))} "$R/run/dbus"`));
    expect(aside).to.be.greaterThan(0);
    expect(run).to.be.greaterThan(aside);
    expect(back).to.be.greaterThan(run);
    expect(lines.findIndex((l) => l.includes(`--bind ${shq(join(tmp, 'log'))} "$R/run/systemd/journal/syslog"`))).to.be.greaterThan(run);
    expect(s).to.include('T=$(tty)');
    expect(s).to.include('--bind "$T" "$R/dev/console"');
    execFileSync('sh', ['-n', '-c', s]);
    const caps = containerLaunch({ ...spec, dropCaps: ['audit_write', 'audit_control'] }).script.trimEnd().split('\n').pop();
    expect(caps).to.match(/^exec \/usr\/bin\/setpriv --bounding-set -audit_write,-audit_control \/usr\/bin\/env -i /);
    expect(() => containerLaunch({ ...spec, dropCaps: ['AUDIT;x'] })).to.throw(/capability "AUDIT;x" is not a capability name/);
    expect(() => containerLaunch({ ...spec, exports: ['../etc'] })).to.throw(/export "..\/etc" is not a directory name under \/run/);
    expect(() => containerLaunch({ ...spec, binds: [{ source: join(tmp, 'log'), target: '/etc/x' }] })).to.throw(/bind target \/etc\/x is not under \/run/);
  });

  it('refuses a missing init, a relative argv[0], a directory that is no cgroup, and bad names', () => {
    expect(() => containerLaunch({ ...spec, argv: ['/sbin/init'] })).to.throw(/\/sbin\/init is not in the root .* \(fix: install it there or correct argv\)/);
    expect(() => containerLaunch({ ...spec, argv: ['systemd'] })).to.throw(/argv\[0\] is not an absolute path/);
    expect(() => containerLaunch({ ...spec, cgroup: spec.runDir })).to.throw(/is not a cgroup directory \(fix: make the subtree with cgroup.ts createSubtree first\)/);
    expect(() => containerLaunch({ ...spec, env: { 'A-B': '1' } })).to.throw(/environment name "A-B" is not valid/);
    expect(() => containerLaunch({ ...spec, hostname: 'a b' })).to.throw(/hostname "a b" is not valid/);
    expect(() => containerLaunch({ ...spec, notifyDir: join(tmp, 'none') })).to.throw(/the notify directory .* does not exist/);
  });
});
