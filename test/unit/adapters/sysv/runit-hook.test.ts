/**
 * runit-hook.test.ts — when the sysv adapter adds `--force-sysv` to a script's actions: only
 * where Debian's runit LSB hook is installed AND the service has a runit directory too (the hook
 * would make the script a silent no-op while a runsvdir runs). The vm tier proves the effect with
 * the real hook: sysv's cron runs next to runit-services' /etc/sv/cron.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FORCE_SYSV, RUNIT_LSB_HOOK, runitHookWords } from '../../../../src/adapters/sysv/runit-hook.js';

describe('sysv adapter: runit\'s LSB hook', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'metainit-runit-hook-'));
    mkdirSync(join(root, 'etc/sv/cron'), { recursive: true });
    writeFileSync(join(root, 'etc/sv/rsyslog'), 'not a directory');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('passes nothing extra where the hook is not installed', () => {
    expect(runitHookWords(root, 'cron')).to.deep.equal([]);
  });

  it('passes --force-sysv for a script whose service has a runit directory, and only for it', () => {
    mkdirSync(join(root, 'lib/lsb/init-functions.d'), { recursive: true });
    writeFileSync(join(root, RUNIT_LSB_HOOK), '# the hook\n');
    expect(runitHookWords(root, 'cron')).to.deep.equal([FORCE_SYSV]);
    expect(runitHookWords(root, 'hello-sysv'), 'no /etc/sv/hello-sysv').to.deep.equal([]);
    expect(runitHookWords(root, 'rsyslog'), '/etc/sv/rsyslog is a file').to.deep.equal([]);
  });
});
