/**
 * pid1.test.ts — the PID 1 core as pure decisions, with a strict fake Sys; nothing here is PID 1.
 *
 * Covered: which mode metainit runs in (mode.ts), what each signal means per mode and how the
 * listeners are wired (signals.ts), which processes stage 4 ends and how the end is reached
 * (shutdown.ts), the mountinfo parser (mounts.ts), stage 1's step list and its keep-going runner
 * (stage1.ts), and the argument checks of the CLI fast path, through which `metainit boot` and the
 * client commands enter (cli/fast.ts). The fake Sys records every call: a test that expects no
 * reboot or unmount asserts the call list is empty, so a call caught by the code under test still
 * fails it. The stage-4 kill cases signal only `sleep` processes this test spawned, by pid.
 */
import { stopSharedLogger } from '../../../src/supervisor/logger-process.js';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { isFastCommand, isKnownCommand, runFast } from '../../../src/cli/fast.js';
import { detectMode } from '../../../src/base/mode.js';
import { EARLY_MOUNTS, KEEP_AT_SHUTDOWN, mountTable, parseMountinfo } from '../../../src/pid1/mounts.js';
import { finalKill, finish, unmountAll, victims, writersOn } from '../../../src/pid1/shutdown.js';
import { listenSignals, signalTable, type SignalAction } from '../../../src/pid1/signals.js';
import { runSteps, stage1Steps } from '../../../src/pid1/stage1.js';
import { MNT_DETACH, MS, RB } from '../../../src/base/sys.js';
import { createFakeSys } from '../fake-sys.js';
import { waitFor } from '../wait-for.js';

interface Lines {
  lines: string[];
  info(t: string): void;
  warn(t: string): void;
  error(t: string): void;
}

function recorder(): Lines {
  const lines: string[] = [];
  return { lines, info: (t) => lines.push(`info: ${t}`), warn: (t) => lines.push(`warn: ${t}`), error: (t) => lines.push(`error: ${t}`) };
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

// ------------------------------------------------------------------------------ mode

describe('pid1: mode detection', () => {
  it('is a supervisor whenever it is not pid 1, whatever else is true', () => {
    expect(detectMode({ pid: 4242 })).to.equal('supervisor');
    expect(detectMode({ pid: 4242, container: true, readComm: () => 'kthreadd' })).to.equal('supervisor');
  });

  it('as pid 1, is a machine init when pid 2 is kthreadd, a container init otherwise', () => {
    const asked: number[] = [];
    expect(detectMode({ pid: 1, readComm: (p) => (asked.push(p), 'kthreadd') })).to.equal('machine');
    expect(asked).to.deep.equal([2]);
    expect(detectMode({ pid: 1, readComm: () => 'runsvdir' })).to.equal('container');
    expect(detectMode({ pid: 1, readComm: () => null })).to.equal('container'); // no pid 2 at all
  });

  it('as pid 1 with --container, is a container init even on a machine', () => {
    expect(detectMode({ pid: 1, container: true, readComm: () => 'kthreadd' })).to.equal('container');
  });
});

// ------------------------------------------------------------------------------ signals

describe('pid1: signal table', () => {
  it('machine: systemd and busybox conventions, Ctrl-Alt-Del (SIGINT) reboots', () => {
    expect(signalTable('machine')).to.deep.equal({
      SIGTERM: 'reboot',
      SIGINT: 'reboot',
      'RTMIN+3': 'halt',
      'RTMIN+4': 'poweroff',
      'RTMIN+5': 'reboot',
      SIGUSR1: 'halt',
      SIGUSR2: 'poweroff',
      SIGPWR: 'poweroff',
      SIGHUP: 'sync',
    });
  });

  it('container and supervisor: TERM, INT, RTMIN+3 and RTMIN+4 stop everything and exit', () => {
    for (const mode of ['container', 'supervisor'] as const) {
      expect(signalTable(mode), mode).to.deep.equal({
        SIGTERM: 'exit',
        SIGINT: 'exit',
        'RTMIN+3': 'exit',
        'RTMIN+4': 'exit',
        'RTMIN+5': 'reboot',
        SIGUSR1: 'halt',
        SIGUSR2: 'poweroff',
        SIGPWR: 'poweroff',
        SIGHUP: 'sync',
      });
    }
  });

  it('listens for real-time signals through the seam at SIGRTMIN+n, and for the others on process', () => {
    const rt = new Map<number, (n: number) => void>();
    const stopped: number[] = [];
    const sys = createFakeSys({
      SIGRTMIN: 34,
      signal: (n, cb) => {
        rt.set(n, cb);
        return () => stopped.push(n);
      },
    });
    const before = process.listenerCount('SIGHUP');
    const seen: Array<[SignalAction, string]> = [];
    const stop = listenSignals('machine', sys, (action, sig) => seen.push([action, sig]));
    try {
      expect([...rt.keys()].sort()).to.deep.equal([37, 38, 39]);
      rt.get(38)!(38);
      process.emit('SIGHUP', 'SIGHUP');
      process.emit('SIGINT', 'SIGINT');
      expect(seen).to.deep.equal([
        ['poweroff', 'SIGRTMIN+4'],
        ['sync', 'SIGHUP'],
        ['reboot', 'SIGINT'],
      ]);
    } finally {
      stop();
    }
    expect(stopped.sort()).to.deep.equal([37, 38, 39]);
    expect(process.listenerCount('SIGHUP')).to.equal(before);
  });
});

// ------------------------------------------------------------------------------ shutdown

describe('pid1: stage 4 victims', () => {
  // a machine: 1 us, 2 kthreadd, 3 a kernel thread, 10 a daemon with children, 20 an orphan
  const machine = [
    { pid: 1, ppid: 0, state: 'S' },
    { pid: 2, ppid: 0, state: 'S' },
    { pid: 3, ppid: 2, state: 'I' },
    { pid: 10, ppid: 1, state: 'S' },
    { pid: 11, ppid: 10, state: 'Z' },
    { pid: 12, ppid: 10, state: 'S' },
    { pid: 13, ppid: 12, state: 'R' },
    { pid: 20, ppid: 1, state: 'S' },
  ];

  it('as a machine init: everything but itself, kthreadd, kernel threads and zombies', () => {
    expect(victims('machine', 1, machine)).to.deep.equal([10, 12, 13, 20]);
  });

  it('as a container init: everything but itself and zombies', () => {
    const procs = [
      { pid: 1, ppid: 0, state: 'S' },
      { pid: 7, ppid: 1, state: 'S' },
      { pid: 8, ppid: 7, state: 'Z' },
      { pid: 9, ppid: 7, state: 'S' },
    ];
    expect(victims('container', 1, procs)).to.deep.equal([7, 9]);
  });

  it('as a container init: pid 2 and its children are ordinary processes, not kernel threads', () => {
    const procs = [
      { pid: 1, ppid: 0, state: 'S', comm: 'node' },
      { pid: 2, ppid: 1, state: 'S', comm: 'sleep' },
      { pid: 3, ppid: 2, state: 'S', comm: 'sh' },
    ];
    expect(victims('container', 1, procs)).to.deep.equal([2, 3]);
  });

  it('as a supervisor: only its own descendants, never the rest of the host', () => {
    // we are pid 10 on a host: 12 and 13 are ours (11 is a zombie); 1, 3, 20 are not
    expect(victims('supervisor', 10, machine).sort((a, b) => a - b)).to.deep.equal([12, 13]);
    expect(victims('supervisor', 20, machine)).to.deep.equal([]);
  });
});

describe('pid1: stage 4 end', () => {
  it('exit, and anything as a supervisor, never calls reboot(2)', () => {
    for (const [kind, mode] of [['exit', 'machine'], ['exit', 'container'], ['poweroff', 'supervisor'], ['reboot', 'supervisor']] as const) {
      const sys = createFakeSys();
      finish(kind, mode, sys, recorder());
      expect(sys.calls, `${kind} in ${mode}`).to.deep.equal([]);
    }
  });

  it('a container init ends its PID namespace with reboot(2), and says so', () => {
    const sys = createFakeSys({ reboot: () => {} });
    const log = recorder();
    finish('poweroff', 'container', sys, log);
    expect(sys.callsTo('reboot')).to.deep.equal([[RB.POWER_OFF]]);
    expect(log.lines).to.deep.equal(['info: stage 4: poweroff (ends this PID namespace)']);
  });

  it('a machine init halts, powers off or restarts with the matching reboot(2) command', () => {
    for (const [kind, cmd] of [['halt', RB.HALT], ['poweroff', RB.POWER_OFF], ['reboot', RB.AUTOBOOT]] as const) {
      const sys = createFakeSys({ reboot: () => {} });
      finish(kind, 'machine', sys, recorder());
      expect(sys.callsTo('reboot'), kind).to.deep.equal([[cmd]]);
    }
  });

  it('a failing reboot(2) is logged, not thrown, so the caller can still exit', () => {
    const sys = createFakeSys({
      reboot: () => {
        throw errno('EPERM', 'reboot: Operation not permitted');
      },
    });
    const log = recorder();
    expect(() => finish('halt', 'machine', sys, log)).not.to.throw();
    expect(log.lines).to.include('error: stage 4: unable to halt: reboot: Operation not permitted');
  });

  it('unmountAll touches nothing unless metainit is a machine init', async () => {
    for (const mode of ['container', 'supervisor'] as const) {
      const sys = createFakeSys();
      await unmountAll(mode, sys, recorder());
      expect(sys.calls, mode).to.deep.equal([]);
    }
  });

  it('unmountAll as a machine init: reverse mount order, API filesystems kept, busy ones remounted read-only, / last', async () => {
    // the fake only records: the host's mount table is read, nothing is unmounted
    const sys = createFakeSys({
      umount2: (_target, flags) => {
        if (flags === 0) throw errno('EBUSY', 'umount2: Device or resource busy');
      },
      mount: () => {},
      sync: () => {},
    });
    const log = recorder();
    await unmountAll('machine', sys, log);
    const expected = mountTable()
      .reverse()
      .filter((m) => !KEEP_AT_SHUTDOWN.has(m.target))
      .flatMap((m) => [
        ['umount2', m.target, 0],
        ['mount', null, m.target, null, MS.REMOUNT | MS.RDONLY, null],
        ['umount2', m.target, MNT_DETACH],
      ]);
    expected.push(['mount', null, '/', null, MS.REMOUNT | MS.RDONLY, null], ['sync']);
    expect(sys.calls.map((c) => [c.name, ...c.args])).to.deep.equal(expected);
    expect(log.lines.at(-1)).to.equal('info: stage 4: remounted / read-only');
  });

  /** a Sys whose remount of / fails with `codes` in turn, then succeeds; other mounts and unmounts succeed */
  const rootFails = (codes: string[]): ReturnType<typeof createFakeSys> =>
    createFakeSys({
      umount2: () => {},
      mount: (_s, target) => {
        const code = target === '/' ? codes.shift() : undefined;
        if (code) throw errno(code, `mount: ${code === 'EBUSY' ? 'Device or resource busy' : 'Invalid argument'}`);
      },
      sync: () => {},
    });
  const rootRemounts = (sys: ReturnType<typeof createFakeSys>): number => sys.callsTo('mount').filter(([, target]) => target === '/').length;

  it('a / still busy from the last exits is retried, with a sync between tries, and the line says how long it was busy', async () => {
    const sys = rootFails(['EBUSY', 'EBUSY']);
    const log = recorder();
    await unmountAll('machine', sys, log, { retryMs: 1, writers: () => [] });
    expect(rootRemounts(sys)).to.equal(3);
    const names = sys.calls.map((c) => c.name);
    const firstRoot = sys.calls.findIndex((c) => c.name === 'mount' && c.args[1] === '/');
    expect(names.slice(firstRoot, firstRoot + 3)).to.deep.equal(['mount', 'sync', 'mount']);
    expect(log.lines.at(-1)).to.match(/^info: stage 4: remounted \/ read-only \(busy for \d+ ms, 3 tries\)$/);
  });

  it('a / that stays busy is given up after the busy time, naming what holds files open for writing', async () => {
    const sys = rootFails(Array(10_000).fill('EBUSY'));
    const log = recorder();
    await unmountAll('machine', sys, log, { busyMs: 50, retryMs: 5, writers: () => ['rsyslogd(311) /var/log/syslog'] });
    expect(rootRemounts(sys)).to.be.within(2, 20);
    const warn = log.lines.find((l) => l.startsWith('warn: stage 4: unable to remount / read-only'));
    expect(warn).to.match(/Device or resource busy after \d+ tries in \d+ ms; open for writing: rsyslogd\(311\) \/var\/log\/syslog$/);
  });

  it('any other failure of the remount is not retried', async () => {
    const sys = rootFails(['EINVAL', 'EINVAL']);
    const log = recorder();
    await unmountAll('machine', sys, log, { retryMs: 1, writers: () => ['never asked'] });
    expect(rootRemounts(sys)).to.equal(1);
    expect(log.lines).to.include('warn: stage 4: unable to remount / read-only: mount: Invalid argument');
  });
});

describe('pid1: writersOn (who keeps a file system busy)', () => {
  it('names this process for a file it holds open for writing, and not for one open read-only', async () => {
    const { openSync, closeSync, mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/writers-');
    try {
      writeFileSync(`${dir}/ro`, 'x');
      const ro = openSync(`${dir}/ro`, 'r');
      const rw = openSync(`${dir}/rw`, 'w');
      try {
        const found = writersOn(dir, [process.pid]).join('\n');
        expect(found).to.include(`(${process.pid}) ${dir}/rw`);
        expect(found).not.to.include(`${dir}/ro`);
      } finally {
        closeSync(ro);
        closeSync(rw);
      }
      expect(writersOn(dir, [process.pid]).join('\n')).not.to.include(`${dir}/rw`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('pid1: stage 4 final kill (as a supervisor)', function () {
  // the native services' logger of earlier tests is a descendant of this process too; PID 1 stops it before stage 4
  before(() => stopSharedLogger(Date.now() + 3000));
  this.timeout(15_000);
  const children: ChildProcess[] = [];
  const spawnChild = (script: string): ChildProcess => {
    const c = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;
  /** a Sys whose kill reaches only `child` and its descendants (anything else is recorded, not signalled) */
  const sysFor = (child: ChildProcess): ReturnType<typeof createFakeSys> => {
    const ours = new Set<number>([child.pid!]);
    return createFakeSys({
      kill: (pid, sig) => {
        for (const p of victims('supervisor', child.pid)) ours.add(p); // remembered: an orphaned grandchild stays ours
        if (ours.has(pid)) process.kill(pid, sig);
        return true;
      },
      sync: () => {},
    });
  };
  afterEach(() => {
    for (const c of children.splice(0)) if (!exited(c)) c.kill('SIGKILL');
  });

  it('TERMs its own descendants by pid, waits while they live, syncs', async () => {
    const child = spawnChild('exec sleep 30');
    await waitFor(() => victims('supervisor').includes(child.pid!), 'the child to be listed');
    const sys = sysFor(child);
    const log = recorder();
    const killed = await finalKill('supervisor', sys, log, 5000);
    expect(killed).to.equal(0);
    expect(sys.callsTo('kill')).to.deep.include([child.pid, 15]);
    expect(sys.callsTo('kill').every(([pid]) => (pid as number) > 0)).to.equal(true); // never kill(-1) or a group
    expect(sys.calls.at(-1)!.name).to.equal('sync');
    await waitFor(() => exited(child), 'the child to exit');
    expect(child.signalCode).to.equal('SIGTERM');
  });

  it('KILLs what ignores TERM once the grace period is over', async () => {
    const child = spawnChild("trap '' TERM; sleep 30; :");
    await waitFor(() => victims('supervisor').length >= 2, 'the shell and its sleep');
    const sys = sysFor(child);
    const log = recorder();
    const killed = await finalKill('supervisor', sys, log, 200);
    expect(killed).to.be.at.least(2);
    expect(sys.callsTo('kill').filter(([, sig]) => sig === 9).map(([pid]) => pid)).to.include(child.pid);
    expect(log.lines.some((l) => l.startsWith('warn: stage 4: sending KILL to ') && l.includes('still alive after 200 ms'))).to.equal(true);
    await waitFor(() => exited(child), 'the child to exit');
    expect(child.signalCode).to.equal('SIGKILL');
  });
});

// ------------------------------------------------------------------------------ mounts

describe('pid1: mountinfo parser', () => {
  it('reads id, parent, target, options, type and source, past optional fields', () => {
    const text = [
      '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
      '36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 propagate_from:2 - ext3 /dev/root rw,errors=continue',
      '40 22 0:50 / /run/user/1000 rw - tmpfs tmpfs rw,size=100k',
    ].join('\n');
    expect(parseMountinfo(text)).to.deep.equal([
      { id: 22, parent: 1, target: '/proc', options: 'rw,nosuid,nodev,noexec,relatime', fstype: 'proc', source: 'proc' },
      { id: 36, parent: 35, target: '/mnt/parent', options: 'rw,noatime', fstype: 'ext3', source: '/dev/root' },
      { id: 40, parent: 22, target: '/run/user/1000', options: 'rw', fstype: 'tmpfs', source: 'tmpfs' },
    ]);
  });

  it('decodes octal escapes in the target and source (space, tab, backslash)', () => {
    const [m] = parseMountinfo('50 1 8:1 / /media/my\\040disk\\011x\\134y rw - vfat /dev/sd\\040b1 rw\n');
    expect(m).to.include({ target: '/media/my disk\tx\\y', source: '/dev/sd b1' });
  });

  it('skips empty and malformed lines', () => {
    expect(parseMountinfo('\nno separator here\n22 1 0:21 / /proc rw - proc proc rw\n')).to.have.length(1);
  });
});

// ------------------------------------------------------------------------------ stage 1

describe('pid1: stage 1', () => {
  it('disables the instant Ctrl-Alt-Del restart first, mounts the API filesystems, then hostname and console', () => {
    const steps = stage1Steps(createFakeSys(), () => {});
    expect(steps.map((s) => s.name)).to.deep.equal(['ctrl-alt-del', ...EARLY_MOUNTS.map((m) => `mount ${m.target}`), 'hostname', 'console']);
    expect(EARLY_MOUNTS.map((m) => m.target).slice(0, 3)).to.deep.equal(['/proc', '/sys', '/dev']);
  });

  it('the ctrl-alt-del step asks the kernel for RB_DISABLE_CAD (SIGINT to pid 1 instead)', () => {
    const sys = createFakeSys({ reboot: () => {} });
    const log = recorder();
    runSteps(stage1Steps(sys, () => {}).slice(0, 1), log);
    expect(sys.calls).to.deep.equal([{ name: 'reboot', args: [RB.DISABLE_CAD] }]);
    expect(log.lines).to.deep.equal(['info: stage 1: ctrl-alt-del: sends SIGINT to pid 1 (clean reboot)']);
  });

  it('a failing step is one warning and the boot goes on', () => {
    const sys = createFakeSys({
      reboot: () => {
        throw errno('EPERM', 'reboot: Operation not permitted');
      },
    });
    const log = recorder();
    const ran: string[] = [];
    const [cad] = stage1Steps(sys, () => {});
    runSteps(
      [
        cad!,
        {
          name: 'mount /sys/fs/selinux',
          run: () => {
            throw new Error('mount: No such device');
          },
        },
        { name: 'hostname', run: () => (ran.push('hostname'), 'set to box') },
      ],
      log,
    );
    expect(ran).to.deep.equal(['hostname']);
    expect(log.lines).to.deep.equal([
      'warn: stage 1: unable to ctrl-alt-del: reboot: Operation not permitted',
      'warn: stage 1: unable to mount /sys/fs/selinux: mount: No such device',
      'info: stage 1: hostname: set to box',
    ]);
  });
});

// ------------------------------------------------------------------------------ CLI fast path

describe('cli: fast path', () => {
  /** run `metainit ARGV…` through the fast path, capturing stderr */
  async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
    const write = process.stderr.write;
    let stderr = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      const code = await runFast(argv);
      return { code, stderr };
    } finally {
      process.stderr.write = write;
    }
  }

  it('takes client commands and boot, leaves --help, offline commands and unknown words to oclif', () => {
    for (const argv of [['status'], ['start', 'web'], ['logs', '-f', 'web'], ['halt'], ['boot', '--container']]) expect(isFastCommand(argv), argv.join(' ')).to.equal(true);
    for (const argv of [[], ['check'], ['plan'], ['status', '--help'], ['start', '-h'], ['frobnicate']]) expect(isFastCommand(argv), argv.join(' ')).to.equal(false);
  });

  it('knows every command of the table, and nothing else', () => {
    for (const cmd of ['boot', 'status', 'start', 'kill', 'logs', 'check', 'plan', 'reexec']) expect(isKnownCommand(cmd), cmd).to.equal(true);
    expect(isKnownCommand('frobnicate')).to.equal(false);
    expect(isKnownCommand(undefined)).to.equal(false);
  });

  it('a missing NAME exits 2 with the usage as the fix', async () => {
    expect(await run(['start'])).to.deep.equal({ code: 2, stderr: 'metainit start: unable to parse arguments: expected NAME (fix: metainit start NAME)\n' });
    expect(await run(['kill', 'web'])).to.deep.equal({ code: 2, stderr: 'metainit kill: unable to parse arguments: expected NAME SIGNAL (fix: metainit kill NAME SIGNAL)\n' });
  });

  it('one argument too many exits 2 the same way', async () => {
    expect(await run(['stop', 'web', 'db'])).to.deep.equal({ code: 2, stderr: 'metainit stop: unable to parse arguments: expected NAME (fix: metainit stop NAME)\n' });
    expect(await run(['kill', 'web', 'HUP', 'TERM'])).to.deep.equal({ code: 2, stderr: 'metainit kill: unable to parse arguments: expected NAME SIGNAL (fix: metainit kill NAME SIGNAL)\n' });
  });

  it('an unknown flag exits 2 pointing at --help', async () => {
    const { code, stderr } = await run(['status', '--bogus']);
    expect(code).to.equal(2);
    expect(stderr).to.match(/^metainit status: unable to parse arguments: .*'--bogus'.* \(fix: see metainit status --help\)\n$/);
  });

  it('-n must be a whole number', async () => {
    for (const bad of ['abc', '1.5', '-3']) {
      expect(await run(['logs', 'web', `--lines=${bad}`]), bad).to.deep.equal({ code: 2, stderr: `metainit logs: unable to parse --lines: "${bad}" is not a whole number\n` });
    }
    expect(await run(['logs', 'web', '-n', 'ten'])).to.deep.equal({ code: 2, stderr: 'metainit logs: unable to parse --lines: "ten" is not a whole number\n' });
  });
});
