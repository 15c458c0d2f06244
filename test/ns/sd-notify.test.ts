/**
 * sd-notify.test.ts — sd_notify as systemd does it, spoken by Debian's systemd-notify and by a
 * raw datagram client: MAINPID (a forking daemon), WATCHDOG, STATUS, who may notify, and
 * readiness that survives a re-exec of PID 1.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, type Ns } from './harness.js';

function config(services: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'metainit-notify-'));
  mkdirSync(join(dir, 'services.d'));
  writeFileSync(join(dir, 'metainit.yaml'), 'log_dir: /run/test/log\n');
  for (const [name, text] of Object.entries(services)) writeFileSync(join(dir, 'services.d', `${name}.yaml`), text);
  return dir;
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ns: sd_notify', function () {
  this.timeout(90_000);
  const dirs: string[] = [];
  let ns: Ns | undefined;
  afterEach(async () => {
    await ns?.cleanup();
    ns = undefined;
  });
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const svc = async (n: Ns, id: string) => (await n.status()).find((s) => s.id === id);

  it('MAINPID: a forking daemon is supervised through its new main process, not respawned, and stop ends it', async () => {
    // the first process starts the daemon in a session of its own, says so, and exits 0
    const dir = config({ forker: `exec: /bin/sh -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & systemd-notify --pid=$! --ready STATUS=forked; exit 0'\nready: notify\n` });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await svc(ns!, 'native/forker'))?.state === 'running', 10_000, 'forker running');
    await sleep(1500);
    const s = (await svc(ns, 'native/forker'))!;
    expect(s).to.include({ state: 'running', restarts: 0, reason: 'forked' });
    const daemon = ns.procs().find((p) => p.comm === 'sleep');
    expect(daemon, 'the daemon runs').to.not.equal(undefined);
    expect(ns.procs().filter((p) => p.comm === 'sleep' && p.state !== 'Z'), 'one daemon, not a respawn loop').to.have.length(1);
    expect(s.pid, 'status shows the daemon as the pid (in the namespace)').to.be.a('number');
    const stop = await ns.cli(['stop', 'native/forker']);
    expect(stop.code, stop.stderr).to.equal(0);
    await ns.waitFor(async () => (await svc(ns!, 'native/forker'))?.state === 'stopped', 15_000, 'forker stopped');
    await ns.waitFor(() => !alive(daemon!.pid), 5000, 'the daemon gone after stop');
  });

  it('WATCHDOG: WATCHDOG_USEC is set, pings keep the service up, missing pings restart it with the reason', async () => {
    const script = 'echo usec=$WATCHDOG_USEC; systemd-notify --ready; for i in 1 2 3 4; do sleep 0.4; systemd-notify WATCHDOG=1; done; exec sleep 1000';
    const dir = config({ dog: `exec: /bin/sh -c '${script}'\nready: notify\nwatchdog: 1s\nbackoff: {initial: 100ms}\n` });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await svc(ns!, 'native/dog'))?.state === 'running', 10_000, 'dog running');
    await sleep(1200); // 1.6 s of pings: still the first run
    expect((await svc(ns, 'native/dog'))?.restarts).to.equal(0);
    await ns.waitFor(async () => ((await svc(ns!, 'native/dog'))?.restarts ?? 0) >= 1, 10_000, 'a restart once the pings stop');
    const logs = (await ns.cli(['logs', 'native/dog'])).stdout;
    expect(logs).to.include('usec=1000000');
    expect(ns.console()).to.match(/native\/dog: respawn — watchdog timeout \(no WATCHDOG=1 for 1000ms\), killed by SIGABRT/);
  });

  it('only the service\'s own processes may notify: READY=1 from elsewhere is ignored and reported', async () => {
    const dir = config({ quiet: `exec: sleep 1000\nready: {notify: true, timeout: 30s}\n` });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await svc(ns!, 'native/quiet'))?.state === 'starting', 10_000, 'quiet starting');
    // a stranger inside the namespace, alive while its message is read
    const sock = '/run/metainit/native/notify/quiet.sock';
    const stranger = `import socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1\\nSTATUS=forged', '${sock}'); time.sleep(1.5)`;
    execFileSync('nsenter', ['-t', String(ns.pid1), '-p', '-m', 'python3', '-c', stranger]);
    await sleep(300);
    const s = (await svc(ns, 'native/quiet'))!;
    expect(s.state).to.equal('starting');
    expect(s.reason ?? '').to.not.include('forged');
    expect(ns.console()).to.match(/native\/quiet: sd_notify message from pid \d+ ignored: not a process of this service/);
  });

  it('a service still waiting for READY=1 stays starting across `metainit reexec`, then becomes ready', async () => {
    const dir = config({ slow: `exec: /bin/sh -c 'while [ ! -e /run/test/go ]; do sleep 0.1; done; systemd-notify --ready; exec sleep 1000'\nready: {notify: true, timeout: 60s}\n` });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await svc(ns!, 'native/slow'))?.state === 'starting', 10_000, 'slow starting');
    const pid = (await svc(ns, 'native/slow'))!.pid;
    expect((await ns.cli(['reexec'])).code).to.equal(0);
    await sleep(1500);
    await ns.waitFor(async () => (await svc(ns!, 'native/slow').catch(() => undefined)) !== undefined, 20_000, 'PID 1 answering again');
    const after = (await svc(ns, 'native/slow'))!;
    expect(after).to.include({ state: 'starting', pid });
    writeFileSync(join(ns.scratch, 'go'), '');
    await ns.waitFor(async () => (await svc(ns!, 'native/slow'))?.state === 'running', 10_000, 'slow running after READY=1');
  });
});
