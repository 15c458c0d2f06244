/**
 * run.ts — the real machine's boot benchmark (issue 8): `node dist/bench/vm/run.js` after
 * `npm run build`, as root, with qemu-system-x86 and the test bed (about 10 minutes under TCG).
 *
 * The vm tier's image (test/vm/build-image.sh: the test bed with metainit, guest-config and
 * guest-root) is booted BOOTS times with each init, alternating, same kernel, same qemu settings
 * (boot.sh: 2 vCPUs, 1 GiB, TCG or KVM as the machine allows), the image never written:
 *
 *   metainit   init=/sbin/metainit hosting systemd (multi-user.target), runit, sysv and native
 *              (guest-config); all-ready = native/up-marker's METAINIT-VM-UP, which waits for
 *              every instance (systemd: READY=1 and its SystemState)
 *   systemd    init=/lib/systemd/systemd alone on the same image, booting the same units to
 *              multi-user.target; all-ready = vm-ready-marker.service's METAINIT-VM-SYSTEMD-READY
 *              (After=multi-user.target; with metainit-vm.bench it then powers off)
 *
 * Times are console stamps (timed-boot.ts) relative to qemu's start; "init started" is the
 * kernel's line that the root file system is mounted (the test bed's initramfs switches root and
 * execs init= right after it). Per instance under metainit: when its last service
 * reached running/ok (systemd: "systemd reached multi-user.target"). The goal is metainit's
 * median ≤ 1.10 × systemd's. Results replace the part of docs/benchmarks.md between
 * `<!-- vm-boot:begin -->` and `<!-- vm-boot:end -->`.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { loadavg } from 'node:os';
import { machineFacts, writeBetween } from '../report.js';
import { fmt, median, ROOT, table } from '../util.js';
import { timedBoot, type TimedBoot } from './timed-boot.js';

const BOOTS = 3;
const GOAL = 1.1;
const BEGIN = '<!-- vm-boot:begin -->';
const END = '<!-- vm-boot:end -->';
const TESTBED_DIR = dirname(process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs');
const INSTANCES = ['native', 'runit', 'sysv', 'systemd'];
/** the kernel's line for root=/dev/vda mounted: the test bed's initramfs execs init= right after it */
const ROOT_MOUNTED = /EXT4-fs \(vda\): mounted filesystem/;

interface Measured {
  /** qemu start → all ready, ms */
  ready: number;
  /** qemu start → the kernel runs init, ms */
  init: number;
  /** metainit only: init started → each instance ready, and → metainit's first log line */
  perInstance: Record<string, number>;
  nodeUp?: number;
}

const s = (ms: number | undefined): string => (ms === undefined ? '–' : fmt(ms / 1000, 2));

function need(what: string, at: number | undefined, b: TimedBoot): number {
  if (at === undefined) throw new Error(`bench vm: unable to find ${what} on the console (boot.sh: ${b.summary})`);
  return at;
}

/** Per instance: the stamp of its last service line "X/svc: running|ok" before the UP marker. */
function instanceReady(b: TimedBoot, up: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of b.lines) {
    const m = / metainit: (\w+)\/(\S+): (running|ok)\b/.exec(l.text);
    if (!m || l.at > up || m[1] === 'systemd' || m[2] === 'up-marker') continue;
    out[m[1]!] = Math.max(out[m[1]!] ?? 0, l.at);
  }
  const sd = b.at(/ metainit: systemd: systemd reached multi-user\.target/);
  if (sd !== undefined) out.systemd = sd;
  return out;
}

async function bootMetainit(image: string): Promise<Measured> {
  const b = await timedBoot({ bootSh: join(ROOT, 'test/testbed/boot.sh'), testbedDir: TESTBED_DIR, image, init: '/sbin/metainit', marker: 'METAINIT-VM-UP', cmdline: [], timeoutS: 600 });
  const ready = need('METAINIT-VM-UP', b.at(/^METAINIT-VM-UP/), b);
  const init = need('the root mounted', b.at(ROOT_MOUNTED), b);
  const per = instanceReady(b, ready);
  for (const i of INSTANCES) need(`${i} ready`, per[i], b);
  const perInstance = Object.fromEntries(INSTANCES.map((i) => [i, per[i]! - init]));
  const node = b.at(/ metainit: metainit \S+ starting as pid 1/);
  return { ready, init, perInstance, ...(node !== undefined ? { nodeUp: node - init } : {}) };
}

async function bootSystemd(image: string): Promise<Measured> {
  const b = await timedBoot({ bootSh: join(ROOT, 'test/testbed/boot.sh'), testbedDir: TESTBED_DIR, image, init: '/lib/systemd/systemd', marker: 'METAINIT-VM-SYSTEMD-READY', cmdline: ['metainit-vm.bench'], timeoutS: 600 });
  const ready = need('METAINIT-VM-SYSTEMD-READY', b.at(/METAINIT-VM-SYSTEMD-READY/), b);
  const init = need('the root mounted', b.at(ROOT_MOUNTED), b);
  return { ready, init, perInstance: {} };
}

function accel(): string {
  const kvm = spawnSync('sh', ['-c', '[ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE "vmx|svm" /proc/cpuinfo'], { stdio: 'ignore' }).status === 0;
  return process.env.ACCEL && process.env.ACCEL !== 'auto' ? process.env.ACCEL : kvm ? 'kvm' : 'tcg';
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('bench vm: unable to start: needs root (test/vm/build-image.sh)');
    return 2;
  }
  const built = spawnSync('bash', [join(ROOT, 'test/vm/build-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const image = built.stdout.trim().split('\n').pop() ?? '';
  if (built.status !== 0 || !image) {
    console.error('bench vm: unable to build the image (test/vm/build-image.sh failed; see above)');
    return 2;
  }
  const t0 = Date.now();
  const started = new Date();
  const load0 = loadavg();
  const m: Measured[] = [];
  const sd: Measured[] = [];
  for (let i = 0; i < BOOTS; i++) {
    m.push(await bootMetainit(image));
    console.error(`bench vm: metainit boot ${i + 1}: all ready ${s(m[i]!.ready)} s`);
    sd.push(await bootSystemd(image));
    console.error(`bench vm: systemd boot ${i + 1}: all ready ${s(sd[i]!.ready)} s`);
  }
  const ratio = median(m.map((x) => x.ready)) / median(sd.map((x) => x.ready));
  const ratioInit = median(m.map((x) => x.ready - x.init)) / median(sd.map((x) => x.ready - x.init));
  const verdict = ratio <= GOAL ? `goal ≤ ${GOAL.toFixed(2)}× met` : `goal ≤ ${GOAL.toFixed(2)}× not met`;
  const medPer = (k: string): number => median(m.map((x) => x.perInstance[k]!));
  const sdBoot = median(sd.map((x) => x.ready - x.init));
  const lines = [
    BEGIN,
    '## A real machine: boot to all-ready (issue 8)',
    '',
    'Produced by `npm run build && node dist/bench/vm/run.js` (as root; code: bench/vm/run.ts, bench/vm/timed-boot.ts) on:',
    '',
    ...machineFacts(ROOT, started, (Date.now() - t0) / 1000, load0),
    `- qemu: ${accel()}, 2 vCPUs, 1 GiB (test/testbed/boot.sh), the vm tier's image (test/vm/build-image.sh), never written (-snapshot)`,
    '',
    `**${verdict}**: ${fmt(ratio, 2)}× (median of ${BOOTS} boots each, qemu start → all ready: metainit ${s(median(m.map((x) => x.ready)))} s, systemd alone ${s(median(sd.map((x) => x.ready)))} s; from the kernel starting init: ${fmt(ratioInit, 2)}×).`,
    '',
    'metainit: `init=/sbin/metainit` hosting systemd (multi-user.target over the machine\'s /), runit (runit-services\' rsyslog and others), sysv (cron, hello-sysv) and native services — test/vm/guest-config; all ready = native/up-marker, which waits for every instance. systemd: `init=/lib/systemd/systemd` alone on the same image, the same units to multi-user.target (it also runs cron, rsyslog and ssh itself, and udev and a getty that metainit\'s machine has not); all ready = vm-ready-marker.service (After=multi-user.target). Times are console stamps (50 ms polls) after qemu\'s start.',
    '',
    ...table(
      ['boot', 'metainit: qemu → all ready s', 'qemu → init started s', 'init → metainit\'s first line s', 'systemd alone: qemu → all ready s', 'qemu → init started s'],
      m.map((x, i) => [i + 1, s(x.ready), s(x.init), s(x.nodeUp), s(sd[i]!.ready), s(sd[i]!.init)]),
    ),
    '',
    'Under metainit, from the kernel starting init to each instance ready (median):',
    '',
    ...table(['instance', 'ready after init started s', 'runs of the 3'], INSTANCES.map((k) => [k, s(medPer(k)), m.map((x) => s(x.perInstance[k])).join(' / ')])),
    '',
    `Where the time goes: node starts and metainit prints its first line ${s(median(m.map((x) => x.nodeUp ?? 0)))} s after the kernel ran init (the Node runtime under ${accel()}: its start is the fixed price of a PID 1 in TypeScript); native, runit and sysv are up ${s(Math.max(medPer('native'), medPer('runit'), medPer('sysv')))} s after init; systemd starts only after the logging holder (runit's rsyslog: \`after: [role:logging]\`) and reaches multi-user.target at ${s(medPer('systemd'))} s — its own boot inside its namespaces is the bulk of the time, as it is for systemd alone (${s(sdBoot)} s from the kernel starting it to multi-user.target).`,
    END,
  ];
  const text = lines.join('\n');
  console.log(text);
  if (!process.argv.includes('--no-write')) writeBetween(join(ROOT, 'docs/benchmarks.md'), text, BEGIN, END);
  return 0;
}

process.exitCode = await main();
