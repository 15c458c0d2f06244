/**
 * tree.ts — what OpenRC keeps on disk in an instance's root, read and written as OpenRC does.
 *
 *   /etc/runlevels/LEVEL/NAME   a service in a runlevel (a sub-directory is a stacked runlevel)
 *   /etc/init.d/NAME            the script: an openrc-run script, or an LSB script (Debian)
 *   /run/openrc/STATE/NAME      the service's state (states.ts), a symlink to its script
 *   /run/openrc/options/NAME/pidfile   the pid file an openrc-run script declared
 *   /run/openrc/softlevel       the current runlevel (empty: none yet, OpenRC says "sysinit")
 * Paths are inside the root; every access goes through hostPath. Writes only ever land in
 * /run/openrc, which is a tmpfs of the root (rootfs.ts), never in /etc.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { regularFileText } from '../../base/regular-file.js';
import { join } from 'node:path';
import { hostPath } from '../../supervisor/rootfs.js';
import { OPENRC_STATE_DIRS, OPENRC_STATES } from './states.js';

/** OpenRC's state directory (RC_SVCDIR) on Debian and Alpine */
export const SVCDIR = '/run/openrc';

export class OpenrcTree {
  constructor(readonly root: string) {}

  private at(p: string): string {
    return hostPath(this.root, p);
  }

  runlevelExists(level: string): boolean {
    return existsSync(this.at(`/etc/runlevels/${level}`));
  }

  /** Services of a runlevel, stacked runlevels (sub-directories) included. */
  runlevelMembers(level: string, seen = new Set<string>()): string[] {
    if (seen.has(level)) return [];
    seen.add(level);
    const dir = this.at(`/etc/runlevels/${level}`);
    return listDir(dir).flatMap((name) => (isDirectory(join(dir, name)) ? this.runlevelMembers(name, seen) : [name]));
  }

  /** Names of /etc/init.d. */
  scripts(): string[] {
    return listDir(this.at('/etc/init.d'));
  }

  scriptExists(name: string): boolean {
    return existsSync(this.at(`/etc/init.d/${name}`));
  }

  scriptText(name: string): string {
    return regularFileText(this.at(`/etc/init.d/${name}`)) ?? '';
  }

  /** An LSB script, not an openrc-run one: `rc-service` does not record its state. */
  isLsb(name: string): boolean {
    return !/^#!\s*\S*\/(openrc-run|runscript)\b/.test(this.scriptText(name));
  }

  /** pid files a service declares: OpenRC's saved option, then a literal one in its script. */
  pidfiles(name: string): string[] {
    const out: string[] = [];
    try {
      const saved = regularFileText(this.at(`${SVCDIR}/options/${name}/pidfile`), 4096);
      if (saved !== undefined) out.push(saved.trim());
    } catch {
      /* no saved option */
    }
    const m = /(?:^\s*pidfile=|\bPIDFILE=|--pidfile[=\s]+)["']?(\/[^\s"'$;]+)/m.exec(this.scriptText(name));
    if (m) out.push(m[1]!);
    return out.filter((p) => p.startsWith('/'));
  }

  /** Create /run/openrc as OpenRC's sysinit would; an existing one (re-exec) is kept as it is. */
  prepareStateDir(): void {
    for (const d of OPENRC_STATE_DIRS) mkdirSync(this.at(`${SVCDIR}/${d}`), { recursive: true, mode: 0o755 });
    if (!existsSync(this.at(`${SVCDIR}/softlevel`))) writeFileSync(this.at(`${SVCDIR}/softlevel`), '');
  }

  /** service → the state directories it is in */
  readStates(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const { dir } of OPENRC_STATES) {
      for (const name of listDir(this.at(`${SVCDIR}/${dir}`))) {
        if (!out.has(name)) out.set(name, new Set());
        out.get(name)!.add(dir);
      }
    }
    return out;
  }

  /** Record `name` as started, or as stopped, the way librc's rc_service_mark does. */
  mark(name: string, started: boolean): void {
    for (const { dir } of OPENRC_STATES) rmSync(this.at(`${SVCDIR}/${dir}/${name}`), { force: true });
    if (started) symlinkSync(`/etc/init.d/${name}`, this.at(`${SVCDIR}/started/${name}`));
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
