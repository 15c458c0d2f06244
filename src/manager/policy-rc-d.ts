/**
 * policy-rc-d.ts — keep Debian package scripts from starting a vetoed service.
 *
 * Model. Debian maintainer scripts never start daemons directly: they call invoke-rc.d (sysv
 * scripts, OpenRC) or deb-systemd-invoke (systemd units), and both first ask the *policy helper*
 * at the fixed path `$DPKG_ROOT/usr/sbin/policy-rc.d` (init-system-helpers: `POLICYHELPER=
 * $DPKG_ROOT/usr/sbin/policy-rc.d`; there is no variable naming another helper — DPKG_ROOT moves
 * the whole dpkg root, not the helper). Exit 101 means "action forbidden", 0 "allowed".
 * invoke-rc.d calls `policy-rc.d [--quiet] ID ACTIONS [RUNLEVEL]`, ACTIONS possibly "(start)";
 * deb-systemd-invoke calls `policy-rc.d UNIT ACTION` with UNIT like "cron.service".
 *
 * So that `apt install cron` does not start a second cron when runit owns the cron role, metainit
 * generates a policy-rc.d that answers 101 for every action but stop/force-stop/status of the
 * vetoed services (`policyRcDScript`) and hands everything else to the helper that was there
 * before, if any (chaining keeps e.g. Docker's "exit 101 for everything").
 *
 * Runtime-only, and what that honestly means (`writePolicyRcD`): the script and a copy of the
 * previous helper live in `runDir`, a path *inside the root* on its /run tmpfs; the script is
 * bind-mounted over ROOT/usr/sbin/policy-rc.d in metainit's mount namespace, so the file on disk
 * is never written and the mount disappears with metainit (or `removePolicyRcD`). When the root
 * has no policy-rc.d, a bind mount needs a target: metainit creates an EMPTY, non-executable file
 * there (the one write to the root filesystem — never under /etc; invoke-rc.d ignores a
 * non-executable helper, so a leftover after a crash is inert) and deletes it again on removal.
 */
import { shq } from '../base/shell-quote.js';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { MNT_DETACH, MS, type Sys } from '../base/sys.js';
import { hostPath } from '../supervisor/rootfs.js';
import { roleOfService, servicesOfRole } from '../roles/known-services.js';
import { METAINIT, type RoleDecision } from '../roles/registry.js';

/** Where invoke-rc.d and deb-systemd-invoke look for the policy helper (inside the root). */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
/** First comment line of every generated script: how metainit recognises its own mount. */
export const MARKER = '# metainit policy-rc.d';
/** Adapter kinds whose services Debian package scripts start through invoke-rc.d / deb-systemd-invoke. */
export const INVOKE_RC_D_KINDS: readonly string[] = ['sysv', 'openrc', 'systemd'];

export type MountSys = Pick<Sys, 'mount' | 'umount2'>;

export interface PolicyRcDInstall {
  /** how the helper was made effective */
  mode: 'bind-existing' | 'bind-placeholder' | 'updated';
  /** host path of the generated script */
  script: string;
  /** host path it is mounted on (ROOT/usr/sbin/policy-rc.d) */
  target: string;
  /** in-root path of the previous helper the script chains to, or null */
  chain: string | null;
}

const baseName = (name: string): string => name.replace(/\.service$/, '');

/**
 * The policy-rc.d text: 101 for any action but stop/force-stop/status on a vetoed name (matched
 * as NAME and NAME.service); otherwise the answer of `chain` (in-root path) when it is executable;
 * otherwise what invoke-rc.d decides when there is no helper at all: 101 for a parenthesised
 * action such as "(start)" (the script is not enabled in the runlevel; a helper answering 0 would
 * override that) and 101 if `initPath` (in-root, /sbin/init) is missing ("no init system,
 * defaulting to block"), else 0. Installing the helper therefore never allows more than before.
 * POSIX sh; prints nothing (invoke-rc.d reads stdout as a fallback action list).
 */
export function policyRcDScript(vetoedNames: readonly string[], chain: string | null, initPath = '/sbin/init', holders: Readonly<Record<string, string>> = {}): string {
  const bases = [...new Set(vetoedNames.map(baseName))].sort();
  for (const n of bases) {
    if (n === '' || /[\n\0]/.test(n)) throw new Error(`policy-rc.d: unable to write policy: ${JSON.stringify(n)} is not a service name`);
  }
  const lines = [
    '#!/bin/sh',
    `${MARKER} — generated from the role registry; do not edit (see docs/roles.md).`,
    '# Runtime-only: bind-mounted over /usr/sbin/policy-rc.d by metainit; the file on disk is untouched.',
    '# Vetoed services (another instance holds their role, see `metainit roles`) may not be started.',
    '# Called as: policy-rc.d [--quiet] ID ACTIONS [RUNLEVEL]. Exit 101 = forbidden, 0 = allowed.',
    'set -f',
    'id= actions=',
    'for arg in "$@"; do',
    '  case $arg in',
    '    --*) ;;',
    '    *) if [ -z "$id" ]; then id=$arg; elif [ -z "$actions" ]; then actions=$arg; fi ;;',
    '  esac',
    'done',
  ];
  if (bases.length > 0) {
    lines.push(
      'case $id in',
      // the holder's own supervisor asks under the same name (runit's invoke-run): it is allowed
      ...bases.filter((n) => holders[n] !== undefined).flatMap((n) => [`  ${shq(n)}|${shq(`${n}.service`)})`, `    [ "\${METAINIT_INSTANCE:-}" != ${shq(holders[n]!)} ] || exit 0`, '    ;;']),
      'esac',
      'case $id in',
      `  ${bases.flatMap((n) => [shq(n), shq(`${n}.service`)]).join('|')})`,
      '    [ -n "$actions" ] || exit 101',
      '    for action in $actions; do',
      '      case $action in',
      '        stop|force-stop|status) ;;',
      '        *) exit 101 ;;',
      '      esac',
      '    done',
      '    ;;',
      'esac',
    );
  }
  if (chain !== null) lines.push(`chain=${shq(chain)}`, 'if [ -x "$chain" ]; then exec "$chain" "$@"; fi');
  lines.push(
    '# no executable previous helper: keep invoke-rc.d\'s own answer. "(start)" means its runlevel',
    '# links already said no (0 would override that); no init system means it blocks everything.',
    'case $actions in',
    "  '('*) exit 101 ;;",
    'esac',
    `[ -e ${shq(initPath)} ] || exit 101`,
    'exit 0',
    '',
  );
  return lines.join('\n');
}

/** First bytes of a file, or null when it does not exist. */
function head(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(512);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function files(root: string, runDir: string): { dir: string; script: string; orig: string; flag: string; target: string } {
  const dir = hostPath(root, runDir);
  return { dir, script: join(dir, 'policy-rc.d'), orig: join(dir, 'policy-rc.d.orig'), flag: join(dir, 'policy-rc.d.placeholder'), target: hostPath(root, POLICY_RC_D) };
}

/**
 * Install (or update) the generated policy-rc.d for `root`. `runDir` is a directory path INSIDE
 * the root on a tmpfs (e.g. /run/metainit/policy-rc.d; for a chrooted root this is the root's own
 * /run, mounted by rootfs.ts — call this after prepareRoot). Idempotent: when the mount is already
 * in place the script is rewritten in place and the mount kept. Throws
 * `policy-rc.d: unable to install …: reason`.
 */
export function writePolicyRcD(root: string, runDir: string, vetoedNames: readonly string[], sys: MountSys, holders: Readonly<Record<string, string>> = {}): PolicyRcDInstall {
  const inRootDir = posix.resolve('/', runDir);
  if (inRootDir === '/etc' || inRootDir.startsWith('/etc/')) {
    throw new Error(`policy-rc.d: unable to install into ${runDir}: nothing under /etc may change (fix: use a directory under /run)`);
  }
  const f = files(root, runDir);
  const chainPath = posix.join(inRootDir, 'policy-rc.d.orig');
  const fail = (what: string, e: unknown): Error => new Error(`policy-rc.d: unable to ${what}: ${(e as Error).message}`);
  try {
    mkdirSync(f.dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw fail(`create ${f.dir}`, e);
  }
  const write = (chain: string | null): void => {
    writeFileSync(f.script, policyRcDScript(vetoedNames, chain, '/sbin/init', holders), { mode: 0o755 });
    chmodSync(f.script, 0o755);
  };

  let current = head(f.target);
  if (current?.includes(MARKER)) {
    if (existsSync(f.script)) {
      // our bind mount shows this very inode: rewriting it in place updates the live helper
      write(existsSync(f.orig) ? chainPath : null);
      return { mode: 'updated', script: f.script, target: f.target, chain: existsSync(f.orig) ? chainPath : null };
    }
    try {
      sys.umount2(f.target, MNT_DETACH); // a stale mount of ours whose source is gone
    } catch (e) {
      throw fail(`unmount the stale ${f.target}`, e);
    }
    current = head(f.target);
  }

  let mode: PolicyRcDInstall['mode'];
  let chain: string | null = null;
  rmSync(f.orig, { force: true });
  if (current === null) {
    try {
      writeFileSync(f.target, '', { flag: 'wx', mode: 0o644 });
    } catch (e) {
      throw fail(`create the mount point ${f.target}`, e);
    }
    writeFileSync(f.flag, `${f.target}\n`);
    mode = 'bind-placeholder';
  } else {
    copyFileSync(f.target, f.orig); // keeps the mode: a non-executable helper stays ignored
    chain = (statSync(f.orig).mode & 0o111) !== 0 ? chainPath : null;
    if (chain === null) rmSync(f.orig, { force: true });
    mode = 'bind-existing';
  }
  write(chain);
  try {
    sys.mount(f.script, f.target, null, MS.BIND, null);
  } catch (e) {
    if (mode === 'bind-placeholder') {
      rmSync(f.target, { force: true });
      rmSync(f.flag, { force: true });
    }
    throw fail(`bind-mount ${f.script} on ${f.target}`, e);
  }
  return { mode, script: f.script, target: f.target, chain };
}

/** Undo `writePolicyRcD`: unmount our helper and delete the placeholder we created. Never throws. */
export function removePolicyRcD(root: string, runDir: string, sys: MountSys): void {
  const f = files(root, runDir);
  if (head(f.target)?.includes(MARKER)) {
    try {
      sys.umount2(f.target, MNT_DETACH);
    } catch {
      /* not mounted (any more) */
    }
  }
  if (existsSync(f.flag)) {
    try {
      if (statSync(f.target).size === 0) unlinkSync(f.target);
    } catch {
      /* already gone */
    }
  }
  for (const p of [f.flag, f.script, f.orig]) rmSync(p, { force: true });
}

/**
 * Which names each root's policy-rc.d must refuse: vetoed services of the instances that package
 * scripts reach (sysv, OpenRC, systemd), grouped by root — minus names that a role holder of
 * such an instance in the same root also answers to (never block the owner).
 */
export function policyRcDNames(decision: RoleDecision, instances: ReadonlyArray<{ name: string; kind: string; root: string }>): Map<string, string[]> {
  const byRoot = new Map<string, { vetoed: Set<string>; held: Set<string> }>();
  for (const inst of instances) {
    if (!INVOKE_RC_D_KINDS.includes(inst.kind)) continue;
    const root = posix.resolve(inst.root);
    const entry = byRoot.get(root) ?? { vetoed: new Set<string>(), held: new Set<string>() };
    byRoot.set(root, entry);
    for (const s of decision.vetoed.get(inst.name) ?? []) entry.vetoed.add(baseName(s));
    for (const g of decision.grants.values()) if (g && g !== METAINIT && g.instance === inst.name) entry.held.add(baseName(g.service));
    // a package installed later may bring another daemon for a held role (anacron next to the
    // cron holder): its postinst's invoke-rc.d asks before metainit has even seen the script
    for (const [role, g] of decision.grants) if (g && g !== METAINIT) for (const n of servicesOfRole(role)) entry.vetoed.add(n);
  }
  return new Map([...byRoot].map(([root, e]) => [root, [...e.vetoed].filter((n) => !e.held.has(n)).sort()]));
}

/**
 * Per root, the refused names that a role holder of another kind answers to, with the holder's
 * instance: runit's invoke-run asks policy-rc.d before starting a service, so the runit cron
 * holder would be refused by the veto of a sysv or systemd `cron` in the same root. The scan-dir
 * adapters give their supervisors METAINIT_INSTANCE=<instance>; the policy lets that caller pass.
 */
export function policyRcDHolders(decision: RoleDecision, instances: ReadonlyArray<{ name: string; kind: string; root: string }>): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const inst of instances) {
    const root = posix.resolve(inst.root);
    for (const g of decision.grants.values()) {
      if (!g || g === METAINIT || g.instance !== inst.name) continue;
      const entry = out.get(root) ?? {};
      entry[baseName(g.service)] = inst.name;
      out.set(root, entry);
    }
  }
  return out;
}

/**
 * Per root, what the LSB hook (lsb-hook.ts) does: each name policy-rc.d refuses → the holder it
 * names, and the names a runit instance of that same root holds under the same name (their
 * scripts' actions go to `sv`).
 */
export function lsbHookPlan(decision: RoleDecision, instances: ReadonlyArray<{ name: string; kind: string; root: string }>, namesByRoot = policyRcDNames(decision, instances)): Map<string, { refused: Record<string, string>; forward: string[] }> {
  const out = new Map<string, { refused: Record<string, string>; forward: string[] }>();
  const kindOf = new Map(instances.map((i) => [i.name, { kind: i.kind, root: posix.resolve(i.root) }]));
  const holderOfName = (root: string, name: string): { id: string; runitHere: boolean } | undefined => {
    const role = roleOfService(name) ?? [...decision.vetoedBy].find(([id]) => baseName(id.slice(id.indexOf('/') + 1)) === name)?.[1];
    const g = role ? decision.grants.get(role) : undefined;
    if (!g || g === METAINIT) return undefined;
    const h = kindOf.get(g.instance);
    return { id: `${g.instance}/${g.service}`, runitHere: h?.kind === 'runit' && h.root === root && baseName(g.service) === name };
  };
  for (const [root, names] of namesByRoot) {
    const entry = { refused: {} as Record<string, string>, forward: [] as string[] };
    for (const n of names) {
      const h = holderOfName(root, n);
      if (!h) continue;
      if (h.runitHere) entry.forward.push(n);
      else entry.refused[n] = h.id;
    }
    out.set(root, entry);
  }
  return out;
}
