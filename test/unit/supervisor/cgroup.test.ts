/**
 * cgroup.test.ts — the delegated subtree with a temp directory standing in for cgroupfs.
 *
 * `tempCgroupFs` plays the kernel's part just enough: a new directory gets cgroup.procs,
 * cgroup.controllers (what its parent's subtree_control enables), cgroup.subtree_control and,
 * when the "kernel" has it, cgroup.kill; `+c` in subtree_control works only for an offered
 * controller (one can be made to fail, as a busy controller does); rmdir of a cgroup with
 * processes or children fails with EBUSY; cgroup.kill and SIGKILL empty the procs files.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../src/base/types.js';
import { assertInside, createSubtree, existingSubtree, findCgroup2Mount, killSubtree, movePid, moveToMountRoot, removeSubtree, subtreePids, type CgroupOps } from '../../../src/supervisor/cgroup.js';

const FILES = ['cgroup.procs', 'cgroup.controllers', 'cgroup.subtree_control', 'cgroup.kill'];
const busy = (what: string): Error => Object.assign(new Error(`${what}: busy`), { code: 'EBUSY' });

interface TempFs {
  ops: CgroupOps;
  mount: string;
  writes: Array<[string, string]>;
  killed: number[];
  removed: string[];
}

function tempCgroupFs(root: string, opts: { cgroupKill?: boolean; failing?: string[]; immortal?: boolean } = {}): TempFs {
  const mount = join(root, 'cg');
  const fs: TempFs = { ops: undefined as unknown as CgroupOps, mount, writes: [], killed: [], removed: [] };
  const allDirs = (dir: string): string[] => [dir, ...readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => allDirs(join(dir, d.name)))];
  const dropPid = (pid: number): void => {
    for (const d of allDirs(mount)) {
      const f = join(d, 'cgroup.procs');
      writeFileSync(f, readFileSync(f, 'utf8').split('\n').filter((l) => l && Number(l) !== pid).map((l) => `${l}\n`).join(''));
    }
  };
  const makeCgroup = (dir: string, controllers: string): void => {
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.procs'), '');
    writeFileSync(join(dir, 'cgroup.controllers'), controllers);
    writeFileSync(join(dir, 'cgroup.subtree_control'), '');
    if (opts.cgroupKill) writeFileSync(join(dir, 'cgroup.kill'), '');
  };
  makeCgroup(mount, 'cpu memory pids hugetlb');
  writeFileSync(join(mount, 'cgroup.subtree_control'), 'memory pids cpu\n');
  fs.ops = {
    mkdir: (p) => makeCgroup(p, readFileSync(join(p, '..', 'cgroup.subtree_control'), 'utf8').trim()),
    rmdir: (p) => {
      if (readFileSync(join(p, 'cgroup.procs'), 'utf8').trim() !== '' || readdirSync(p, { withFileTypes: true }).some((d) => d.isDirectory())) throw busy(p);
      for (const f of FILES) if (existsSync(join(p, f))) unlinkSync(join(p, f));
      rmdirSync(p);
      fs.removed.push(p);
    },
    read: (p) => readFileSync(p, 'utf8'),
    write: (p, text) => {
      fs.writes.push([p, text]);
      if (p.endsWith('cgroup.subtree_control')) {
        const c = text.slice(1);
        const offered = readFileSync(join(p, '..', 'cgroup.controllers'), 'utf8').split(' ');
        if (!offered.includes(c) || opts.failing?.includes(c)) throw busy(`write ${text}`);
        const on = readFileSync(p, 'utf8').split(/\s+/).filter(Boolean);
        writeFileSync(p, [...new Set([...on, c])].join(' '));
      } else if (p.endsWith('cgroup.procs')) {
        writeFileSync(p, `${readFileSync(p, 'utf8')}${text}\n`);
      } else if (p.endsWith('cgroup.kill')) {
        if (!opts.immortal) for (const d of allDirs(join(p, '..'))) writeFileSync(join(d, 'cgroup.procs'), '');
      } else throw new Error(`unexpected write to ${p}`);
    },
    exists: (p) => existsSync(p),
    children: (p) =>
      readdirSync(p, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name),
    kill: (pid) => {
      fs.killed.push(pid);
      if (!opts.immortal) dropPid(pid);
      return true;
    },
  };
  return fs;
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (t) => lines.push(`info: ${t}`), warn: (t) => lines.push(`warn: ${t}`), error: (t) => lines.push(`error: ${t}`) };
}

describe('cgroup: a delegated subtree', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'metainit-cgroup-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('finds the cgroup2 mount in mountinfo, preferring /sys/fs/cgroup', () => {
    const hybrid = ['31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755', '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu', '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw'].join('\n');
    expect(findCgroup2Mount(hybrid)).to.equal('/sys/fs/cgroup/unified');
    const both = '40 1 0:38 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n41 1 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
    expect(findCgroup2Mount(both)).to.equal('/sys/fs/cgroup');
    expect(findCgroup2Mount(both.split('\n')[0])).to.equal('/mnt/cg two');
    expect(findCgroup2Mount('32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n')).to.equal(undefined);
  });

  it('makes <mount>/<parent>/<instance>, enabling in the parent what the host offers, the host\'s directories only read', () => {
    const fs = tempCgroupFs(tmp);
    const log = recordingLog();
    const cg = createSubtree({ instance: 'systemd', mount: fs.mount, log, ops: fs.ops });
    expect(cg).to.deep.include({ mount: fs.mount, parent: join(fs.mount, 'metainit'), path: join(fs.mount, 'metainit/systemd'), madeParent: true });
    expect(cg.controllers).to.have.members(['memory', 'pids', 'cpu']);
    expect(readFileSync(join(cg.path, 'cgroup.controllers'), 'utf8').split(' ')).to.have.members(['memory', 'pids', 'cpu']);
    expect(fs.writes.map((w) => w[0])).to.deep.equal(Array(3).fill(join(cg.parent, 'cgroup.subtree_control')));
    expect(readFileSync(join(cg.path, 'cgroup.subtree_control'), 'utf8')).to.equal(''); // processes live there
    expect(log.lines).to.deep.equal([`info: cgroup: ${cg.path} goes without controllers hugetlb: not enabled above ${cg.parent} (the host did not delegate them)`]);
  });

  it('logs a controller that cannot be enabled and still makes the subtree', () => {
    const fs = tempCgroupFs(tmp, { failing: ['memory'] });
    const log = recordingLog();
    const cg = createSubtree({ instance: 'sd', parent: 'metainit-test-1', mount: fs.mount, log, ops: fs.ops });
    expect(cg.controllers).to.have.members(['pids', 'cpu']);
    expect(log.lines[0]).to.equal(`warn: cgroup: unable to enable controllers memory (EBUSY) in ${cg.parent}: the instance goes without them`);
    expect(existsSync(cg.path)).to.equal(true);
  });

  it('enables at the mount root only when metainit owns the mount (machine mode)', () => {
    const fs = tempCgroupFs(tmp);
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, delegateFromMount: true, log: recordingLog(), ops: fs.ops });
    expect(cg.controllers).to.have.members(['memory', 'pids', 'cpu', 'hugetlb']);
    expect(fs.writes.filter((w) => w[0] === join(fs.mount, 'cgroup.subtree_control')).map((w) => w[1])).to.deep.equal(['+cpu', '+memory', '+pids', '+hugetlb']);
  });

  it('refuses names that are not plain, an instance directory that exists, and a missing cgroup2', () => {
    const fs = tempCgroupFs(tmp);
    const make = (instance: string, parent?: string, mount = fs.mount): unknown => createSubtree({ instance, parent, mount, log: recordingLog(), ops: fs.ops });
    expect(() => make('..')).to.throw(/instance name "\.\." is not a plain directory name \(fix: /);
    expect(() => make('a/b')).to.throw(/not a plain directory name/);
    expect(() => make('sd', '../x')).to.throw(/parent name "\.\.\/x"/);
    make('sd');
    expect(() => make('sd')).to.throw(`cgroup: unable to make ${join(fs.mount, 'metainit/sd')}: ${join(fs.mount, 'metainit/sd')} exists already (fix: `);
    expect(() => make('sd', undefined, join(tmp, 'nothing'))).to.throw(/^cgroup: unable to make a subtree for sd: no cgroup2 file system is mounted \(fix: /);
  });

  it('touches nothing outside <mount>/<parent>/', () => {
    const cg = { parent: '/sys/fs/cgroup/metainit' };
    for (const p of ['/sys/fs/cgroup', '/sys/fs/cgroup/metainit', '/sys/fs/cgroup/metainit/..', '/sys/fs/cgroup/other', '/sys/fs/cgroup/metainit/../other/x', '/']) {
      expect(() => assertInside(cg, p), p).to.throw(/not inside metainit's subtree/);
    }
    for (const p of ['/sys/fs/cgroup/metainit/sd', '/sys/fs/cgroup/metainit/sd/init.scope', '/sys/fs/cgroup/metainit/..sd']) expect(() => assertInside(cg, p), p).to.not.throw();
  });

  it('moves a pid in, lists the pids of the whole subtree, kills them with cgroup.kill', async () => {
    const fs = tempCgroupFs(tmp, { cgroupKill: true });
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, log: recordingLog(), ops: fs.ops });
    movePid(cg, 100, cg.path, fs.ops);
    fs.ops.mkdir(join(cg.path, 'init.scope'));
    movePid(cg, 101, join(cg.path, 'init.scope'), fs.ops);
    expect(subtreePids(cg, fs.ops)).to.have.members([100, 101]);
    expect(() => movePid(cg, 102, fs.mount, fs.ops)).to.throw(/not inside metainit's subtree/);
    expect(await killSubtree(cg, Date.now() + 1000, fs.ops)).to.equal(true);
    expect(fs.writes.filter((w) => w[0].endsWith('cgroup.kill'))).to.deep.equal([[join(cg.path, 'cgroup.kill'), '1']]);
    expect(fs.killed).to.deep.equal([]);
  });

  it('moves the launcher out of the subtree into the root cgroup of the mount', () => {
    const fs = tempCgroupFs(tmp);
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, log: recordingLog(), ops: fs.ops });
    moveToMountRoot(cg, 77, fs.ops);
    expect(fs.writes.filter((w) => w[0].endsWith('cgroup.procs')).pop()).to.deep.equal([join(fs.mount, 'cgroup.procs'), '77']);
  });

  it('without cgroup.kill, sends SIGKILL to every pid, deepest cgroup first', async () => {
    const fs = tempCgroupFs(tmp);
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, log: recordingLog(), ops: fs.ops });
    fs.ops.mkdir(join(cg.path, 'system.slice'));
    fs.ops.mkdir(join(cg.path, 'system.slice/cron.service'));
    movePid(cg, 1, cg.path, fs.ops);
    movePid(cg, 2, join(cg.path, 'system.slice/cron.service'), fs.ops);
    movePid(cg, 3, join(cg.path, 'system.slice'), fs.ops);
    expect(await killSubtree(cg, Date.now() + 1000, fs.ops)).to.equal(true);
    expect(fs.killed).to.deep.equal([2, 3, 1]);
  });

  it('says false at the deadline when processes do not die', async () => {
    const fs = tempCgroupFs(tmp, { immortal: true });
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, log: recordingLog(), ops: fs.ops });
    movePid(cg, 7, cg.path, fs.ops);
    expect(await killSubtree(cg, Date.now() + 60, fs.ops)).to.equal(false);
    expect(fs.killed.length).to.be.greaterThan(1);
  });

  it('removes depth first, and the parent it made once nothing else lives there', () => {
    const fs = tempCgroupFs(tmp);
    const log = recordingLog();
    const a = createSubtree({ instance: 'a', mount: fs.mount, log, ops: fs.ops });
    const b = createSubtree({ instance: 'b', mount: fs.mount, log, ops: fs.ops });
    expect(b.madeParent).to.equal(false);
    fs.ops.mkdir(join(a.path, 'x'));
    fs.ops.mkdir(join(a.path, 'x/y'));
    expect(removeSubtree(a, log, fs.ops)).to.deep.equal([]);
    expect(fs.removed).to.deep.equal([join(a.path, 'x/y'), join(a.path, 'x'), a.path]); // b still lives in the parent
    expect(removeSubtree(b, log, fs.ops)).to.deep.equal([]);
    expect(existsSync(a.parent)).to.equal(true); // made by a, not by b
    const again = existingSubtree({ mount: fs.mount, instance: 'b' })!;
    expect(again.path).to.equal(b.path);
    removeSubtree(again, log, fs.ops);
    expect(existsSync(a.parent)).to.equal(false);
    expect(existsSync(join(fs.mount, 'cgroup.procs'))).to.equal(true);
  });

  it('leaves and reports a cgroup that still has processes', () => {
    const fs = tempCgroupFs(tmp);
    const log = recordingLog();
    const cg = createSubtree({ instance: 'sd', mount: fs.mount, log, ops: fs.ops });
    fs.ops.mkdir(join(cg.path, 'busy'));
    movePid(cg, 5, join(cg.path, 'busy'), fs.ops);
    expect(removeSubtree(cg, log, fs.ops)).to.deep.equal([join(cg.path, 'busy'), cg.path]);
    expect(log.lines).to.include(`warn: cgroup: unable to remove ${join(cg.path, 'busy')}: EBUSY (fix: kill what still runs in it first)`);
    expect(existsSync(cg.parent)).to.equal(true);
  });
});
