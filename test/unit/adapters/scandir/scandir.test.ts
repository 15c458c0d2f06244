/**
 * scandir.test.ts — the scan-directory machinery shared by the runit and s6 adapters, without
 * starting a supervisor: paths inside a root, the scan dir, the two status formats and their
 * state tables, the instance schema, what an instance lists/claims/vetoes, and the process
 * family (on real short-lived processes). The live supervisors are covered by
 * test/ns/runit-s6.test.ts.
 */
import { testContext } from '../../adapter-context.js';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AdapterEvent } from '../../../../src/adapters/adapter.js';
import { createRunitAdapter } from '../../../../src/adapters/runit/index.js';
import { parseRunitStatus, runitObservation } from '../../../../src/adapters/runit/states.js';
import { createS6Adapter } from '../../../../src/adapters/s6/index.js';
import { parseS6Status, s6Observation } from '../../../../src/adapters/s6/states.js';
import { roleOfService } from '../../../../src/roles/known-services.js';
import { processTable, ProcessFamily, signalPid } from '../../../../src/supervisor/proctree.js';
import { assembleScanDir, prepareSuperviseLink, resolveIn } from '../../../../src/adapters/scandir/scandir.js';
import { createFakeSys } from '../../fake-sys.js';
import { waitFor } from '../../wait-for.js';

/** the root directory of the current test (a fresh temporary directory) */
let root: string;
/** Give every test of the calling describe its own temporary root. */
function useTempRoot(): void {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'scandir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
}

/** Executable stand-ins for the programs an adapter checks for in its root. */
function programs(...names: string[]): void {
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  for (const n of names) writeFileSync(join(root, 'usr/bin', n), '#!/bin/sh\n', { mode: 0o755 });
}

/** A runit-style tree: /etc/service → runit/runsvdir/current → /etc/runit/runsvdir/default. */
function debianTree(services: Record<string, { run?: boolean; down?: boolean }>): void {
  programs('runsvdir', 'runsv', 'sv');
  mkdirSync(join(root, 'etc/runit/runsvdir/default'), { recursive: true });
  symlinkSync('/etc/runit/runsvdir/default', join(root, 'etc/runit/runsvdir/current'));
  symlinkSync('runit/runsvdir/current', join(root, 'etc/service'));
  for (const [name, opt] of Object.entries(services)) {
    mkdirSync(join(root, 'etc/sv', name), { recursive: true });
    if (opt.run !== false) writeFileSync(join(root, 'etc/sv', name, 'run'), '#!/bin/sh\nexec sleep 1\n', { mode: 0o755 });
    if (opt.down) writeFileSync(join(root, 'etc/sv', name, 'down'), '');
    symlinkSync(`/etc/sv/${name}`, join(root, 'etc/runit/runsvdir/default', name));
  }
}

function makeRunit(config: Record<string, unknown>, events: AdapterEvent[] = []) {
  return createRunitAdapter(testContext({ instance: 'runit', config: { adapter: 'runit', root, after: [], enabled: true, ...config }, sys: createFakeSys(), file: '/etc/metainit/adapters.d/instance.yaml', runDir: '/run/metainit/runit', emit: (ev) => events.push(ev) }));
}

describe('scandir: paths inside a root', () => {
  useTempRoot();

  it('follows relative and absolute symlinks inside the root, never on the host', () => {
    debianTree({ ssh: {} });
    expect(resolveIn(root, '/etc/service/ssh')).to.equal('/etc/sv/ssh');
    expect(resolveIn(root, '/etc/service/ssh/supervise/status')).to.equal('/etc/sv/ssh/supervise/status');
  });

  it('keeps missing components as written, and applies .. after the symlink before it (as the kernel does)', () => {
    debianTree({});
    expect(resolveIn(root, '/etc/sv/x/./run')).to.equal('/etc/sv/x/run');
    expect(resolveIn(root, '/etc/service/../x')).to.equal('/etc/runit/runsvdir/x');
  });

  it('stops on a symlink loop with a clear error', () => {
    symlinkSync('/b', join(root, 'a'));
    symlinkSync('/a', join(root, 'b'));
    expect(() => resolveIn(root, '/a/x')).to.throw('/a/x: unable to resolve path: too many levels of symbolic links');
  });
});

describe('scandir: the scan directory', () => {
  useTempRoot();

  it('holds exactly the wanted links: adds, retargets, removes, and leaves dot entries alone', () => {
    const scan = join(root, 'scan');
    mkdirSync(join(scan, '.s6-svscan'), { recursive: true });
    symlinkSync('/etc/sv/old', join(scan, 'old'));
    symlinkSync('/etc/sv/wrong', join(scan, 'b'));
    const r = assembleScanDir(scan, new Map([['a', '/etc/sv/a'], ['b', '/etc/sv/b']]));
    expect(readdirSync(scan).sort()).to.deep.equal(['.s6-svscan', 'a', 'b']);
    expect(readlinkSync(join(scan, 'b'))).to.equal('/etc/sv/b');
    expect(r.removed).to.deep.equal(['old']);
    expect(r.added.sort()).to.deep.equal(['a', 'b']);
  });

  it('creates the /run parent of a dangling supervise link (Debian style), nothing outside /run', () => {
    debianTree({ ssh: {}, other: {} });
    symlinkSync('/run/runit/supervise/ssh', join(root, 'etc/sv/ssh/supervise'));
    symlinkSync('/var/lib/x/other', join(root, 'etc/sv/other/supervise'));
    prepareSuperviseLink(root, '/etc/sv/ssh/supervise');
    prepareSuperviseLink(root, '/etc/sv/other/supervise');
    expect(lstatSync(join(root, 'run/runit/supervise')).isDirectory()).to.equal(true);
    expect(existsSync(join(root, 'run/runit/supervise/ssh'))).to.equal(false);
    expect(existsSync(join(root, 'var/lib/x'))).to.equal(false);
  });
});

describe('runit: supervise/status and its state table', () => {
  const status = (phase: number, want: string, pid = 23): Buffer => {
    const b = Buffer.alloc(20);
    b.writeUInt32LE(pid, 12);
    b[17] = want.charCodeAt(0);
    b[19] = phase;
    return b;
  };

  it('decodes a status file written by runsv', () => {
    const real = Buffer.from('400000006b022b871536afdc17000000' + '00750001', 'hex');
    expect(parseRunitStatus(real)).to.deep.equal({ phase: 'run', want: 'up', pid: 23, paused: false });
    expect(parseRunitStatus(Buffer.alloc(19))).to.equal(undefined);
  });

  it('maps run → running, down → stopped or respawn by target, finish → respawn', () => {
    expect(runitObservation(status(1, 'u'))).to.include({ state: 'running', target: 'up', pid: 23 });
    expect(runitObservation(status(1, 'd'))?.state).to.equal('stopping');
    expect(runitObservation(status(0, 'd', 0))).to.deep.equal({ state: 'stopped', target: 'down' });
    expect(runitObservation(status(0, 'u', 0))?.state).to.equal('respawn');
    expect(runitObservation(status(2, 'u'))?.state).to.equal('respawn');
  });
});

describe('s6: supervise/status and its state table', () => {
  const status = (size: 35 | 43, pid: number, flags: number, wstat = 0): Buffer => {
    const b = Buffer.alloc(size);
    b.writeBigUInt64BE(BigInt(pid), 24);
    b.writeUInt16BE(wstat, size === 35 ? 32 : 40);
    b[size - 1] = flags;
    return b;
  };

  it('decodes both the 35-byte (s6 2.11) and the 43-byte (s6 2.12) formats', () => {
    expect(parseS6Status(status(35, 18, 4))).to.include({ pid: 18, wantUp: true, ready: false });
    expect(parseS6Status(status(43, 18, 12))).to.include({ pid: 18, wantUp: true, ready: true });
    expect(parseS6Status(Buffer.alloc(20))).to.equal(undefined);
  });

  it('is running once up without notification-fd, starting until ready with one', () => {
    expect(s6Observation(status(35, 18, 4), false)).to.include({ state: 'running', pid: 18 });
    expect(s6Observation(status(35, 18, 4), true)?.state).to.equal('starting');
    expect(s6Observation(status(35, 18, 12), true)?.state).to.equal('running');
  });

  it('maps down wanted up to respawn with the exit, down to stopped', () => {
    const died = s6Observation(status(35, 0, 4, 1 << 8), false);
    expect(died).to.include({ state: 'respawn', reason: 'exited with code 1' });
    expect(died?.lastExit).to.deep.equal({ code: 1, signal: null });
    expect(s6Observation(status(35, 0, 8, 9), false)).to.include({ state: 'stopped', reason: 'killed by SIGKILL' });
    expect(s6Observation(status(35, 0, 8), false)).to.deep.equal({ state: 'stopped', target: 'down' });
  });
});

describe('scandir: an instance before it starts', () => {
  useTempRoot();

  it('rejects an unknown key with a diagnostic naming it', async () => {
    const diags = await makeRunit({ service_dir: '/etc/service' }).load();
    expect(diags).to.have.length(1);
    expect(diags[0]!.message).to.contain('service_dir');
  });

  it('lists the services of services_dir through its symlinks, with their targets', async () => {
    debianTree({ ssh: {}, getty: { down: true } });
    const a = makeRunit({});
    expect(await a.load()).to.deep.equal([]);
    const byName = Object.fromEntries(a.list().map((s) => [s.id, [s.state, s.target]]));
    expect(byName).to.deep.equal({ 'runit/getty': ['stopped', 'down'], 'runit/ssh': ['stopped', 'up'] });
  });

  it('keeps only the allow-list, and warns about allowed names that are not there', async () => {
    debianTree({ ssh: {}, cron: {} });
    const a = makeRunit({ services: ['cron', 'nope'] });
    const diags = await a.load();
    expect(a.list().map((s) => s.name)).to.deep.equal(['cron']);
    expect(diags.map((d) => d.level)).to.deep.equal(['warning']);
    expect(diags[0]!.message).to.contain('service "nope" is not in /etc/service');
  });

  it('reports a service without an executable run file as error', async () => {
    debianTree({ broken: { run: false } });
    const a = makeRunit({});
    const diags = await a.load();
    expect(diags[0]!.service).to.equal('runit/broken');
    expect(a.list()[0]).to.include({ state: 'error', reason: '/etc/sv/broken/run is missing or not executable' });
  });

  it('claims roles by service name and shows vetoed services as stopped, refusing to start them', async () => {
    debianTree({ cron: {}, rsyslog: {}, ssh: {} });
    const a = makeRunit({});
    await a.load();
    expect(a.claims()).to.deep.equal([
      { role: 'cron', service: 'cron' },
      { role: 'logging', service: 'rsyslog' },
    ]);
    a.applyRoles(new Set(['cron']));
    expect(a.list().find((s) => s.name === 'cron')).to.include({ state: 'stopped', target: 'down', reason: 'vetoed: another instance holds its role (see metainit roles)' });
    let err: Error | undefined;
    await a.startService('cron').catch((e: Error) => (err = e));
    expect(err?.message).to.equal('runit/cron: unable to start: vetoed, another instance holds its role (fix: see metainit roles)');
  });

  it('sync adds new entries and reports removed ones as stopped', async () => {
    debianTree({ ssh: {} });
    const events: AdapterEvent[] = [];
    const a = makeRunit({}, events);
    await a.load();
    a.list();
    mkdirSync(join(root, 'etc/sv/cron'));
    writeFileSync(join(root, 'etc/sv/cron/run'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('/etc/sv/cron', join(root, 'etc/runit/runsvdir/default/cron'));
    rmSync(join(root, 'etc/runit/runsvdir/default/ssh'));
    await a.sync();
    expect(a.list().map((s) => s.name)).to.deep.equal(['cron']);
    const last = events.filter((e) => e.type === 'state' && e.status.name === 'ssh').at(-1);
    expect(last?.type === 'state' && last.status.reason).to.equal('removed from /etc/service');
  });

  it('reports a root without the init\'s programs as an error, and claims nothing there', async () => {
    debianTree({ cron: {} });
    rmSync(join(root, 'usr/bin/sv'));
    rmSync(join(root, 'usr/bin/runsv'));
    const a = makeRunit({});
    const diags = await a.load();
    expect(diags.map((d) => [d.level, d.key])).to.deep.equal([['error', 'root']]);
    expect(diags[0]!.message).to.contain(`runsv, sv not found in root ${root}`);
    expect(a.claims()).to.deep.equal([]);
    expect(a.list()[0]).to.include({ state: 'error' });
  });

  it('s6 defaults services_dir to /etc/s6/scan', async () => {
    programs('s6-svscan', 's6-supervise', 's6-svc', 's6-svscanctl');
    mkdirSync(join(root, 'etc/s6/scan/db'), { recursive: true });
    writeFileSync(join(root, 'etc/s6/scan/db/run'), '#!/bin/sh\n', { mode: 0o755 });
    const a = createS6Adapter(testContext({ instance: 's6', config: { adapter: 's6', root, after: [], enabled: true }, sys: createFakeSys() }));
    expect(await a.load()).to.deep.equal([]);
    expect(a.list().map((s) => s.id)).to.deep.equal(['s6/db']);
  });
});

describe('known services → roles', () => {
  it('knows common daemons under their unit and instance names, and not terminals', () => {
    expect(roleOfService('cron')).to.equal('cron');
    expect(roleOfService('chrony.service')).to.equal('time-sync');
    expect(roleOfService('getty@tty1')).to.equal(undefined);
    expect(roleOfService('constructor')).to.equal(undefined);
  });
});

describe('process family', () => {
  it('finds the orphans of a service through its session after the service died', async () => {
    const sh = spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; exec sleep 30'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let orphan = 0;
    sh.stdout.on('data', (d: Buffer) => (orphan = Number(String(d).trim())));
    await waitFor(() => orphan > 0, 'the background sleep');
    const family = new ProcessFamily();
    try {
      expect(family.members(processTable(), [sh.pid!]).sort()).to.deep.equal([sh.pid!, orphan].sort());
      sh.kill('SIGKILL');
      await waitFor(() => !processTable().has(sh.pid!), 'the service gone');
      expect(family.members(processTable(), [])).to.deep.equal([orphan]);
    } finally {
      signalPid(orphan, 'SIGKILL');
      sh.kill('SIGKILL');
    }
  });
});
