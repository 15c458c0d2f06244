/**
 * vm.test.ts — the vm tier: metainit as the init of a real kernel, in qemu (TCG on machines
 * without hardware virtualisation), on the Debian test-bed image.
 *
 * Model. This is the only tier where metainit runs in **machine** mode: PID 1 of the initial PID
 * namespace, started by the kernel as `init=/sbin/metainit`. Everything machine-only — stage-1
 * mounts, the cgroup2 hierarchy whose subtree is delegated to systemd with its controllers, the
 * machine's /dev/log, the stage-4 TERM to every process, unmounting, remounting / read-only,
 * reboot(2) — is proven here and nowhere else (never on the host).
 *
 * The image (build-image.sh) is the test bed — systemd installed but not as init (no
 * systemd-sysv), runit with runit-services, sysvinit's rc scripts, tang and accountsservice —
 * with the repository's build output, test/vm/guest-config/ as /etc/metainit and the test's own
 * units and services (test/vm/guest-root/). metainit hosts four inits at once: systemd (booting
 * multi-user.target over the machine's /), runit (/etc/service), sysv (runlevel 2) and native
 * services; the role policy gives logging to runit's rsyslog, cron to sysv's and the message bus
 * to systemd's dbus. Once everything is up the guest prints METAINIT-VM-UP, its probes
 * (METAINIT-VM-… lines: daemons counted, tang and accountsservice asked, memory.max of a
 * MemoryMax= unit, `metainit roles`) and `metainit status`, then ends the machine. Three boots,
 * each on a throw-away copy of the image (vm-boot.ts):
 *
 *   poweroff            `metainit poweroff` from the CLI: every stage in order, the four
 *                       instances and their services up, roles each held once, one daemon of
 *                       each, the probes' answers, both log lines (runit's logger, a systemd
 *                       unit's stdout) in the one syslog, stage 3 stopping all four, stage 4,
 *                       and a clean image (e2fsck -fn passes AND the journal needs no recovery).
 *   systemctl-poweroff  `systemctl poweroff` typed inside systemd's namespaces: on_poweroff:
 *                       machine powers the whole machine off through the same stages.
 *   ctrl-alt-del        the keys pressed through qemu's monitor reach PID 1 as SIGINT, which
 *                       reboots through stages 3 and 4, systemd hosted and stopped first.
 */
import { expect } from 'chai';
import { bootCopy, cleanup, fsState, prepare, readFile, timing, type Boot } from './vm-boot.js';

const INSTANCES = ['native', 'runit', 'sysv', 'systemd'];
const SERVICES_RUNNING = [
  'native/ticker',
  'runit/hello-runit',
  'runit/rsyslog',
  'runit/log-probe',
  'sysv/hello-sysv',
  'sysv/cron',
  'systemd/dbus.service',
  'systemd/memory-capped.service',
  'systemd/hello-systemd.service',
];
const UP = /^native\/up-marker: ok$/;

/** The text after `METAINIT-VM-<name> ` on the console (the guest's probes). */
function fact(vm: Boot, name: string): string {
  const prefix = `METAINIT-VM-${name} `;
  const line = vm.lines.find((l) => l.startsWith(prefix));
  expect(line, `${prefix.trim()} line on the console (${vm.consoleCopy})`).to.be.a('string');
  return line!.slice(prefix.length).trim();
}

/** The checks every boot shares: the four instances came up, stage 3 stopped them, stage 4 left a clean file system. */
function upAndStoppedCleanly(vm: () => Boot, request: RegExp, kind: 'poweroff' | 'reboot', kernelLine: string): void {
  it('starts as pid 1 in machine mode and brings up native, runit, sysv and systemd (multi-user.target)', function () {
    expect(vm().lines.join('\n'), 'kernel panic (init died?)').to.not.include('Kernel panic');
    vm().find(/^metainit \S+ starting as pid 1 in machine mode$/);
    vm().find(/^systemd: systemd reached multi-user\.target \(running\)$/);
    for (const s of SERVICES_RUNNING) vm().find(new RegExp(`^${s.replace(/\./g, '\\.')}: running( \\(pid \\d+\\))?$`));
    expect(vm().lines.some((l) => l.includes('METAINIT-VM-UP')), 'METAINIT-VM-UP on the console').to.equal(true);
    expect(vm().text()).to.not.match(/^error: /m);
  });

  it(`stops all four instances and their services after the ${kind} request (stage 3)`, function () {
    const req = vm().find(request);
    const stage4 = vm().find(/^stage 4: /);
    for (const inst of INSTANCES) expect(vm().find(new RegExp(`^${inst}: stopping instance$`)).index, `${inst} stopping`).to.be.within(req.index, stage4.index);
    for (const s of SERVICES_RUNNING) {
      const stopped = vm().log.filter((l) => l.text.startsWith(`${s}: stopped`)).pop();
      expect(stopped, `"${s}: stopped" on the console (${vm().consoleCopy})`).to.not.equal(undefined);
      expect(stopped!.index, `${s} stopped before stage 4`).to.be.within(req.index, stage4.index);
    }
    // systemd's processes are gone before stage 4: its TERM finds only the stray daemon (stray.yaml)
    expect(vm().find(/^stage 4: sending TERM to \d+ remaining process\(es\)$/).text).to.equal('stage 4: sending TERM to 1 remaining process(es)');
    expect(vm().text(), 'every process dies of TERM').to.not.match(/^warning: stage 4: sending KILL/m);
  });

  it(`syncs, remounts / read-only and calls reboot(2) for ${kind} (stage 4)`, function () {
    const order = [/^stage 4: file systems synced$/, /^stage 4: remounted \/ read-only( \(busy for \d+ ms, \d+ tries\))?$/, new RegExp(`^stage 4: ${kind}$`)].map((re) => vm().find(re).index);
    expect(order, 'stage 4 steps in order').to.deep.equal([...order].sort((a, b) => a - b));
    expect(vm().text()).to.not.match(/^(warning|error): stage 4: unable/m);
    expect(vm().lines.some((l) => l.includes(kernelLine)), `kernel "${kernelLine}" (${vm().consoleCopy})`).to.equal(true);
    expect(vm().code, `boot.sh: ${vm().summary}`).to.equal(0); // stopped by itself, no timeout
  });

  it('leaves a clean file system: e2fsck -fn passes and the journal needs no recovery', async function () {
    this.timeout(60_000);
    const fs = await fsState(vm().image);
    expect(fs.fsck.code, `e2fsck -fn:\n${fs.fsck.stdout}${fs.fsck.stderr}`).to.equal(0);
    expect(fs.clean, 'superblock state clean').to.equal(true);
    expect(fs.needsRecovery, 'journal needs recovery: / was not unmounted or read-only at the end').to.equal(false);
  });
}

/** One boot for a describe block: built once, its console kept, its timing printed. */
function boot(name: string, opts: Omit<Parameters<typeof bootCopy>[1], 'name'>, request: RegExp): () => Boot {
  let vm: Boot | undefined;
  before(async function () {
    this.timeout(900_000);
    const image = await prepare(this);
    vm = await bootCopy(image, { name, ...opts });
    console.log(`      vm: ${timing(vm, UP, request)}`);
  });
  after(cleanup);
  return () => vm!;
}

describe('vm: init=/sbin/metainit hosting systemd, runit, sysv and native at once, powered off from the CLI', function () {
  const request = /^API poweroff request: shutting down \(poweroff\)$/;
  const vm = boot('poweroff', { marker: 'METAINIT-VM-UP' }, request);

  it('stage 1 mounts the API file systems the initramfs did not, a pure cgroup2 hierarchy, and sets the hostname', function () {
    for (const [target, fstype] of [['/sys', 'sysfs'], ['/dev/pts', 'devpts'], ['/dev/shm', 'tmpfs'], ['/run', 'tmpfs'], ['/sys/fs/cgroup', 'cgroup2']]) {
      vm().find(new RegExp(`^stage 1: mount ${target}: mounted ${fstype}$`));
    }
    // the test bed's initramfs moves its devtmpfs over; /proc is mounted before stage 1
    vm().find(/^stage 1: mount \/dev: (already mounted|mounted devtmpfs)$/);
    vm().find(/^stage 1: mount \/proc: (already mounted|mounted proc)$/);
    vm().find(/^stage 1: hostname: set to testbed$/);
    expect(vm().text()).to.not.match(/^(warning: )?stage 1: unable/m);
  });

  it('shows boot progress on the console: one [  OK  ] or [FAILED] line per instance, then the whole boot', function () {
    for (const inst of ['native', 'runit', 'sysv', 'systemd']) vm().find(new RegExp(`^\\[(  OK  |FAILED)\\] ${inst}: \\d+/\\d+ up`));
    vm().find(/^boot: \d+ instance\(s\) up in \d+\.\d s \(metainit status for details\)$/);
  });

  it('prints `metainit status` as pid 1 in machine mode, with every instance\'s services', function () {
    expect(vm().lines.some((l) => /^metainit pid 1, machine mode, /.test(l)), 'status header on the console').to.equal(true);
    for (const s of SERVICES_RUNNING) {
      expect(vm().lines.some((l) => new RegExp(`^${s.replace(/\./g, '\\.')}\\s+running\\s+\\d+`).test(l)), `${s} running in the status table`).to.equal(true);
    }
    expect(vm().lines.some((l) => /^systemd\/cron\.service\s+stopped\s.*vetoed/.test(l)), 'systemd/cron.service vetoed in the status table').to.equal(true);
  });

  it('holds logging, cron and message-bus once each, as the policy says, the other claims vetoed (metainit roles)', function () {
    const row = (role: string): string[] => {
      const l = vm().lines.find((x) => new RegExp(`^${role}\\s+\\S+/`).test(x));
      expect(l, `roles row of ${role} on the console (${vm().consoleCopy})`).to.be.a('string');
      const [, holder, state, vetoed] = /^\S+\s+(\S+)\s+(\S+)\s+(.*)$/.exec(l!)!;
      return [holder!, state!, vetoed!.split(', ').sort().join(', ')];
    };
    expect(row('logging')).to.deep.equal(['runit/rsyslog', 'running', 'systemd/rsyslog.service']);
    expect(row('cron')).to.deep.equal(['sysv/cron', 'running', 'runit/cron, systemd/cron.service']);
    expect(row('message-bus')).to.deep.equal(['systemd/dbus.service', 'running', 'runit/dbus, sysv/dbus']);
  });

  it('runs exactly one syslog daemon, one cron and one dbus-daemon on the machine, each from its holder', function () {
    expect(fact(vm(), 'PROCS')).to.equal('rsyslogd=1 cron=1 dbus-daemon=1');
    const owner = (d: string): string => vm().lines.find((l) => l.startsWith(`METAINIT-VM-OWNER ${d} `)) ?? '';
    expect(owner('rsyslogd'), 'rsyslogd under runsv (runit)').to.match(/ ppid-comm=runsv /);
    expect(owner('dbus-daemon'), 'dbus-daemon in systemd\'s subtree').to.match(/ cgroup=\/metainit\/systemd\/system\.slice\/dbus\.service$/);
    expect(owner('cron'), 'cron neither runit\'s nor systemd\'s').to.match(/ ppid-comm=metainit cgroup=\/$/);
  });

  it('runs each init script once: hello-sysv by the sysv instance, no unit generated for it inside systemd', function () {
    vm().find(/^sysv\/hello-sysv: running \(pid \d+\)$/);
    expect(vm().log.filter((l) => l.text.startsWith('systemd/hello-sysv.service')), 'systemd-sysv-generator masked').to.deep.equal([]);
  });

  it('serves a package that exists only as systemd units: tang answers /adv on port 80', function () {
    expect(fact(vm(), 'TANG')).to.match(/^HTTP\/1\.[01] 200 OK .*"payload"/);
  });

  it('D-Bus-activates accountsservice (systemd-only) for a client outside systemd, through the exported /run/dbus', function () {
    expect(fact(vm(), 'ACCOUNTS')).to.match(/variant\s+string "\d+(\.\d+)*"/);
  });

  it('delegates cgroup controllers to systemd: a unit with MemoryMax=64M has memory.max 67108864', function () {
    expect(fact(vm(), 'CONTROLLERS').split(' / ')[0]!.split(' ')).to.include('memory');
    expect(fact(vm(), 'MEMORYMAX')).to.equal('/system.slice/memory-capped.service 67108864');
  });

  it('puts logger from a runit service and a systemd unit\'s stdout into the one logging holder\'s /var/log/syslog', async function () {
    this.timeout(60_000);
    const boot = vm().lines.map((l) => /METAINIT-VM-DATA boot=([0-9a-f-]+)/.exec(l)?.[1]).find(Boolean);
    expect(boot, 'METAINIT-VM-DATA line on the console').to.be.a('string');
    const syslog = await readFile(vm().image, '/var/log/syslog');
    expect(syslog, 'runit log-probe\'s logger line').to.match(new RegExp(`vm-log-probe(\\[\\d+\\])?: METAINIT-VM-LOG from runit boot=${boot}`));
    expect(syslog, 'log-probe.service\'s stdout, forwarded by journald').to.include(`METAINIT-VM-LOG from systemd boot=${boot}`);
  });

  upAndStoppedCleanly(vm, request, 'poweroff', 'reboot: Power down');

  it('ends the daemon no instance owns with TERM and unmounts nested mounts inner first (stage 4)', function () {
    const term = vm().find(/^stage 4: sending TERM to [1-9]\d* remaining process\(es\)$/); // the stray sleep
    const inner = vm().find(/^stage 4: unmounted \/mnt\/vmtest\/inner$/);
    const outer = vm().find(/^stage 4: unmounted \/mnt\/vmtest$/);
    const readOnly = vm().find(/^stage 4: remounted \/ read-only( \(busy for \d+ ms, \d+ tries\))?$/);
    expect([term.index, inner.index, outer.index, readOnly.index]).to.deep.equal([term.index, inner.index, outer.index, readOnly.index].sort((a, b) => a - b));
  });

  it('keeps what a service wrote and its log on the root file system', async function () {
    const printed = vm().lines.map((l) => /METAINIT-VM-DATA (boot=[0-9a-f-]+)/.exec(l)?.[1]).find(Boolean);
    expect(printed, 'METAINIT-VM-DATA line on the console').to.be.a('string');
    expect((await readFile(vm().image, '/var/lib/vmtest/data')).trim()).to.equal(`metainit-vm data ${printed}`);
    expect(await readFile(vm().image, '/var/log/metainit/native/ticker.log')).to.include('ticker up');
  });
});

describe('vm: systemctl poweroff typed inside the hosted systemd (on_poweroff: machine)', function () {
  const request = /^systemd: poweroff or halt inside \(died by SIGINT\): shutting down \(poweroff\)$/;
  const vm = boot('systemctl-poweroff', { marker: 'METAINIT-VM-SYSTEMCTL-POWEROFF', cmdline: ['metainit-vm.systemctl-poweroff'] }, request);

  it('powers the machine off, not only the instance: systemd ends by SIGINT and PID 1 shuts down', function () {
    expect(vm().lines.some((l) => l.includes('METAINIT-VM-SYSTEMCTL-POWEROFF')), 'the guest typed systemctl poweroff').to.equal(true);
    vm().find(request);
    expect(vm().text(), 'no restart of the instance').to.not.match(/^systemd: systemd restarts/m);
  });

  upAndStoppedCleanly(vm, request, 'poweroff', 'reboot: Power down');
});

describe('vm: Ctrl-Alt-Del on a machine running metainit with systemd hosted', function () {
  const request = /^SIGINT: shutting down \(reboot\)$/;
  let pressed = '';
  const vm = boot(
    'ctrl-alt-del',
    {
      marker: 'METAINIT-VM-WAITING',
      cmdline: ['metainit-vm.no-poweroff'],
      onMarker: async (monitor) => {
        pressed = await monitor('sendkey ctrl-alt-delete');
      },
    },
    request,
  );

  it('reaches PID 1 as SIGINT, which asks for a reboot', function () {
    expect(pressed, 'qemu monitor answer to sendkey').to.not.match(/unknown key|invalid|error/i);
    vm().find(request);
  });

  upAndStoppedCleanly(vm, request, 'reboot', 'reboot: Restarting system');
});
