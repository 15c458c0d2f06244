/**
 * cli-exit.test.ts — exit codes a script can rely on, as systemctl and LSB `status` give them.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, metainit, type Ns } from './harness.js';

describe('ns: client exit codes (status, is-active, is-failed)', function () {
  this.timeout(60_000);
  let dir: string;
  let ns: Ns;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-exit-'));
    mkdirSync(join(dir, 'services.d'));
    writeFileSync(join(dir, 'services.d/up.yaml'), 'exec: sleep 1000\n');
    writeFileSync(join(dir, 'services.d/done.yaml'), 'exec: "true"\noneshot: true\n');
    writeFileSync(join(dir, 'services.d/broken.yaml'), 'exec: sh -c "exit 7"\noneshot: true\n');
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => {
      const s = await ns.status();
      return s.find((x) => x.id === 'native/up')?.state === 'running' && s.find((x) => x.id === 'native/broken')?.state === 'error';
    }, 10_000, 'up running, broken failed');
    expect((await ns.cli(['stop', 'native/up'])).code).to.equal(0);
  });
  after(async () => {
    await ns?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status NAME: 0 active, 3 not running, 4 no such service', async () => {
    expect((await ns.cli(['status', 'native/done'])).code, 'a oneshot that finished well is active').to.equal(0);
    expect((await ns.cli(['status', 'native/up'])).code, 'stopped').to.equal(3);
    expect((await ns.cli(['status', 'native/broken'])).code, 'failed').to.equal(3);
    const ghost = await ns.cli(['status', 'ghost']);
    expect(ghost.code).to.equal(4);
    expect(ghost.stderr).to.match(/ghost: unable to find service/);
    expect((await ns.cli(['status'])).code, 'the whole table').to.equal(0);
  });

  it('is-active and is-failed print systemctl\'s word and answer in the exit code', async () => {
    const a = await ns.cli(['is-active', 'native/done']);
    expect([a.stdout.trim(), a.code]).to.deep.equal(['active', 0]);
    const i = await ns.cli(['is-active', 'native/up']);
    expect([i.stdout.trim(), i.code]).to.deep.equal(['inactive', 3]);
    const f = await ns.cli(['is-failed', 'native/broken']);
    expect([f.stdout.trim(), f.code]).to.deep.equal(['failed', 0]);
    expect((await ns.cli(['is-failed', 'native/done'])).code).to.equal(1);
    expect((await ns.cli(['is-active', 'ghost'])).code).to.equal(4);
  });

  it('suggests the service meant for a typo, and the command meant for a mistyped command', async () => {
    const r = await ns.cli(['status', 'dnoe']);
    expect(r.code).to.equal(4);
    expect(r.stderr).to.match(/dnoe: unable to find service: no such service \(fix: did you mean native\/done\? see metainit status\)/);
    expect((await ns.cli(['restart', 'native/uo'])).stderr).to.match(/did you mean native\/up\?/);
    const c = await metainit(['stauts']);
    expect(c.code).to.equal(2);
    expect(c.stderr.trim()).to.equal('metainit: unable to run stauts: no such command (fix: did you mean "metainit status"? see metainit --help)');
  });

  it('metainit unreachable is its own code (69), not one a service state could give', async () => {
    const r = await metainit(['status', '--socket', join(dir, 'nobody.sock')]);
    expect(r.code).to.equal(69);
  });
});
