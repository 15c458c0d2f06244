/**
 * vm.test.ts — the vm tier: metainit as the init of a real kernel, in qemu (TCG on machines
 * without hardware virtualisation), on the Debian test-bed image.
 *
 * Model. This is the only tier where metainit runs in **machine** mode: PID 1 of the initial PID
 * namespace, started by the kernel as `init=/sbin/metainit`. Everything machine-only — stage-1
 * mounts, the stage-4 TERM to every process, unmounting, remounting / read-only, reboot(2) — is
 * proven here and nowhere else (never on the host). The image (build-image.sh) carries the
 * repository's build output and test/vm/guest-config/ as /etc/metainit: native services, plus
 * the test bed's hello-runit and hello-sysv through the runit and sysv adapters. The guest brings
 * everything up, prints METAINIT-VM-UP, shows `metainit status` and asks PID 1 to power off
 * through the control socket. Two boots, each on a throw-away copy of the image (vm-boot.ts):
 *
 *   poweroff      the serial console must show each stage in order (machine mode as pid 1,
 *                 stage 1 mounts, services running / ok, the CLI's status, the poweroff
 *                 request, stage 3 stops, stage 4: TERM to the leftover daemon, sync, unmount in
 *                 reverse order, / read-only, poweroff); the VM must stop by itself; the image
 *                 must be clean — e2fsck -fn passes AND the journal needs no recovery (e2fsck -n
 *                 exits 0 even for a file system that was never unmounted: it skips the journal);
 *                 the file a service wrote (with this boot's id) and a service log are in it.
 *   ctrl-alt-del  the guest stays up (`metainit-vm.no-poweroff` on the kernel command line) and
 *                 the keys are pressed through qemu's monitor: the kernel must hand them to PID 1
 *                 as SIGINT, which reboots through stages 3 and 4 — not restart the machine at
 *                 once with the root file system still mounted read-write.
 */
import { expect } from 'chai';
import { bootCopy, cleanup, fsState, prepare, readFile, timing, type Boot } from './vm-boot.js';

const SERVICES_RUNNING = ['native/ticker', 'runit/hello-runit', 'sysv/hello-sysv'];

/** The checks both boots share: stage 3 stopped everything, stage 4 left a clean file system. */
function stoppedCleanly(vm: () => Boot, request: RegExp, kind: 'poweroff' | 'reboot', kernelLine: string): void {
  it(`stops every instance and service after the ${kind} request (stage 3)`, function () {
    const req = vm().find(request);
    const stage4 = vm().find(/^stage 4: /);
    for (const inst of ['native', 'runit', 'sysv']) expect(vm().find(new RegExp(`^${inst}: stopping instance$`)).index).to.be.above(req.index);
    for (const s of SERVICES_RUNNING) {
      const stopped = vm().log.filter((l) => l.text === `${s}: stopped`).pop();
      expect(stopped, `"${s}: stopped" on the console (${vm().consoleCopy})`).to.not.equal(undefined);
      expect(stopped!.index, `${s} stopped before stage 4`).to.be.within(req.index, stage4.index);
    }
  });

  it(`syncs, remounts / read-only and calls reboot(2) for ${kind} (stage 4)`, function () {
    const order = [/^stage 4: file systems synced$/, /^stage 4: remounted \/ read-only$/, new RegExp(`^stage 4: ${kind}$`)].map((re) => vm().find(re).index);
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

describe('vm: metainit as init=/sbin/metainit of a real kernel, powered off from the CLI', function () {
  let vm: Boot;

  before(async function () {
    this.timeout(420_000);
    const image = await prepare(this);
    vm = await bootCopy(image, { name: 'poweroff', marker: 'METAINIT-VM-UP' });
    console.log(`      vm: ${timing(vm, /^native\/up-marker: ok$/, /shutting down \(poweroff\)$/)}`);
  });
  after(cleanup);

  it('the kernel runs /sbin/metainit, which starts as pid 1 in machine mode', function () {
    expect(vm.lines.join('\n'), 'kernel panic (init died?)').to.not.include('Kernel panic');
    vm.find(/^metainit \S+ starting as pid 1 in machine mode$/);
  });

  it('stage 1 mounts the API file systems the initramfs did not, and sets the hostname', function () {
    for (const [target, fstype] of [['/sys', 'sysfs'], ['/dev/pts', 'devpts'], ['/dev/shm', 'tmpfs'], ['/run', 'tmpfs'], ['/sys/fs/cgroup', 'cgroup2']]) {
      vm.find(new RegExp(`^stage 1: mount ${target}: mounted ${fstype}$`));
    }
    // the test bed's initramfs moves its devtmpfs over; /proc is mounted before stage 1
    vm.find(/^stage 1: mount \/dev: (already mounted|mounted devtmpfs)$/);
    vm.find(/^stage 1: mount \/proc: (already mounted|mounted proc)$/);
    vm.find(/^stage 1: hostname: set to testbed$/);
    expect(vm.text()).to.not.match(/^(warning: )?stage 1: unable/m);
  });

  it('starts the services: native, runit and sysv ones run, the oneshots end ok', function () {
    for (const s of SERVICES_RUNNING) vm.find(new RegExp(`^${s}: running \\(pid \\d+\\)$`));
    for (const s of ['writer', 'stray', 'scratch-mounts', 'up-marker']) vm.find(new RegExp(`^native/${s}: ok$`));
    expect(vm.lines.some((l) => l.includes('METAINIT-VM-UP')), 'METAINIT-VM-UP on the console').to.equal(true);
    expect(vm.text()).to.not.match(/^error: /m);
  });

  it('answers `metainit status` over the control socket as pid 1 in machine mode', function () {
    expect(vm.lines.some((l) => /^metainit pid 1, machine mode, /.test(l)), 'status header on the console').to.equal(true);
    for (const s of SERVICES_RUNNING) {
      expect(vm.lines.some((l) => new RegExp(`^${s}\\s+running\\s+\\d+`).test(l)), `${s} running in the status table`).to.equal(true);
    }
  });

  stoppedCleanly(() => vm, /^API poweroff request: shutting down \(poweroff\)$/, 'poweroff', 'reboot: Power down');

  it('ends the daemon no instance owns with TERM and unmounts nested mounts inner first (stage 4)', function () {
    const term = vm.find(/^stage 4: sending TERM to [1-9]\d* remaining process\(es\)$/); // the stray sleep
    const inner = vm.find(/^stage 4: unmounted \/mnt\/vmtest\/inner$/);
    const outer = vm.find(/^stage 4: unmounted \/mnt\/vmtest$/);
    const readOnly = vm.find(/^stage 4: remounted \/ read-only$/);
    expect([term.index, inner.index, outer.index, readOnly.index]).to.deep.equal([term.index, inner.index, outer.index, readOnly.index].sort((a, b) => a - b));
    expect(vm.text(), 'the stray daemon dies of TERM').to.not.match(/^warning: stage 4: sending KILL/m);
  });

  it('keeps what a service wrote and its log on the root file system', async function () {
    const printed = vm.lines.map((l) => /METAINIT-VM-DATA (boot=[0-9a-f-]+)/.exec(l)?.[1]).find(Boolean);
    expect(printed, 'METAINIT-VM-DATA line on the console').to.be.a('string');
    expect((await readFile(vm.image, '/var/lib/vmtest/data')).trim()).to.equal(`metainit-vm data ${printed}`);
    expect(await readFile(vm.image, '/var/log/metainit/native/ticker.log')).to.include('ticker up');
  });
});

describe('vm: Ctrl-Alt-Del on a machine running metainit', function () {
  let vm: Boot;
  let pressed = '';

  before(async function () {
    this.timeout(420_000);
    const image = await prepare(this);
    vm = await bootCopy(image, {
      name: 'ctrl-alt-del',
      marker: 'METAINIT-VM-WAITING',
      cmdline: ['metainit-vm.no-poweroff'],
      onMarker: async (monitor) => {
        pressed = await monitor('sendkey ctrl-alt-delete');
      },
    });
    console.log(`      vm: ${timing(vm, /^native\/up-marker: ok$/, /^SIGINT: shutting down/)}`);
  });
  after(cleanup);

  it('reaches PID 1 as SIGINT, which asks for a reboot', function () {
    expect(pressed, 'qemu monitor answer to sendkey').to.not.match(/unknown key|invalid|error/i);
    vm.find(/^SIGINT: shutting down \(reboot\)$/);
  });

  stoppedCleanly(() => vm, /^SIGINT: shutting down \(reboot\)$/, 'reboot', 'reboot: Restarting system');
});
