/**
 * insserv-conf.ts — the virtual facilities a root defines for its init scripts, as insserv reads them.
 *
 * Debian's /etc/insserv.conf and every file of /etc/insserv.conf.d (packages add their own:
 * `$mydb +postgresql`) map a `$facility` to the scripts and facilities that provide it:
 *
 *   $syslog   +rsyslog +sysklogd +syslog-ng
 *   $remote_fs $local_fs +mountnfs +umountnfs
 *
 * A leading `+` marks an optional member (insserv does not fail when it is missing); under
 * metainit every member is optional. `<interactive>` and other `<…>` lines are insserv's own
 * switches and are ignored, as are comments and blank lines. Files named like backups or package
 * leftovers (`.dpkg-old`, `~`) in insserv.conf.d are skipped, as insserv skips them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFile } from '../../base/regular-file.js';
import { hostPath } from '../../supervisor/rootfs.js';
import { PACKAGE_LEFTOVER } from './lsb.js';

/** `$facility` → its members (script names or other `$facilities`), `+` dropped */
export type Facilities = ReadonlyMap<string, readonly string[]>;

/** Parse the text of one insserv.conf file into `into` (a facility defined twice gets both lists). */
export function parseInsservConf(text: string, into: Map<string, string[]>): void {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(\$[A-Za-z0-9_+.-]+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const members = m[2]!.split(/[\s,]+/).filter((w) => w !== '').map((w) => w.replace(/^\+/, ''));
    into.set(m[1]!, [...(into.get(m[1]!) ?? []), ...members]);
  }
}


/** ROOT/etc/insserv.conf plus ROOT/etc/insserv.conf.d/*; undefined when the root has neither. */
export function readFacilities(root: string): Facilities | undefined {
  const out = new Map<string, string[]>();
  let found = false;
  const main = readRegularFile(hostPath(root, '/etc/insserv.conf'));
  if ('text' in main) {
    found = true;
    parseInsservConf(main.text, out);
  }
  const dir = hostPath(root, '/etc/insserv.conf.d');
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    /* none */
  }
  for (const name of names) {
    if (name.startsWith('.') || PACKAGE_LEFTOVER.test(name)) continue; // as insserv skips them
    const f = readRegularFile(join(dir, name));
    if ('text' in f) {
      found = true;
      parseInsservConf(f.text, out);
    }
  }
  return found ? out : undefined;
}

/** The script names a facility stands for, facilities within it expanded (cycles cut). */
export function expandFacility(facilities: Facilities, name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const out: string[] = [];
  for (const m of facilities.get(name) ?? []) {
    if (m.startsWith('$')) out.push(...expandFacility(facilities, m, seen));
    else out.push(m);
  }
  return [...new Set(out)];
}
