/**
 * testbed-root.ts — a writable Debian root for a booted namespace: an overlay of the test bed,
 * mounted inside the namespace before metainit starts, for cases whose instances set
 * `root: /run/test/root` (test/ns/cases-multi/<case>/).
 *
 * Model. harness.ts boots `sh -c '… mount --bind SCRATCH /run/test && exec node run.js boot …'`
 * as PID 1. The overlay has to exist before `metainit boot` loads its instances (adapters read
 * /etc/init.d, /etc/service … of their root at load), so it is laid by a *node shim*: a script
 * named `node`, first on the PATH that bootNs gives the namespace, which — only as PID 1 — does
 *
 *   cp -a CASE/overlay/. /run/test/overlay/upper/          fixture files, by their real paths
 *   mount -t overlay -o lowerdir=TESTBED,upperdir=…/upper,workdir=…/work overlay /run/test/root
 *   CASE/setup.sh /run/test/root                          e.g. rc-update inside the root
 *   MANIFEST of upper/etc > /run/test/etc-before.txt      what /etc looked like at boot
 *
 * and then execs the real node (PID 1 stays the same process). The lower layer — the cached test
 * bed — is never written; upper and work live in the scratch directory (a host directory the
 * harness removes), so the test can still read what landed in the root after the namespace
 * ended. Fixture files are copied into upper by their real paths (etc/runit/runsvdir/default/…,
 * not etc/service/…): nothing ever follows a symlink of the root on the host, where an absolute
 * link would lead into the host's own /etc.
 */
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, type BootOptions, type CliResult, type Ns } from './harness.js';

export const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';
export const CASES_MULTI = join(REPO, 'test/ns/cases-multi');
/** the merged root, inside the namespace (= SCRATCH/root on the host, seen empty from there) */
export const ROOT_IN_NS = '/run/test/root';

/** Lists upper/etc: one line per entry (type, mode, path, link target) and per file content hash. */
const MANIFEST = `cd "$1" && { find etc -printf '%y %m %p %l\\n'; find etc -type f -exec sha256sum {} +; } | LC_ALL=C sort`;

/** programs the cases of cases-multi run in the root */
const NEEDED = ['usr/bin/runsvdir', 'usr/bin/s6-svscan', 'sbin/openrc', 'sbin/rc-update', 'usr/sbin/rsyslogd', 'usr/sbin/cron', 'etc/init.d/hello-sysv', 'etc/init.d/hello-openrc'];

/** Why these tests cannot run here (root, unshare and nsenter, the test bed's `needed` files), or undefined when they can. */
export function whyNot(needed: readonly string[] = NEEDED): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (unshare, mount)';
  for (const tool of ['unshare', 'nsenter']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool}(1) is not available`;
    }
  }
  const missing = needed.filter((p) => !existsSync(join(TESTBED, p)));
  if (missing.length > 0) return `no complete test bed at ${TESTBED} (missing ${missing.join(', ')}; build it with test/testbed/build.sh rootfs or set METAINIT_TESTBED)`;
  return undefined;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface OverlayBoot {
  /** for bootNs: the case's configuration and the PATH with the node shim */
  options: BootOptions;
  /** remove the shim (call after the namespace is gone) */
  dispose(): void;
}

/** Boot options for `cases-multi/<name>`: its config dir, plus the shim laying the overlay. */
export function overlayBoot(name: string, extra: BootOptions = {}): OverlayBoot {
  const caseDir = join(CASES_MULTI, name);
  if (!existsSync(caseDir)) throw new Error(`testbed-root: unable to boot case ${name}: no directory ${caseDir}`);
  const shimDir = mkdtempSync(join(tmpdir(), 'metainit-node-shim-'));
  const shim = `#!/bin/sh
# node shim (test/ns/testbed-root.ts): as PID 1, lay the test bed overlay first; then the real node.
if [ "$$" = 1 ] && ! mountpoint -q ${ROOT_IN_NS}; then
  set -eu
  case=${q(caseDir)} o=/run/test/overlay
  mkdir -p "$o/upper" "$o/work" ${ROOT_IN_NS}
  if [ -d "$case/overlay" ]; then cp -a "$case/overlay/." "$o/upper/"; fi
  mount -t overlay overlay -o lowerdir=${q(TESTBED)},upperdir="$o/upper",workdir="$o/work" ${ROOT_IN_NS}
  if [ -x "$case/setup.sh" ]; then "$case/setup.sh" ${ROOT_IN_NS} >/dev/null; fi
  sh -c ${q(MANIFEST)} manifest "$o/upper" > /run/test/etc-before.txt
  set +eu
fi
exec ${q(process.execPath)} "$@"
`;
  writeFileSync(join(shimDir, 'node'), shim, { mode: 0o755 });
  accessSync(join(shimDir, 'node'), constants.X_OK);
  return {
    options: { ...extra, configDir: caseDir, env: { ...extra.env, PATH: `${shimDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` } },
    dispose: () => rmSync(shimDir, { recursive: true, force: true }),
  };
}

/** Throws unless the shim laid the overlay (it runs only if the harness execs `node` by PATH). */
export function assertOverlay(ns: Ns): void {
  if (!existsSync(join(ns.scratch, 'etc-before.txt'))) {
    throw new Error(`testbed-root: unable to find the overlay at ${ROOT_IN_NS}: the node shim did not run (does harness.ts still exec "node" from the PATH?)`);
  }
}

/** The overlay's upper directory on the host (also after the namespace ended). */
export const upperDir = (ns: Ns): string => join(ns.scratch, 'overlay/upper');

/** A manifest line for a directory of the test bed with its mode unchanged: copied up, not changed. */
function copiedUp(line: string): boolean {
  const m = /^d (\d+) (\S+) $/.exec(line);
  if (!m) return false;
  try {
    const st = statSync(join(TESTBED, m[2]!));
    return st.isDirectory() && (st.mode & 0o7777).toString(8) === m[1];
  } catch {
    return false;
  }
}

/**
 * What changed under the root's /etc since boot: manifest lines added (+) or gone (-), e.g.
 * "+ f 644 etc/x " (type, mode, path, link target) or "+ SHA256  etc/x" (content). Directories
 * of the test bed copied up unchanged (to hold a new entry) are not changes.
 */
export function etcChanges(ns: Ns): string[] {
  const before = new Set(ns.read('etc-before.txt').split('\n').filter(Boolean));
  const now = new Set(execFileSync('sh', ['-c', MANIFEST, 'manifest', upperDir(ns)], { encoding: 'utf8' }).split('\n').filter(Boolean));
  const added = [...now].filter((l) => !before.has(l) && !copiedUp(l));
  return [...added.map((l) => `+ ${l}`), ...[...before].filter((l) => !now.has(l)).map((l) => `- ${l}`)];
}

/** A path inside the namespace (its mount view), as the host can read it while PID 1 lives. */
export const nsPath = (ns: Ns, p: string): string => `/proc/${ns.pid1}/root${p}`;

/** Run argv in the namespace's mount namespace (the machine's file system view). */
export function inNamespace(ns: Ns, argv: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.METAINIT_SOCKET;
  return new Promise((done) => {
    execFile('nsenter', ['--target', String(ns.pid1), '--mount', '--', ...argv], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The metainit CLI run inside the namespace's mount namespace (for offline commands such as check). */
export const metainitInNamespace = (ns: Ns, args: string[]): Promise<CliResult> => inNamespace(ns, [process.execPath, join(REPO, 'bin/run.js'), ...args]);
