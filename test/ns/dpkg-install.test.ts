/**
 * dpkg-install.test.ts — a package installed with dpkg while metainit runs the root.
 *
 * The five-inits case (runit holds the cron role, sysv runs rc scripts on the same root) is
 * booted; then a real .deb — built here with dpkg-deb, shaped as debhelper builds a daemon
 * package: /etc/init.d/anacron with an LSB header, a postinst running `update-rc.d anacron
 * defaults` and `invoke-rc.d anacron start` — is installed with `dpkg -i` inside the running
 * root. anacron would be a second cron: Debian's own maintainer script must be refused by
 * policy-rc.d (metainit refuses every other daemon of a held role, known before the package
 * is), so the script never starts, and one cron runs.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, type Ns } from './harness.js';
import { assertOverlay, inNamespace, nsPath, overlayBoot, ROOT_IN_NS, whyNot, type OverlayBoot } from './testbed-root.js';

/** a .deb as debhelper would make it for a daemon with an init script */
function buildDeb(dir: string): string {
  const pkg = join(dir, 'anacron');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'etc/init.d'), { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: anacron\nVersion: 2.3-99metainit\nArchitecture: all\nMaintainer: metainit tests <tests@invalid>\nDescription: a cron-like daemon (test package)\n');
  writeFileSync(
    join(pkg, 'DEBIAN/postinst'),
    '#!/bin/sh\nset -e\nif [ "$1" = configure ] && [ -x /etc/init.d/anacron ]; then\n\tupdate-rc.d anacron defaults >/dev/null\n\tinvoke-rc.d anacron start || exit 1\nfi\n',
  );
  writeFileSync(
    join(pkg, 'etc/init.d/anacron'),
    [
      '#!/bin/sh',
      '### BEGIN INIT INFO',
      '# Provides:          anacron',
      '# Required-Start:    $remote_fs $syslog $time',
      '# Required-Stop:     $remote_fs $syslog $time',
      '# Default-Start:     2 3 4 5',
      '# Default-Stop:',
      '# Short-Description: Run anacron jobs',
      '### END INIT INFO',
      '. /lib/lsb/init-functions',
      'case "$1" in',
      '  start) echo started > /run/anacron-started ;;',
      '  stop|restart|force-reload) ;;',
      '  status) [ -e /run/anacron-started ] ;;',
      'esac',
      '',
    ].join('\n'),
  );
  for (const f of ['DEBIAN/postinst', 'etc/init.d/anacron']) chmodSync(join(pkg, f), 0o755);
  const deb = join(dir, 'anacron_2.3-99metainit_all.deb');
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', pkg, deb], { stdio: 'pipe' });
  return deb;
}

describe('ns: a package installed with dpkg while metainit runs its root', function () {
  this.timeout(150_000);
  let boot: OverlayBoot | undefined;
  let ns: Ns | undefined;
  let tmp: string;

  before(function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    tmp = mkdtempSync(join(tmpdir(), 'metainit-deb-'));
  });
  after(async () => {
    await ns?.cleanup();
    boot?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses the maintainer script of a second cron: invoke-rc.d is denied, the script never starts, one cron runs', async () => {
    boot = overlayBoot('five-inits');
    const n = (ns = await bootNs({ ...boot.options, bootTimeoutMs: 60_000 }));
    assertOverlay(n);
    await n.waitFor(async () => (await n.status()).find((s) => s.id === 'runit/cron')?.state === 'running', 90_000, 'runit/cron running');
    const deb = buildDeb(tmp);
    // through the merged root (writing into the overlay's upper layer while mounted is undefined)
    execFileSync('cp', [deb, nsPath(n, `${ROOT_IN_NS}/var/tmp/anacron.deb`)]);
    const r = await inNamespace(n, ['chroot', ROOT_IN_NS, 'dpkg', '-i', '/var/tmp/anacron.deb']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout + r.stderr).to.match(/policy-rc\.d denied execution of start/);
    expect(existsSync(nsPath(n, `${ROOT_IN_NS}/run/anacron-started`)), 'the init script never started').to.equal(false);
    expect(n.procs().filter((p) => p.comm === 'cron' && p.state !== 'Z'), 'one cron').to.have.length(1);
    // and an administrator's `service anacron start` (no policy-rc.d on that path) is turned away by the LSB hook
    const svc = await inNamespace(n, ['chroot', ROOT_IN_NS, 'service', 'anacron', 'start']);
    expect(svc.stdout + svc.stderr).to.match(/anacron: not acting: its role is held by runit\/cron/);
    expect(existsSync(nsPath(n, `${ROOT_IN_NS}/run/anacron-started`)), 'still never started').to.equal(false);
  });
});
