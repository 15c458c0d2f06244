/**
 * lsb-hook.test.ts — the hook every LSB init script sources: a script of a service another init
 * holds does not act; one runit holds under the same name is forwarded to `sv`.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lsbHookScript } from '../../../src/manager/lsb-hook.js';

describe('manager: LSB hook (service NAME ACTION goes to the holder)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-lsbhook-'));
    writeFileSync(join(dir, 'hook'), lsbHookScript({ anacron: 'runit/cron' }, ['cron']));
    // a stand-in for runit's sv that says how it was called
    writeFileSync(join(dir, 'sv'), '#!/bin/sh\necho "sv $* SVDIR=$SVDIR"\n');
    chmodSync(join(dir, 'sv'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** an init script named `name` that sources the hook, then acts */
  const script = (name: string, action: string) => {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n. ${join(dir, 'hook')}\necho "$0 acted: $1"\n`);
    chmodSync(file, 0o755);
    return spawnSync(file, [action], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
  };

  it('refuses start-like actions of a script whose role another instance holds, naming the holder; stop and status pass', () => {
    const r = script('anacron', 'start');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('anacron: not acting: its role is held by runit/cron (see metainit roles; fix: metainit start runit/cron)\n');
    expect(script('anacron', 'stop').stdout).to.match(/acted: stop/);
    expect(script('anacron', 'status').stdout).to.match(/acted: status/);
  });

  it('forwards the actions of a script runit holds under the same name to sv', () => {
    expect(script('cron', 'restart').stdout).to.equal('sv restart cron SVDIR=/etc/service\n');
    expect(script('cron.sh', 'status').stdout, 'a .sh name is the service without it').to.equal('sv status cron SVDIR=/etc/service\n');
  });

  it('leaves every other script alone', () => {
    expect(script('ssh', 'start').stdout).to.match(/ssh acted: start/);
  });
});
