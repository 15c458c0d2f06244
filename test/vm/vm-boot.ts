/**
 * vm-boot.ts — one boot of the vm image in qemu, and what the tests read back from it.
 *
 * Model. build-image.sh makes the image once per test run (`image()` memoises it). Each boot
 * works on its own throw-away sparse copy, written in place (boot.sh -w), so the file system the
 * guest leaves behind can be checked afterwards (`fsState`, `readFile` with e2fsprogs, never by
 * mounting it on the host). The serial console is parsed into metainit's own log lines
 * (`<ISO time> metainit: [warning: |error: ]<text>`) and the raw lines; kernel messages may land
 * in the middle of a console line, so lines are searched, not anchored. The last console of each
 * named boot is kept as $METAINIT_VM_WORKDIR/logs/vm-test-<name>.log for a look after a failure.
 *
 * `prepare()` decides whether the tier can run: it skips (or fails, with METAINIT_VM_REQUIRED=1)
 * when not root, without qemu-system-x86_64 (Debian package qemu-system-x86) or e2fsprogs, or
 * when the image cannot be built. Kernel, initramfs and qemu runner are the repository's own test
 * bed (test/testbed/: build.sh, boot.sh); the kernel is taken from the test bed's work directory,
 * the one above $METAINIT_TESTBED.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BOOT_SH = join(REPO, 'test/testbed/boot.sh');
/** build.sh's WORKDIR: kernel/ for boot.sh (build-image.sh derives it the same way) */
const TESTBED_DIR = dirname(process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs');
const WORKDIR = process.env.METAINIT_VM_WORKDIR ?? '/var/cache/metainit-vm';
const REQUIRED = process.env.METAINIT_VM_REQUIRED === '1';
/** generous for TCG software emulation (a boot hosting systemd, and its poweroff, takes ~2 min there) */
const BOOT_TIMEOUT_S = 420;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** process groups of boot.sh runs still going (ended by `cleanup` if a hook timed out) */
const running = new Set<number>();

/** Run a command to its end, async (mocha's timeouts keep working), in its own process group. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) running.add(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise<Run>((resolve) => {
    child.on('error', (e) => resolve({ code: null, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => {
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Why the vm tier cannot run here, or undefined when it can. */
function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (test/testbed/build.sh uses chroot and mkfs)';
  if (spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return 'qemu-system-x86_64 is not installed (fix: apt-get install qemu-system-x86)';
  }
  for (const tool of ['e2fsck', 'dumpe2fs', 'debugfs']) {
    if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) return `${tool} is not installed (fix: apt-get install e2fsprogs)`;
  }
  return undefined;
}

type Built = { image: string } | { skip: string } | { fail: string };
let built: Promise<Built> | undefined;

/** build-image.sh, then metainit check of the guest config: once per test run. */
async function buildOnce(): Promise<Built> {
  const b = await run(join(REPO, 'test/vm/build-image.sh'), [], { ...process.env, METAINIT_VM_WORKDIR: WORKDIR });
  const image = b.stdout.trim().split('\n').pop() ?? '';
  if (b.code !== 0 || !existsSync(image)) {
    return { skip: `the vm image cannot be built (test/vm/build-image.sh exit ${b.code}):\n${b.stderr.trim().split('\n').slice(-8).join('\n')}` };
  }
  // The guest config must pass `metainit check`, or the VM would only show a confusing boot.
  // check reads each instance's root (runsvdir, /etc/init.d, unit files …): point it at the tree
  // the guest sees as / — the test bed's root with the image's overlay (build-image.sh) on top,
  // as a read-only overlay mount in a mount namespace of its own — with a copy of the config
  // whose instance files say root: that tree.
  const copy = mkdtempSync(join(tmpdir(), 'metainit-guest-config-'));
  try {
    cpSync(join(REPO, 'test/vm/guest-config'), copy, { recursive: true });
    const guestRoot = join(copy, '.root');
    mkdirSync(guestRoot);
    for (const f of readdirSync(join(copy, 'adapters.d'))) appendFileSync(join(copy, 'adapters.d', f), `\nroot: ${guestRoot}\n`);
    const lower = `${join(WORKDIR, 'overlay')}:${join(TESTBED_DIR, 'rootfs')}`;
    const script = 'mount -t overlay -o ro,lowerdir="$1" overlay "$2" || exit 125; shift 2; exec "$@"';
    const check = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'guest-root', lower, guestRoot, process.execPath, join(REPO, 'bin/run.js'), 'check', '--config-dir', copy]);
    if (check.code !== 0) return { fail: `metainit check test/vm/guest-config (root: the image's tree):\n${check.stdout}${check.stderr}` };
    if (/^warning: /m.test(check.stdout + check.stderr)) return { fail: `metainit check test/vm/guest-config warns (root: the image's tree):\n${check.stdout}${check.stderr}` };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
  return { image };
}

/** For a before() hook: skip with the reason when the tier cannot run; returns the image path. */
export async function prepare(ctx: Mocha.Context): Promise<string> {
  const skip = (reason: string): never => {
    if (REQUIRED) throw new Error(`vm: unable to run: ${reason}`);
    console.log(`      skipped: ${reason}`);
    return ctx.skip();
  };
  const reason = whyNot();
  if (reason) return skip(reason);
  const b = await (built ??= buildOnce());
  if ('fail' in b) throw new Error(b.fail);
  if ('skip' in b) return skip(b.skip);
  return b.image;
}

// ------------------------------------------------------------------------------------ a boot

/** One line of metainit's own log. */
export interface LogLine {
  at: number;
  /** text after `metainit: ` (warnings and errors keep their `warning: ` / `error: ` prefix) */
  text: string;
  /** line number on the console (for ordering) */
  index: number;
}

export interface Boot {
  /** boot.sh exit status (0: marker seen and the VM stopped by itself) and summary line */
  code: number | null;
  summary: string;
  /** console lines, ANSI colours and CRs removed */
  lines: string[];
  log: LogLine[];
  /** the image copy the guest wrote */
  image: string;
  /** where the console is kept after the run */
  consoleCopy: string;
  /** the first log line matching re; fails the test, naming the console file, when none does */
  find(re: RegExp): LogLine;
  /** every log line's text, one per line */
  text(): string;
}

const LOG_RE = /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) metainit: (.*)$/;
const ANSI_RE = /\x1b\[[0-9;]*m/g;

const scratches: Array<{ dir: string; keep: string }> = [];

export interface BootOptions {
  /** names the kept console file */
  name: string;
  /** console marker boot.sh waits for */
  marker: string;
  /** extra kernel command line words */
  cmdline?: string[];
  /** called once the marker is on the console, with a function sending a qemu monitor command */
  onMarker?: (monitor: (command: string) => Promise<string>) => Promise<void>;
}

/** Boot a fresh copy of `image` until the guest stops by itself (or the timeout). */
export async function bootCopy(image: string, opts: BootOptions): Promise<Boot> {
  const dir = mkdtempSync(join(tmpdir(), 'metainit-vm-'));
  const consoleCopy = join(WORKDIR, 'logs', `vm-test-${opts.name}.log`);
  scratches.push({ dir, keep: consoleCopy });
  const copy = join(dir, 'disk.ext4');
  const consoleFile = join(dir, 'console.log');
  const monitorSocket = join(dir, 'monitor.sock');
  const cp = await run('cp', ['--sparse=always', image, copy]);
  expect(cp.code, `cp ${image}: ${cp.stderr}`).to.equal(0);

  const args = ['-I', copy, '-w', '-i', '/sbin/metainit', '-m', opts.marker, '-t', String(BOOT_TIMEOUT_S), '-l', consoleFile];
  if (opts.onMarker) args.push('-q', `-monitor unix:${monitorSocket},server=on,wait=off`);
  if (opts.cmdline?.length) args.push('--', ...opts.cmdline);
  const done = run(BOOT_SH, args, { ...process.env, WORKDIR: TESTBED_DIR });
  if (opts.onMarker) {
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished && !(existsSync(consoleFile) && readFileSync(consoleFile, 'utf8').includes(opts.marker))) await sleep(200);
    if (!finished) await opts.onMarker((command) => monitor(monitorSocket, command));
  }
  const b = await done;
  const lines = (existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '').replace(ANSI_RE, '').replace(/\r/g, '').split('\n');
  const log: LogLine[] = [];
  lines.forEach((l, index) => {
    const m = LOG_RE.exec(l);
    if (m) log.push({ at: Date.parse(m[1]!), text: m[2]!, index });
  });
  return {
    code: b.code,
    summary: b.stdout.trim().split('\n').pop() ?? '',
    lines,
    log,
    image: copy,
    consoleCopy,
    find(re: RegExp): LogLine {
      const hit = log.find((l) => re.test(l.text));
      expect(hit, `no metainit line matching ${re} on the console (${consoleCopy})`).to.not.equal(undefined);
      return hit!;
    },
    text: () => log.map((l) => l.text).join('\n'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Send one command to qemu's human monitor on a unix socket; resolves with what it printed. */
function monitor(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let sent = false;
    const c = createConnection(socket);
    c.on('error', (e) => reject(new Error(`qemu monitor: unable to send "${command}": ${e.message}`)));
    c.on('data', (b: Buffer) => {
      out += b.toString();
      // first prompt: send the command; the next prompt: it has run
      const prompts = (out.match(/\(qemu\)/g) ?? []).length;
      if (!sent && prompts === 1) {
        sent = true;
        c.write(`${command}\n`);
      } else if (prompts >= 2) c.end(() => resolve(out));
    });
  });
}

/** End boots a timed-out hook left running; keep the consoles, remove the image copies. */
export function cleanup(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const s of scratches.splice(0)) {
    if (existsSync(join(s.dir, 'console.log'))) copyFileSync(join(s.dir, 'console.log'), s.keep);
    rmSync(s.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------- the file system left

/** e2fsck -fn (read-only check) and the superblock: clean, and does the journal need recovery? */
export async function fsState(image: string): Promise<{ fsck: Run; clean: boolean; needsRecovery: boolean }> {
  const fsck = await run('e2fsck', ['-fn', image]);
  const head = (await run('dumpe2fs', ['-h', image])).stdout;
  const features = head.split('\n').find((l) => l.startsWith('Filesystem features:')) ?? '';
  return { fsck, clean: /^Filesystem state:\s+clean$/m.test(head), needsRecovery: features.includes('needs_recovery') };
}

/** A file of the image, read with debugfs (the image is never mounted on the host). */
export async function readFile(image: string, path: string): Promise<string> {
  return (await run('debugfs', ['-R', `cat ${path}`, image])).stdout;
}

/** How long the boot took (printed for the report; not asserted). */
export function timing(boot: Boot, upRe: RegExp, requestRe: RegExp): string {
  const summary = /accel=(\S+).*marker_at=(\S+) .*elapsed=(\S+)/.exec(boot.summary);
  const at = (re: RegExp): number | undefined => boot.log.find((l) => re.test(l.text))?.at;
  const d = (a?: number, b?: number): string => (a !== undefined && b !== undefined ? `${((b - a) / 1000).toFixed(2)} s` : '?');
  const start = at(/starting as pid 1/);
  return (
    `${summary?.[1] ?? '?'}: marker ${summary?.[2] ?? '?'}, stopped ${summary?.[3] ?? '?'} after qemu started;` +
    ` in the guest: pid 1 → services up ${d(start, at(upRe))}, shutdown request → reboot(2) ${d(at(requestRe), at(/^stage 4: (poweroff|reboot|halt)$/))}`
  );
}
