/**
 * sandbox.test.ts — what an instance's root is given and taken back, with the strict fake sys:
 * the mounts and their flags (a read-only /sys is always a *bind* remount, never the superblock),
 * one preparation for instances sharing a root, and the last release unmounting in reverse.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, MS } from '../../../src/base/sys.js';
import { quietLogger } from '../../../src/base/types.js';
import { prepareSandbox, readMountInfo, readOnlyBindFlags, type MountEntry } from '../../../src/supervisor/sandbox.js';
import { createFakeSys } from '../fake-sys.js';

describe('sandbox: an instance root', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'metainit-sandbox-'));
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'bin/sh'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** a fake mount table: what the fake sys mounted, with /sys's submount as a recursive bind brings it */
  function fakeMounts(): { sys: ReturnType<typeof createFakeSys>; table: MountEntry[] } {
    const table: MountEntry[] = [];
    const sys = createFakeSys({
      mount: (_src, target, _fs, flags) => {
        if ((flags & MS.REMOUNT) !== 0) return;
        table.push({ target, options: ['rw', 'nosuid', 'nodev', 'noexec'] });
        if (target === join(root, 'sys')) table.push({ target: join(root, 'sys/fs/cgroup'), options: ['rw', 'nosuid'] });
      },
      umount2: () => undefined,
    });
    return { sys, table };
  }

  it('mounts proc, a read-only sys (every mount of it, by bind remount), dev, and fresh run and tmp', () => {
    const { sys, table } = fakeMounts();
    const ready: string[] = [];
    prepareSandbox(root, sys, quietLogger, { ready: (r) => ready.push(r), releasing: () => undefined }, () => table);
    expect(sys.callsTo('mount')).to.deep.equal([
      ['/proc', join(root, 'proc'), null, MS.BIND | MS.REC, null],
      ['/sys', join(root, 'sys'), null, MS.BIND | MS.REC, null],
      [null, join(root, 'sys'), null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null],
      [null, join(root, 'sys/fs/cgroup'), null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID, null],
      ['/dev', join(root, 'dev'), null, MS.BIND | MS.REC, null],
      ['tmpfs', join(root, 'run'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=0755'],
      ['tmpfs', join(root, 'tmp'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777'],
    ]);
    expect(ready).to.deep.equal([root]);
  });

  it('prepares a shared root once and unmounts it, in reverse and lazily, at the last release only', () => {
    const { sys, table } = fakeMounts();
    const releasing: string[] = [];
    const hooks = { ready: () => undefined, releasing: (r: string) => releasing.push(r) };
    const a = prepareSandbox(root, sys, quietLogger, hooks, () => table);
    const b = prepareSandbox(root, sys, quietLogger, hooks, () => table);
    expect(sys.callsTo('mount')).to.have.length(7);
    a.release();
    a.release(); // twice is once
    expect(sys.callsTo('umount2')).to.deep.equal([]);
    b.release();
    expect(releasing).to.deep.equal([root]);
    expect(sys.callsTo('umount2')).to.deep.equal(['tmp', 'run', 'dev', 'sys', 'proc'].map((d) => [join(root, d), MNT_DETACH]));
  });

  it('leaves a mount point that was already mounted to whoever mounted it', () => {
    const { sys, table } = fakeMounts();
    table.push({ target: join(root, 'proc'), options: ['rw'] });
    prepareSandbox(root, sys, quietLogger, undefined, () => table).release();
    expect(sys.callsTo('mount').map((c) => c[1])).to.not.include(join(root, 'proc'));
    expect(sys.callsTo('umount2').map((c) => c[0])).to.not.include(join(root, 'proc'));
  });

  it('mounts nothing for the host root, but still tells the hooks it is ready', () => {
    const sys = createFakeSys();
    const ready: string[] = [];
    prepareSandbox('/', sys, quietLogger, { ready: (r) => ready.push(r), releasing: () => undefined }).release();
    expect(sys.calls).to.deep.equal([]);
    expect(ready).to.deep.equal(['/']);
  });

  it('never remounts without MS_BIND (which would make the shared superblock read-only)', () => {
    for (const opts of [[], ['rw'], ['ro', 'nosuid', 'nodev', 'noexec', 'relatime']]) {
      const f = readOnlyBindFlags(opts);
      expect(f & MS.BIND).to.equal(MS.BIND);
      expect(f & MS.REMOUNT).to.equal(MS.REMOUNT);
      expect(f & MS.RDONLY).to.equal(MS.RDONLY);
    }
  });

  it('reads mount points from mountinfo, octal escapes decoded', () => {
    const text = '36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n37 35 0:5 / /sys rw,nosuid,nodev - sysfs sysfs rw\n';
    expect(readMountInfo(text)).to.deep.equal([
      { target: '/mnt/with space', options: ['rw', 'noatime'] },
      { target: '/sys', options: ['rw', 'nosuid', 'nodev'] },
    ]);
  });
});
