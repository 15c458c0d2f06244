/**
 * entrypoint.test.ts — `metainit -- CMD` as a container's PID 1 and as a plain command, held to
 * what tini's and dumb-init's own test suites check (read in krallin/tini test/ and Yelp/dumb-init
 * tests/; these tests are our own): the exit status passed through (128+n when killed), signals
 * forwarded (to the process group with -g), SIGTERM/SIGINT stopping the container with the
 * status a shell expects, exec failures ending at once with 127/126, orphans reaped, what is left
 * of main's process group TERMed when main exits, stdio and environment passed through, and
 * main in the terminal's foreground.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, cleanEnv, descendants, metainit, REPO, RUN_JS, shellStatus, sleep, waitFor, type Exit } from './harness.js';

interface Entry {
  /** host pid of the namespace's PID 1 (or of metainit itself, not in a namespace) */
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** the exit status as a shell sees it */
  status(timeoutMs?: number): Promise<number>;
  /** send sig to PID 1 (a name, RTMIN+n included) */
  kill(sig: NodeJS.Signals | string): Promise<void>;
}

/**
 * Has the init at `pid` started its command? Then it handles signals: metainit listens before it
 * spawns, tini blocks them before it forks. (Before that, PID 1 of a namespace drops them, and
 * the namespace's first process is still the sh that mounts /run.)
 */
function started(pid: number): boolean {
  try {
    if (/\/(da)?sh$/.test(readlinkSync(`/proc/${pid}/exe`))) return false;
  } catch {
    return false;
  }
  return descendants(pid).some((p) => p.ppid === pid && p.comm !== 'metainit-logge');
}

function signalNumberOf(sig: string): number {
  const rt = /^(?:SIG)?RTMIN\+(\d+)$/.exec(sig);
  if (rt) return 34 + Number(rt[1]);
  return (osConstants.signals as Record<string, number>)[sig.startsWith('SIG') ? sig : `SIG${sig}`]!;
}

/** `metainit ARGS` as PID 1 of a new PID namespace (ns = true) or as a plain child, scratch dir at /run/test. */
function start(args: string[], opts: { ns?: boolean; scratch: string; env?: Record<string, string>; stdin?: string; init?: string[] }): Promise<Entry> {
  const inner = [...(opts.init ?? ['node', RUN_JS]), ...args];
  const argv = opts.ns === false
    ? [process.execPath, RUN_JS, ...args]
    : ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', 'sh', '-c',
       'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/test && mount --bind "$0" /run/test && exec "$@"', opts.scratch, ...inner];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(opts.env), cwd: REPO });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  const exited = new Promise<Exit>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return (async () => {
    let pid = opts.ns === false ? child.pid! : 0;
    await waitFor(() => (pid ||= childrenOf(child.pid!)[0] ?? 0) !== 0 || child.exitCode !== null, 10_000, 'PID 1 of the namespace');
    await waitFor(() => child.exitCode !== null || started(pid), 10_000, 'main to be started');
    await sleep(200); // main sets up its traps
    return {
      pid,
      stdout: () => out,
      stderr: () => err,
      exited,
      async status(timeoutMs = 30_000) {
        const e = await Promise.race([exited, sleep(timeoutMs).then(() => undefined)]);
        if (!e) {
          child.kill('SIGKILL');
          throw new Error(`metainit ${args.join(' ')} did not end within ${timeoutMs} ms; stderr:\n${err}`);
        }
        return shellStatus(e);
      },
      async kill(sig) {
        process.kill(pid, signalNumberOf(sig));
      },
    };
  })();
}

/** a main that writes the first signal it traps (of `sigs`) to /run/test/got and exits 7; else loops */
const trapper = (sigs: string[]): string[] => ['sh', '-c', `${sigs.map((s) => `trap 'echo ${s} > /run/test/got; exit 7' ${s}`).join('; ')}; while :; do sleep 0.05; done`];

describe('ns: metainit -- CMD, the container entrypoint (tini / dumb-init behaviour)', function () {
  this.timeout(60_000);
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'metainit-entry-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));
  const got = (): string => (existsSync(join(scratch, 'got')) ? readFileSync(join(scratch, 'got'), 'utf8').trim() : '');

  it('passes the exit code of main through, and 128+n when main is killed by signal n', async () => {
    expect(await (await start(['--', 'sh', '-c', 'exit 3'], { scratch })).status()).to.equal(3);
    expect(await (await start(['--', 'sh', '-c', 'exit 0'], { scratch })).status()).to.equal(0);
    expect(await (await start(['--', 'sh', '-c', 'kill -KILL $$'], { scratch })).status()).to.equal(137);
  });

  it('forwards the signals a user sends to PID 1 to main: USR1, USR2, HUP, QUIT, WINCH, ALRM, CONT, SIGRTMIN+3', async () => {
    for (const sig of ['USR1', 'USR2', 'HUP', 'QUIT', 'WINCH', 'ALRM', 'CONT', 'RTMIN+3']) {
      rmSync(join(scratch, 'got'), { force: true });
      const e = await start(['--', ...trapper([sig === 'RTMIN+3' ? '37' : sig])], { scratch });
      await e.kill(sig);
      expect(await e.status(), sig).to.equal(7);
      expect(got(), `main trapped ${sig}`).to.equal(sig === 'RTMIN+3' ? '37' : sig);
    }
  });

  it('a forwarded signal main does not handle ends it, and the container with 128+n, as under tini (USR1 → 138, USR2 → 140)', async () => {
    const one = await start(['--', 'sleep', '100'], { scratch });
    await one.kill('SIGUSR1');
    expect(await one.status()).to.equal(138);
    const two = await start(['--', 'sleep', '100'], { scratch });
    await two.kill('SIGUSR2');
    expect(await two.status()).to.equal(140);
  });

  it('SIGTERM and SIGINT stop the container: main gets that very signal (143, 130), or handles it and its code is the status', async () => {
    const term = await start(['--', 'sleep', '100'], { scratch });
    await term.kill('SIGTERM');
    expect(await term.status()).to.equal(143);
    const int = await start(['--', 'sleep', '100'], { scratch });
    await int.kill('SIGINT');
    expect(await int.status()).to.equal(130);
    const handled = await start(['--', ...trapper(['TERM'])], { scratch });
    await handled.kill('SIGTERM');
    expect(await handled.status()).to.equal(7);
    expect(got()).to.equal('TERM');
  });

  it('--stop-signals chooses what stops the container: with "" even SIGTERM is only forwarded, and main decides', async () => {
    const e = await start(['run', '--stop-signals', '', '--', 'sh', '-c', "trap 'echo TERM >> /run/test/got' TERM; i=0; while [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; exit 5"], { scratch });
    await e.kill('SIGTERM');
    expect(await e.status()).to.equal(5); // it kept running to its own end
    expect(got()).to.equal('TERM');
  });

  it('-g forwards to main\'s whole process group; without it only main gets the signal', async () => {
    // main starts a helper in its group that records USR1, then waits; main itself ignores USR1
    const script = "sh -c \"trap 'echo helper >> /run/test/got; exit 0' USR1; while :; do sleep 0.05; done\" & trap '' USR1; sleep 1; wait";
    const g = await start(['run', '-g', '--', 'sh', '-c', script], { scratch });
    await sleep(300);
    await g.kill('SIGUSR1');
    await waitFor(() => got() === 'helper', 5000, 'the helper to get USR1');
    await g.kill('SIGTERM');
    await g.status();
    rmSync(join(scratch, 'got'), { force: true });
    const plain = await start(['--', 'sh', '-c', script], { scratch });
    await sleep(300);
    await plain.kill('SIGUSR1');
    await sleep(700);
    expect(got(), 'the helper got nothing').to.equal('');
    await plain.kill('SIGTERM');
    await plain.status();
  });

  it('a main whose exec fails ends the container at once: 127 not found, 126 not executable, with one clear line', async () => {
    const t0 = Date.now();
    const missing = await start(['--', '/doesnotexist'], { scratch });
    expect(await missing.status(5000)).to.equal(127);
    expect(missing.stderr()).to.match(/main\/doesnotexist: unable to start: exec: \/doesnotexist: not found/);
    const denied = await start(['--', '/etc/passwd'], { scratch });
    expect(await denied.status(5000)).to.equal(126);
    expect(denied.stderr()).to.match(/exec: \/etc\/passwd: not executable/);
    expect(await (await start(['--', 'no-such-program-anywhere'], { scratch })).status(5000)).to.equal(127);
    expect(Date.now() - t0).to.be.below(15_000);
  });

  it('reaps 100 orphaned grandchildren while main runs, leaving no zombie', async () => {
    const e = await start(['--', 'sh', '-c', 'i=0; while [ $i -lt 100 ]; do (sleep 0.1 &); i=$((i+1)); done; sleep 2; exit 0'], { scratch });
    await sleep(1200);
    const zombies = descendants(e.pid).filter((p) => p.state === 'Z');
    expect(zombies.length, `zombies: ${zombies.map((z) => `${z.comm}(${z.pid})`).join(' ')}`).to.equal(0);
    expect(await e.status()).to.equal(0);
  });

  it('TERMs what is left of main\'s process group when main exits (a background child gets to clean up)', async () => {
    const bg = "sh -c \"trap 'echo cleaned > /run/test/got; exit 0' TERM; while :; do sleep 0.05; done\" &";
    const e = await start(['--', 'sh', '-c', `${bg} sleep 0.5; exit 4`], { scratch });
    expect(await e.status()).to.equal(4);
    expect(got()).to.equal('cleaned');
  });

  it('passes stdin, stdout, stderr and the environment through; metainit itself says nothing on stdout', async () => {
    const e = await start(['--', 'sh', '-c', 'read line; echo "in:$line env:$GREETING"; echo to-stderr >&2'], { scratch, env: { GREETING: 'hi' }, stdin: 'data\n' });
    expect(await e.status()).to.equal(0);
    expect(e.stdout()).to.equal('in:data env:hi\n');
    expect(e.stderr()).to.include('to-stderr');
  });

  it('not PID 1, it runs CMD as a child subreaper: status passed through, orphans reaped, nothing left in /run', async () => {
    const e = await start(['--', 'sh', '-c', '(sleep 0.2 &); sleep 1; exit 6'], { scratch, ns: false });
    await sleep(800);
    expect(descendants(e.pid).filter((p) => p.state === 'Z')).to.deep.equal([]);
    expect(await e.status()).to.equal(6);
    expect(existsSync(`/run/metainit/run-${e.pid}`)).to.equal(false);
  });

  it('gives main the terminal\'s foreground when there is one (job control: ^C and ^Z reach main)', async () => {
    // script(1) runs metainit on a new pseudo-terminal; main prints its process group and the terminal's
    const r = spawnSync('script', ['-qec', `node ${RUN_JS} -- sh -c 'echo "pg=$(ps -o pgid= -p $$ | tr -d " ") tpg=$(ps -o tpgid= -p $$ | tr -d " ")"'`, '/dev/null'], { env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
    const m = /pg=(\d+) tpg=(\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).to.not.equal(null);
    expect(m![1]).to.equal(m![2]);
  });
});

describe('ns: metainit -- CMD beside tini -- CMD (the oracle: the same exit status for the same story)', function () {
  this.timeout(120_000);
  const tini = spawnSync('sh', ['-c', 'command -v tini']).stdout?.toString().trim();
  // story: the main command, and the signal sent to PID 1 once it runs (none: it ends by itself)
  const stories: Array<[string, string[], NodeJS.Signals | undefined]> = [
    ['exits 3', ['sh', '-c', 'exit 3'], undefined],
    ['kills itself with KILL', ['sh', '-c', 'kill -KILL $$'], undefined],
    ['gets TERM', ['sleep', '100'], 'SIGTERM'],
    ['gets INT', ['sleep', '100'], 'SIGINT'],
    ['gets USR1', ['sleep', '100'], 'SIGUSR1'],
    ['gets HUP', ['sleep', '100'], 'SIGHUP'],
    ['traps TERM and exits 7', ['sh', '-c', "trap 'exit 7' TERM; while :; do sleep 0.05; done"], 'SIGTERM'],
    ['is not there', ['/doesnotexist'], undefined],
  ];
  let scratch: string;
  before(function () {
    if (!tini) this.skip();
    scratch = mkdtempSync(join(tmpdir(), 'metainit-entry-'));
  });
  after(() => scratch && rmSync(scratch, { recursive: true, force: true }));
  for (const [story, cmd, sig] of stories) {
    it(`main ${story}: the same status as under tini`, async () => {
      const run = async (init: string[]): Promise<number> => {
        const e = await start(['--', ...cmd], { scratch, init });
        if (sig) await e.kill(sig);
        return e.status();
      };
      const theirs = await run([tini!]);
      const ours = await run(['node', RUN_JS]);
      expect(ours, `tini gave ${theirs}`).to.equal(theirs);
    });
  }
});

describe('ns: metainit run --config-dir DIR -- CMD (main plus the services of DIR)', function () {
  this.timeout(60_000);
  let scratch: string;
  let dir: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'metainit-entry-'));
    dir = mkdtempSync(join(tmpdir(), 'metainit-entry-cfg-'));
    mkdirSync(join(dir, 'services.d'));
    writeFileSync(join(dir, 'services.d/side.yaml'), "exec: sh -c \"trap 'echo side-stopped >> /run/test/side; exit 0' TERM; while :; do sleep 0.05; done\"\n");
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs DIR\'s services beside main, shows main as main/NAME, and stops them when main ends, with main\'s status', async () => {
    const sock = join(scratch, 'control.sock');
    const e = await start(['run', '--config-dir', dir, '--socket', '/run/test/control.sock', '--', 'sh', '-c', 'sleep 2; exit 9'], { scratch });
    await waitFor(async () => (await metainit(['is-active', 'native/side', '--socket', sock])).code === 0, 10_000, 'native/side to run');
    const st = await metainit(['status', '--json', '--socket', sock]);
    const ids = (JSON.parse(st.stdout) as { services: Array<{ id: string; state: string }> }).services.map((s) => s.id);
    expect(ids).to.include.members(['main/sh', 'native/side']);
    expect(await e.status()).to.equal(9);
    expect(readFileSync(join(scratch, 'side'), 'utf8')).to.equal('side-stopped\n');
  });

  it('`metainit kill NAME SIG` reaches the service\'s whole process group; --main only its main process', async () => {
    writeFileSync(join(dir, 'services.d/grp.yaml'), "exec: sh -c \"sh -c \\\"trap 'echo child >> /run/test/grp; exit 0' USR1; while :; do sleep 0.05; done\\\" & trap 'echo parent >> /run/test/grp' USR1; while :; do sleep 0.05; done\"\n");
    const sock = join(scratch, 'control.sock');
    const e = await start(['run', '--config-dir', dir, '--socket', '/run/test/control.sock', '--', 'sleep', '100'], { scratch });
    await waitFor(async () => (await metainit(['is-active', 'native/grp', '--socket', sock])).code === 0, 10_000, 'native/grp to run');
    await sleep(300);
    expect((await metainit(['kill', 'native/grp', 'USR1', '--main', '--socket', sock])).code).to.equal(0);
    await waitFor(() => existsSync(join(scratch, 'grp')), 5000, 'the parent to get USR1');
    await sleep(300);
    expect(readFileSync(join(scratch, 'grp'), 'utf8')).to.equal('parent\n');
    expect((await metainit(['kill', 'native/grp', 'USR1', '--socket', sock])).code).to.equal(0);
    await waitFor(() => readFileSync(join(scratch, 'grp'), 'utf8').includes('child'), 5000, 'the child to get USR1');
    await e.kill('SIGTERM');
    expect(await e.status()).to.equal(143);
    rmSync(join(dir, 'services.d/grp.yaml'));
  });
});
