/**
 * runit-hook.ts — Debian's runit hands init scripts to `sv`; under metainit the choice is made.
 *
 * Fact. The runit package installs /lib/lsb/init-functions.d/40-runit, which every script sourcing
 * /lib/lsb/init-functions runs first. While a runsvdir runs on the machine (also one of metainit's
 * runit instances), a script whose service has a runit directory too (/etc/sv/NAME, as
 * runit-services installs for cron, rsyslog, dbus …) does nothing and exits 0 — for `start`,
 * `stop` and `status` alike — or forwards the action to `sv`. So a sysv instance given cron by the
 * role registry would report cron running while nothing runs, and `status` would lie.
 *
 * The hook's own escape is `--force-sysv` as the word after the action; the sysv adapter passes it
 * for exactly those scripts (the hook present in the root and /etc/sv/NAME a directory), because
 * metainit's role registry, not the hook, decides which init runs NAME (a script that is vetoed
 * never runs at all). Other scripts get their usual argv.
 */
import { existsSync, statSync } from 'node:fs';
import { hostPath } from '../../supervisor/rootfs.js';

export const RUNIT_LSB_HOOK = '/lib/lsb/init-functions.d/40-runit';
export const FORCE_SYSV = '--force-sysv';

/** The words after the action for script `name` in `root`: [--force-sysv] when runit's hook would take it. */
export function runitHookWords(root: string | undefined, name: string): string[] {
  if (!existsSync(hostPath(root, RUNIT_LSB_HOOK))) return [];
  try {
    return statSync(hostPath(root, `/etc/sv/${name}`)).isDirectory() ? [FORCE_SYSV] : [];
  } catch {
    return [];
  }
}
