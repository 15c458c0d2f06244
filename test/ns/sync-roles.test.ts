/**
 * sync-roles.test.ts — `metainit sync` decides the roles again, before anything new starts.
 *
 * Two native instances at boot; instance a's cron1 claims the cron role (the only claimant).
 * Then a second claimant is installed at run time (b/services.d/cron2.yaml, as a package would
 * drop its service) and `metainit sync` runs: cron2 must be vetoed before it ever runs, and
 * `metainit roles` must say what a fresh boot of the same directory says.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, type Ns } from './harness.js';

interface RoleRow {
  role: string;
  holder: string | null;
  vetoed: string[];
}

describe('ns: sync decides the roles again', function () {
  this.timeout(60_000);
  let dir: string;
  let ns: Ns | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-sync-roles-'));
    for (const inst of ['a', 'b']) {
      mkdirSync(join(dir, 'adapters.d'), { recursive: true });
      writeFileSync(join(dir, 'adapters.d', `${inst}.yaml`), `adapter: native\nservices: ${inst}.d\n`);
      mkdirSync(join(dir, `${inst}.d`));
    }
    writeFileSync(join(dir, 'a.d/cron1.yaml'), 'exec: sleep 1000\nprovides: [cron]\n');
    writeFileSync(join(dir, 'b.d/other.yaml'), 'exec: sleep 1000\n');
  });
  afterEach(async () => {
    await ns?.cleanup();
    ns = undefined;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const roles = async (n: Ns): Promise<RoleRow | undefined> => (JSON.parse((await n.cli(['roles', '--json'])).stdout) as RoleRow[]).find((r) => r.role === 'cron');

  it('vetoes a claimant installed at run time before it runs, and says what the next boot would', async () => {
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/cron1')?.state === 'running', 10_000, 'a/cron1 running');
    expect(await roles(ns)).to.deep.include({ holder: 'a/cron1', vetoed: [] });

    writeFileSync(join(dir, 'b.d/cron2.yaml'), 'exec: sh -c "echo cron2 ran; exec sleep 1000"\nprovides: [cron]\n');
    const r = await ns.cli(['sync']);
    expect(r.code, r.stderr).to.equal(0);
    await ns.waitFor(async () => (await ns!.status()).some((s) => s.id === 'b/cron2'), 5000, 'b/cron2 known');
    await new Promise((res) => setTimeout(res, 500));
    const cron2 = (await ns.status()).find((s) => s.id === 'b/cron2')!;
    expect(cron2).to.include({ state: 'stopped' });
    expect(cron2.reason).to.match(/vetoed/);
    expect(cron2.restarts).to.equal(0);
    expect((await ns.cli(['logs', 'b/cron2'])).stdout, 'cron2 never ran').to.not.include('cron2 ran');
    const live = await roles(ns);
    expect(live).to.deep.include({ holder: 'a/cron1', vetoed: ['b/cron2'] });
    expect((await ns.status()).find((s) => s.id === 'a/cron1')?.state).to.equal('running');
    await ns.cleanup();

    // a fresh boot of the same directory decides the same (cron2 stays in place for it)
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/cron1')?.state === 'running', 10_000, 'a/cron1 running after the reboot');
    expect(await roles(ns)).to.deep.equal(live);
  });

  it('picks up a service dropped in while it runs without a manual sync — and vetoes a second claimant at once', async () => {
    rmSync(join(dir, 'b.d/cron2.yaml'), { force: true });
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/cron1')?.state === 'running', 10_000, 'a/cron1 running');
    writeFileSync(join(dir, 'b.d/extra.yaml'), 'exec: sleep 1000\n');
    writeFileSync(join(dir, 'b.d/cron3.yaml'), 'exec: sh -c "echo cron3 ran; exec sleep 1000"\nprovides: [cron]\n');
    await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'b/extra')?.state === 'running', 10_000, 'b/extra picked up and running');
    const cron3 = (await ns.status()).find((s) => s.id === 'b/cron3')!;
    expect(cron3.state).to.equal('stopped');
    expect(cron3.reason).to.match(/vetoed/);
    expect((await ns.cli(['logs', 'b/cron3'])).stdout).to.not.include('cron3 ran');
    expect(await roles(ns)).to.deep.include({ holder: 'a/cron1', vetoed: ['b/cron3'] });
    expect(ns.console()).to.match(/sync: \S+b\.d changed: re-reading/);
  });

  it('stops a service that loses its role at a sync (a claimant the rules prefer arrived), as the next boot would not start it', async () => {
    rmSync(join(dir, 'b.d/cron3.yaml'), { force: true });
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/cron1')?.state === 'running', 10_000, 'a/cron1 running');
    // within one instance the first claimant by name holds the role: a/acron comes before a/cron1
    writeFileSync(join(dir, 'a.d/acron.yaml'), 'exec: sleep 1000\nprovides: [cron]\n');
    try {
      expect((await ns.cli(['sync'])).code).to.equal(0);
      await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/acron')?.state === 'running', 10_000, 'a/acron running');
      await ns.waitFor(async () => (await ns!.status()).find((s) => s.id === 'a/cron1')?.state === 'stopped', 10_000, 'a/cron1 stopped');
      expect((await ns.status()).find((s) => s.id === 'a/cron1')?.reason).to.match(/vetoed/);
      expect(await roles(ns)).to.deep.include({ holder: 'a/acron', vetoed: ['a/cron1'] });
    } finally {
      rmSync(join(dir, 'a.d/acron.yaml'), { force: true });
    }
  });
});
