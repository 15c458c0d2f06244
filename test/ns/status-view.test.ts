/**
 * status-view.test.ts — `metainit status` as an administrator reads it: one service in detail
 * (definition, command, dependencies both ways, processes, last log lines), the table filtered by
 * names, instance/, globs and --state, files that failed to load as bad-config rows, the
 * changed-on-disk marker, and `sync` saying what it added, removed and changed.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { bootNs, cleanEnv, metainit, RUN_JS, sleep, type Ns } from './harness.js';

describe('ns: status NAME detail view, status filters, bad-config rows, sync report', function () {
  this.timeout(60_000);
  let dir: string;
  let ns: Ns;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-status-'));
    mkdirSync(join(dir, 'services.d'));
    writeFileSync(join(dir, 'services.d/prep.yaml'), 'exec: sleep 1000\n');
    writeFileSync(join(dir, 'services.d/web.yaml'), 'exec: sh -c "echo web says hello; sleep 1000 & wait"\nafter: [prep]\n');
    writeFileSync(join(dir, 'services.d/broken.yaml'), 'exec: sleep 1\nrestrat: always\n');
    writeFileSync(join(dir, 'services.d/crashy.yaml'), 'exec: sh -c "sleep 0.4; exit 1"\nbackoff: {initial: 200ms, max: 400ms}\n');
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns.service('native/web')).state === 'running', 10_000, 'web running');
  });
  after(async () => {
    await ns?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status NAME shows where it is defined, what it runs, who it needs and who needs it, its processes and its last lines', async () => {
    await ns.waitFor(async () => (await ns.cli(['logs', 'native/web'])).stdout.includes('web says hello'), 10_000, 'the log line');
    const r = await ns.cli(['status', 'native/web']);
    expect(r.code).to.equal(0);
    const web = await ns.service('native/web');
    expect(r.stdout).to.match(/^● native\/web — service of instance native \(native\)$/m);
    expect(r.stdout).to.match(/^ +state: running since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)$/m);
    expect(r.stdout).to.include(`defined in: ${join(dir, 'services.d/web.yaml')}`);
    expect(r.stdout).to.include(`command: sh -c 'echo web says hello; sleep 1000 & wait'`);
    expect(r.stdout).to.match(/^ +after: prep$/m);
    expect(r.stdout).to.match(new RegExp(`^ +${web.pid} sh -c echo web says hello; sleep 1000 & wait$`, 'm'));
    expect(r.stdout).to.match(/^ +└─\d+ sleep 1000$/m);
    expect(r.stdout).to.match(/last \d+ log line\(s\):\n.*web says hello/);
    const prep = await ns.cli(['status', 'native/prep']);
    expect(prep.stdout).to.match(/^ +dependents: native\/web$/m);
  });

  it('lists a file that failed to load as a bad-config row with its error, and filters by state', async () => {
    const r = await ns.cli(['status']);
    expect(r.stdout).to.match(/^native\/broken +bad-config .*key "restrat" is not known/m);
    const bad = await ns.cli(['status', '--state', 'bad-config']);
    expect(bad.stdout).to.match(/native\/broken/);
    expect(bad.stdout).not.to.match(/native\/web/);
    expect(bad.code).to.equal(3);
  });

  it('filters by several names, instance/ and globs; exit 0 when all picked are active, 4 when none matches', async () => {
    const two = await ns.cli(['status', 'native/web', 'prep']);
    expect(two.code).to.equal(0);
    expect(two.stdout).to.match(/native\/web/);
    expect(two.stdout).to.match(/native\/prep/);
    expect(two.stdout).not.to.match(/native\/broken/);
    const glob = await ns.cli(['status', 'native/w*']);
    expect(glob.stdout.split('\n').filter((l) => l.startsWith('native/'))).to.have.length(1);
    const inst = await ns.cli(['status', 'native/', '--state', 'running']);
    expect(inst.stdout).to.match(/native\/prep/);
    const none = await ns.cli(['status', 'nothing*']);
    expect(none.code).to.equal(4);
    expect(none.stderr).to.include('no service matches nothing*');
  });

  it('marks a service whose file changed on disk, until apply', async () => {
    writeFileSync(join(dir, 'services.d/prep.yaml'), 'exec: sleep 2000\n');
    await ns.waitFor(async () => (await ns.service('native/prep')).changed === true, 10_000, 'prep marked changed');
    const r = await ns.cli(['status']);
    expect(r.stdout).to.match(/^native\/prep +running\*/m);
    expect(r.stdout).to.include('* changed on disk since it started: run metainit apply native/prep');
    expect((await ns.cli(['status', 'native/prep'])).stdout).to.include('changed: on disk since it started (fix: metainit apply native/prep)');
    expect((await ns.cli(['apply', 'native/prep'])).code).to.equal(0);
    expect((await ns.service('native/prep')).changed).to.equal(undefined);
  });

  it('events follows state changes with restarts marked, filtered by name and type; --json is one object per line', async () => {
    const follow = (extra: string[]): Promise<string> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, [RUN_JS, 'events', '--socket', ns.sock, ...extra], { env: cleanEnv() });
        let text = '';
        c.stdout.on('data', (d: Buffer) => (text += d.toString()));
        setTimeout(() => c.kill('SIGINT'), 2500);
        c.once('exit', () => resolve(text));
      });
    const [plain, json] = await Promise.all([follow(['--type', 'state', 'native/crashy']), follow(['--json', 'crashy'])]);
    expect(plain).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} state +native\/crashy starting \(pid \d+\).* -- restart \d+$/m);
    expect(plain.split('\n').filter(Boolean).every((l) => l.includes('native/crashy'))).to.equal(true);
    const evs = json.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; status?: { id: string } });
    expect(evs.length).to.be.at.least(2);
    expect(evs.every((e) => e.type === 'state' && e.status?.id === 'native/crashy')).to.equal(true);
    const bad = await ns.cli(['events', '--type', 'stat']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('"stat" is not an event type');
  });

  it('logs -o short shows each line\'s time and stream, -o json one object per line, --since cuts, restarts are marked', async () => {
    await ns.waitFor(async () => (await ns.cli(['logs', 'native/crashy'])).stdout.includes('-- metainit: restart 1 '), 10_000, 'a restart marker');
    const cat = await ns.cli(['logs', 'native/crashy']);
    expect(cat.stdout).to.match(/^-- metainit: restart 1 \(pid \d+\) after exit code 1 --$/m);
    const web = await ns.cli(['logs', 'native/web', '-o', 'short']);
    expect(web.stdout).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} stdout web says hello$/m);
    const json = (await ns.cli(['logs', 'native/web', '-o', 'json'])).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
    const hello = json.filter((r) => r.line === 'web says hello').at(-1); // the log file may hold an earlier boot's line too
    expect(hello).to.include({ service: 'native/web', stream: 'stdout' });
    expect(Date.parse(hello!.time!)).to.be.within(Date.now() - 120_000, Date.now());
    expect((await ns.cli(['logs', 'native/web', '--since', '1h'])).stdout).to.include('web says hello');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await ns.cli(['logs', 'native/web', '--since', future])).stdout).to.equal('');
    expect((await ns.cli(['logs', 'native/web', '--since', 'soonish'])).code).to.equal(2);
    expect((await ns.cli(['logs', 'native/web', '-o', 'xml'])).code).to.equal(2);
  });

  it('metainit help CMD is CMD --help', async () => {
    const r = await metainit(['help', 'events']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/USAGE\s+\$ metainit events/);
  });

  it('sync says what it added and removed (and --json carries the lists)', async () => {
    writeFileSync(join(dir, 'services.d/extra.yaml'), 'exec: sleep 1000\n');
    const r = await ns.cli(['sync']); // before the directory watch's own sync (0.7 s after the last change)
    expect(r.stdout).to.match(/^sync: configuration re-read: added native\/extra;/m);
    rmSync(join(dir, 'services.d/extra.yaml'));
    const j = await ns.cli(['sync', '--json']);
    const res = JSON.parse(j.stdout) as { added: string[]; removed: string[]; changed: string[]; diagnostics: unknown[] };
    expect(res.removed).to.deep.equal(['native/extra']);
    expect(res.added).to.deep.equal([]);
    expect(res.diagnostics.length).to.be.at.least(1); // broken.yaml is still broken
    await sleep(100);
  });
});
