/**
 * hostile.test.ts — PID 1 against what a hostile or careless user hands it (issue 9), booted as
 * PID 1 of a PID namespace (harness.ts) with a configuration made per test in a temporary
 * directory (a FIFO cannot live in git):
 *
 *   - a FIFO among the service files: one clear error naming it, the rest runs, PID 1 answers,
 *     and `metainit check` of the same directory ends (a plain read would wait for a writer);
 *   - a service whose log file can never be written, printing all the time: PID 1 still shuts
 *     down on SIGTERM within shutdown.timeout;
 *   - a request nested 20 000 deep on the control socket: an error answer, and the request after
 *     it in the same write is answered too;
 *   - `metainit status | head -1`: the CLI ends quietly when its reader goes;
 *   - the state file of a re-exec lives under run_dir, one per metainit (PID namespace);
 *   - a crash loop (every image aborts: METAINIT_INJECT_FAULT=loop-abort:MS): after
 *     fallback.crashes crashes PID 1 becomes fallback.exec, or exits 1 in container mode.
 */
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, metainit, REPO, type Ns } from './harness.js';

/** A configuration directory: metainit.yaml and services.d/<name>.yaml from `services` (YAML text). */
function config(global: string, services: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'metainit-hostile-'));
  mkdirSync(join(dir, 'services.d'));
  writeFileSync(join(dir, 'metainit.yaml'), global);
  for (const [name, text] of Object.entries(services)) writeFileSync(join(dir, 'services.d', `${name}.yaml`), text);
  return dir;
}

/** Send `text` in one write on the control socket; resolve with the first `n` answer lines. */
function rawRequest(sock: string, text: string, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let got = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no ${n} answers within 10 s, got: ${got.slice(0, 300)}`));
    }, 10_000);
    c.on('error', reject);
    c.on('data', (b: Buffer) => {
      got += b.toString();
      const lines = got.split('\n').filter(Boolean);
      if (lines.length >= n) {
        clearTimeout(timer);
        c.destroy();
        resolve(lines.slice(0, n));
      }
    });
    c.write(text);
  });
}

describe('ns: hostile input (PID 1 keeps running and answering)', function () {
  this.timeout(120_000);
  let ns: Ns | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await ns?.cleanup();
    ns = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a FIFO among the service files is one clear error; the other services run and check ends', async () => {
    const dir = config('log_dir: /run/metainit/log\n', { good: 'exec: sleep 1000\n' });
    dirs.push(dir);
    execFileSync('mkfifo', [join(dir, 'services.d', 'pipe.yaml')]);
    ns = await bootNs({ configDir: dir });
    expect((await ns.service('native/good')).state).to.equal('running');
    const check = await metainit(['check', '--config-dir', dir]);
    expect(check.code, 'check fails, and ends').to.not.equal(0);
    expect(check.stdout + check.stderr).to.include(`${join(dir, 'services.d', 'pipe.yaml')}: unable to load service native/pipe: is a FIFO, not a regular file (fix: replace it with a regular YAML file, or remove it)`);
    await ns.waitFor(() => /pipe\.yaml: unable to load service native\/pipe: is a FIFO/.test(ns!.console()), 10_000, 'the FIFO named in PID 1\'s log');
    // a sync reads the directory again: still answered
    expect((await ns.cli(['sync'])).code).to.not.equal(null);
    expect((await ns.cli(['status'])).code).to.equal(0);
  });

  it('a log file that can never be written does not hold up SIGTERM beyond shutdown.timeout', async () => {
    const dir = config('log_dir: /run/metainit/log\nshutdown: {grace: 1s, timeout: 5s}\n', {
      chatty: "exec: /bin/sh -c 'while :; do echo chatter; sleep 0.1; done'\nlog: {file: /dev/null/x.log}\n",
    });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(() => /unable to write \/dev\/null\/x\.log/.test(ns!.console()), 10_000, 'the log error');
    const logs = await ns.cli(['logs', 'native/chatty', '-n', '3']);
    expect(logs.stdout, 'the tail still works').to.include('chatter');
    const t0 = Date.now();
    ns.kill('SIGTERM');
    const exit = await ns.waitExit(20_000);
    expect(Date.now() - t0, 'ended within shutdown.timeout (5 s) and a margin').to.be.below(12_000);
    expect(exit.code).to.equal(0);
  });

  it('a service flooding its output: PID 1 never reads it (RSS flat), it keeps answering, the logger rotates the file', async () => {
    const dir = config('log_dir: /run/test/log\n', {
      flood: `exec: /bin/sh -c 'exec yes "$(printf "%099d" 0)"'\nlog: {max_size: 4M, keep: 1}\n`,
    });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    const rss = (): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${ns!.pid1}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const start = rss();
    let peak = start;
    let slowest = 0;
    for (let i = 0; i < 16; i++) {
      const t0 = Date.now();
      const r = await ns.cli(['status']);
      slowest = Math.max(slowest, Date.now() - t0);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/native\/flood\s+running/);
      peak = Math.max(peak, rss());
      await new Promise((res) => setTimeout(res, 500));
    }
    // the logger process moves the bytes: PID 1's memory does not follow the flood (it grew by
    // 48 MiB when PID 1 read the pipes itself)
    expect(peak - start, `PID 1 RSS grew from ${start.toFixed(1)} to ${peak.toFixed(1)} MiB`).to.be.below(12);
    expect(slowest, 'every status answered (ms, generous: a 2-core machine)').to.be.below(5000);
    await ns.waitFor(() => existsSync(join(ns!.scratch, 'log/native/flood.log.1')), 10_000, 'the log file rotated (flood.log.1)');
  });

  it('500 finished oneshots hold no descriptors, and one restarted runs and logs again', async () => {
    const dir = config('log_dir: /run/test/log\n', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`o${i}`, `exec: /bin/echo done ${i}\noneshot: true\n`])));
    dirs.push(dir);
    ns = await bootNs({ configDir: dir, bootTimeoutMs: 60_000 });
    await ns.waitFor(async () => (await ns!.status()).filter((s) => s.state === 'ok').length === 500, 90_000, '500 oneshots ok');
    await ns.waitFor(() => readdirSync(`/proc/${ns!.pid1}/fd`).length < 100, 10_000, `PID 1's descriptors back under 100 (now ${readdirSync(`/proc/${ns.pid1}/fd`).length})`);
    expect((await ns.cli(['restart', 'native/o7'])).code).to.equal(0);
    await ns.waitFor(async () => (await ns!.cli(['logs', 'native/o7'])).stdout.split('\n').filter((l) => l.includes('done 7')).length === 2, 10_000, 'the second run logged');
  });

  it('out of descriptors (EMFILE): services that cannot get their pipes are retried until they can, nothing leaks', async () => {
    // 45 descriptors for PID 1 and everything it starts, 20 oneshots of 4 pipe ends each: not
    // all of them can have pipes at once; as the first ones finish and release theirs, the rest
    // get them. None may end in `error`, and no half-made pipe may be left behind.
    const dir = config('log_dir: /run/test/log\n', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`o${i}`, `exec: /bin/sh -c 'echo run ${i}; sleep 0.5'\noneshot: true\n`])));
    dirs.push(dir);
    ns = await bootNs({ configDir: dir, nofile: 45 });
    await ns.waitFor(async () => (await ns!.status()).filter((s) => s.state === 'ok').length === 20, 30_000, '20 oneshots ok');
    expect(ns.console()).to.match(/respawn — unable to start: pipe2?: Too many open files \(a passing shortage: trying again in/);
    expect((await ns.status()).filter((s) => s.state === 'error')).to.deep.equal([]);
    await ns.waitFor(() => readdirSync(`/proc/${ns!.pid1}/fd`).length < 30, 10_000, `PID 1's descriptors back (now ${readdirSync(`/proc/${ns.pid1}/fd`).length})`);
    for (const i of [0, 19]) expect((await ns.cli(['logs', `native/o${i}`])).stdout).to.include(`run ${i}`);
  });

  it('answers a request nested 20 000 deep with an error, and the next request of the same write too', async () => {
    const dir = config('log_dir: /run/metainit/log\n', { good: 'exec: sleep 1000\n' });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const [first, second] = await rawRequest(ns.sock, `{"v":1,"method":"status","id":${deep}}\n{"v":1,"id":2,"method":"status"}\n`, 2);
    expect(JSON.parse(first!)).to.deep.include({ id: null });
    expect(JSON.parse(first!).error.code).to.equal('bad-request');
    expect(JSON.parse(second!)).to.deep.include({ id: 2 });
    expect(JSON.parse(second!).result.services.map((s: { id: string }) => s.id)).to.include('native/good');
  });

  it('`metainit status | head -1` ends quietly: no EPIPE, no stack trace', async () => {
    const dir = config('log_dir: /run/metainit/log\n', Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`s${i}`, 'exec: sleep 1000\n'])));
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile('/bin/sh', ['-c', `"${process.execPath}" "${join(REPO, 'bin/run.js')}" status --socket "${ns!.sock}" | head -1`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } }, (_e, stdout, stderr) => resolve({ stdout, stderr })),
    );
    expect(r.stdout.split('\n').filter(Boolean)).to.have.length(1);
    expect(r.stderr).to.not.match(/EPIPE|at .*\.js:\d+/);
  });

  it('in a crash loop hands PID 1 to fallback.exec instead of re-executing for ever', async () => {
    const dir = config('log_dir: /run/metainit/log\nfallback: {exec: "echo fallback-ran > /run/test/fallback; exec sleep 1000", crashes: 3, within: 60s}\n', { good: 'exec: sleep 1000\n' });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir, env: { METAINIT_INJECT_FAULT: 'loop-abort:1500' } });
    await ns.waitFor(() => ns!.read('fallback').trim() === 'fallback-ran', 60_000, 'the fallback running');
    expect(readFileSync(`/proc/${ns.pid1}/comm`, 'utf8').trim(), 'PID 1 is the fallback now').to.equal('sleep');
    expect(ns.console()).to.match(/metainit: crashed 3 times within 60 s \(fallback\.crashes 3, fallback\.within 60 s\); see the errors above: PID 1 becomes the fallback \/bin\/sh -c echo fallback-ran/);
    expect(ns.console().match(/starting as pid 1 in container mode \(re-exec\)/g), 'two re-executed images before the fallback').to.have.length(2);
  });

  it('in a crash loop in container mode without fallback.exec, exits 1 with the reason', async () => {
    const dir = config('log_dir: /run/metainit/log\nfallback: {crashes: 2, within: 60s}\n', { good: 'exec: sleep 1000\n' });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir, env: { METAINIT_INJECT_FAULT: 'loop-abort:1500' } });
    const exit = await ns.waitExit(60_000);
    expect(exit.code).to.equal(1);
    expect(ns.console()).to.match(/crashed 2 times within 60 s .*: exiting with status 1 instead of crashing again \(fix: set fallback\.exec in metainit\.yaml/);
  });

  it('keeps its re-exec state under run_dir, named for its PID namespace', async () => {
    const dir = config('log_dir: /run/metainit/log\nrun_dir: /run/test/rundir\n', { good: 'exec: sleep 1000\n' });
    dirs.push(dir);
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(() => existsSync(join(ns!.scratch, 'rundir')) && readdirSync(join(ns!.scratch, 'rundir')).some((f) => /^state-\d+\.json$/.test(f)), 10_000, 'a state file in run_dir');
    expect(existsSync(join(ns.scratch, 'rundir', 'state.json'))).to.equal(false);
  });
});
