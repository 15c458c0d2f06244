/**
 * lsb-hook.ts — `service cron restart` acts through the init that holds cron.
 *
 * Debian's `service` (and an administrator typing /etc/init.d/cron restart) runs the init script
 * directly: no invoke-rc.d, no policy-rc.d. Every LSB script sources /lib/lsb/init-functions,
 * which sources each hook of /lib/lsb/init-functions.d (runit-services forwards to `sv` that way,
 * 40-runit). metainit adds a hook of its own, 01-metainit, to every root it runs sysv or OpenRC
 * scripts of: for a script whose service another instance holds the role of (the names
 * policy-rc.d refuses), the script does not act itself —
 *   - when a runit instance of the same root holds the role under the same name, the action is
 *     forwarded to it (`sv ACTION NAME`), as runit's own hook would;
 *   - otherwise start, restart, reload and friends are refused with the holder's name (exit 0, as
 *     a script whose daemon is disabled); stop and status pass.
 * Runtime-only, like policy-rc.d: the hooks directory is copied to a directory in the root's
 * /run, the hook added, and the copy bind-mounted over /lib/lsb/init-functions.d in metainit's
 * mount namespace; nothing on disk changes and the mount goes with metainit (`removeLsbHook`).
 */
import { shq } from '../base/shell-quote.js';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { MNT_DETACH, MS } from '../base/sys.js';
import { hostPath } from '../supervisor/rootfs.js';
import type { MountSys } from './policy-rc-d.js';

export const HOOKS_DIR = '/lib/lsb/init-functions.d';
const HOOK = '01-metainit';
const MARKER = '# metainit lsb hook';


/** The hook: `refused` names → the holder to name, `forward` names → run by runit's `sv`. */
export function lsbHookScript(refused: Readonly<Record<string, string>>, forward: readonly string[]): string {
  const names = Object.keys(refused).sort();
  const lines = [
    MARKER,
    '# generated from the role registry by metainit; sourced by every LSB init script (see docs/roles.md)',
    '__mi_svc=$0 __mi_act=${1:-}',
    'if [ -n "${__init_d_script_name:-}" ]; then __mi_svc=$__init_d_script_name; fi',
    '__mi_svc=${__mi_svc##*/}; __mi_svc=${__mi_svc%.sh}',
  ];
  if (forward.length > 0) {
    lines.push(`case $__mi_svc in`, `  ${forward.map(shq).join('|')})`, '    case $__mi_act in', '      start|stop|restart|reload|force-reload|try-restart|status) SVDIR=/etc/service exec sv "$__mi_act" "$__mi_svc" ;;', '    esac', '    ;;', 'esac');
  }
  if (names.length > 0) {
    lines.push('case $__mi_svc in');
    for (const n of names) {
      lines.push(`  ${shq(n)})`, '    case $__mi_act in', `      start|restart|reload|force-reload|try-restart|force-restart) echo "$__mi_svc: not acting: its role is held by "${shq(refused[n]!)}" (see metainit roles; fix: metainit $__mi_act "${shq(refused[n]!)}")" >&2; exit 0 ;;`, '    esac', '    ;;');
    }
    lines.push('esac');
  }
  lines.push('unset __mi_svc __mi_act', '');
  return lines.join('\n');
}

/** Install (or rewrite) the hook in `root`; `runDir` is a directory inside the root on a tmpfs. Throws with the reason. */
export function writeLsbHook(root: string, runDir: string, content: string, sys: MountSys): void {
  const target = hostPath(root, HOOKS_DIR);
  if (!existsSync(target) || !statSync(target).isDirectory()) return; // no LSB init-functions: nothing sources a hook
  const copy = hostPath(root, posix.join(runDir, 'init-functions.d'));
  if (existsSync(join(target, HOOK)) && existsSync(join(copy, HOOK))) {
    writeFileSync(join(copy, HOOK), content); // our mount shows this directory: rewritten in place
    return;
  }
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy, { recursive: true, mode: 0o755 });
  for (const f of readdirSync(target)) copyFileSync(join(target, f), join(copy, f));
  writeFileSync(join(copy, HOOK), content, { mode: 0o644 });
  try {
    sys.mount(copy, target, null, MS.BIND, null);
  } catch (e) {
    rmSync(copy, { recursive: true, force: true });
    throw new Error(`lsb hook: unable to bind-mount ${copy} on ${target}: ${(e as Error).message}`);
  }
}

/** Undo writeLsbHook. Never throws. */
export function removeLsbHook(root: string, runDir: string, sys: MountSys): void {
  const target = hostPath(root, HOOKS_DIR);
  if (existsSync(join(target, HOOK))) {
    try {
      sys.umount2(target, MNT_DETACH);
    } catch {
      /* not mounted */
    }
  }
  rmSync(hostPath(root, posix.join(runDir, 'init-functions.d')), { recursive: true, force: true });
}
