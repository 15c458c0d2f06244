/**
 * logsink.test.ts — log pipes that outlive a run and the logger process, the tail, the log file
 * and rotation, followers.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterEvent } from '../../../src/adapters/adapter.js';
import { realSys } from '../../../src/base/sys.js';
import { LoggerProcess } from '../../../src/supervisor/logger-process.js';
import { LogSink, logTarget, type LogSinkOptions, type LogTarget } from '../../../src/supervisor/logsink.js';

function run(sink: LogSink, script: string): Promise<number | null> {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', sink.stdout, sink.stderr] });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('log sink', () => {
  let tmp: string;
  let sink: LogSink | undefined;
  let logger: LoggerProcess;
  const consoleOut: string[] = [];
  const warnings: string[] = [];
  const events: AdapterEvent[] = [];
  const open = (opts: LogSinkOptions): LogSink => LogSink.open(realSys(), { ...opts, logger });
  const target = (over: Partial<LogTarget> = {}): LogTarget => ({ ...logTarget('file', tmp, 'native', 'svc'), ...over });

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'metainit-logsink-'));
    events.length = 0;
    consoleOut.length = 0;
    warnings.length = 0;
    logger = new LoggerProcess(realSys(), { console: (t) => consoleOut.push(t), warn: (m) => warnings.push(m) });
  });
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
    await logger.stop(Date.now() + 3000);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loses no line when the writer is restarted: two runs, one pipe', async () => {
    logger.follow('native/svc');
    sink = open({ id: 'native/svc', target: target(), emit: (e) => events.push(e) });
    expect(await run(sink, 'echo first-1; echo first-2 >&2; printf "first-3"')).to.equal(0);
    expect(await run(sink, 'echo second-1; echo second-2 >&2')).to.equal(0);
    await until('4 lines', async () => (await sink!.tail(100)).length >= 4);
    // the unterminated "first-3" is joined with the next run's first line: the pipe is one stream
    expect([...(await sink.tail(100))].sort()).to.deep.equal(['first-1', 'first-2', 'first-3second-1', 'second-2'].sort());
    await sink.flush();
    const file = readFileSync(join(tmp, 'native', 'svc.log'), 'utf8').trimEnd().split('\n');
    expect(file).to.have.length(4);
    for (const l of file) expect(l).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (stdout|stderr) /);
    expect(file.some((l) => l.endsWith('stderr second-2'))).to.equal(true);
    const logEvents = events.filter((e) => e.type === 'log');
    expect(logEvents).to.have.length(4);
    expect(logEvents[0]).to.include({ type: 'log', id: 'native/svc' });
  });

  it('survives an unwritable log file: says so once, closes at once, and writes the kept lines when the path comes back', async () => {
    const errors: string[] = [];
    writeFileSync(join(tmp, 'blocked'), ''); // a file where the log directory should be: ENOTDIR
    const file = join(tmp, 'blocked', 'svc.log');
    sink = open({ id: 'native/svc', target: target({ file }), emit: () => {}, onError: (m) => errors.push(m) });
    await run(sink, 'echo one; echo two');
    await until('the error', () => errors.length > 0);
    expect(errors[0]).to.match(/^native\/svc: unable to write .*blocked\/svc\.log: .*\(fix: free space or make the path writable; writing resumes by itself/);
    await sink.flush(); // returns although the write is failing
    rmSync(join(tmp, 'blocked'));
    await until('the retried write', () => existsSync(file) && readFileSync(file, 'utf8').includes('stdout two'), 5000);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(1).join(' '))).to.deep.equal(['stdout one', 'stdout two']);
    // the logger says so once the queued lines are written: the message may come just after the file has them
    await until('the recovery message', () => /writing .*svc\.log again$/.test(errors.at(-1) ?? ''), 5000);
    expect(errors.filter((e) => /unable to write/.test(e)), 'one error for the whole streak').to.have.length(1);
  });

  it('closes without waiting for a file that cannot be written', async () => {
    writeFileSync(join(tmp, 'blocked'), '');
    sink = open({ id: 'native/svc', target: target({ file: join(tmp, 'blocked', 'x.log') }), emit: () => {}, onError: () => {} });
    await run(sink, 'echo a');
    await until('a', async () => (await sink!.tail(5)).includes('a'));
    const t0 = Date.now();
    await sink.close();
    sink = undefined;
    expect(Date.now() - t0, 'close() of a failing file').to.be.below(2000);
  });

  it('with when_full: drop, drops what the file cannot take and counts it in one marker line', async () => {
    writeFileSync(join(tmp, 'blocked'), '');
    const file = join(tmp, 'blocked', 'x.log');
    sink = open({ id: 'native/svc', target: target({ file, whenFull: 'drop', tail: 10, maxSize: 100 * 1024 * 1024 }), emit: () => {}, onError: () => {} });
    // 3 MiB of lines while the file cannot be written: beyond 1 MiB queued they are dropped
    await run(sink, 'i=0; while [ $i -lt 30000 ]; do echo "line $i ................................................................................................"; i=$((i+1)); done');
    await until('the last line read', async () => ((await sink!.tail(1))[0] ?? '').startsWith('line 29999 '), 10_000);
    expect(existsSync(file)).to.equal(false);
    rmSync(join(tmp, 'blocked'));
    await until('the marker', () => existsSync(file) && /metainit: \d+ line\(s\) dropped: the log file could not keep up/.test(readFileSync(file, 'utf8')), 10_000);
    const text = readFileSync(file, 'utf8');
    const kept = text.split('\n').filter((l) => / stdout line \d+/.test(l)).length;
    const dropped = Number(/metainit: (\d+) line\(s\) dropped/.exec(text)![1]);
    expect(kept + dropped, 'every line either written or counted').to.equal(30000);
    expect(dropped).to.be.above(0);
  });

  it('keeps only the last `tail` lines in memory', async () => {
    sink = open({ id: 'native/svc', target: target({ to: 'none', tail: 3 }), emit: () => {} });
    await run(sink, 'for i in 1 2 3 4 5 6; do echo line-$i; done');
    await until('line-6', async () => (await sink!.tail(10)).includes('line-6'));
    expect(await sink.tail(10)).to.deep.equal(['line-4', 'line-5', 'line-6']);
    expect(await sink.tail(2)).to.deep.equal(['line-5', 'line-6']);
    expect(existsSync(join(tmp, 'native', 'svc.log'))).to.equal(false);
  });

  it('rotates at max_size and keeps `keep` old files', async () => {
    sink = open({ id: 'native/svc', target: target({ maxSize: 400, keep: 2 }), emit: () => {} });
    // 60 lines of ~41 bytes with the timestamp: ≈ 6 files' worth; only svc.log, .1 and .2 remain
    await run(sink, 'i=0; while [ $i -lt 60 ]; do echo "line-$(printf %03d $i)"; i=$((i+1)); done');
    await until('line-059', async () => (await sink!.tail(100)).includes('line-059'));
    await sink.flush();
    const base = join(tmp, 'native', 'svc.log');
    expect([base, `${base}.1`, `${base}.2`].map(existsSync)).to.deep.equal([true, true, true]);
    expect(existsSync(`${base}.3`)).to.equal(false);
    for (const f of [base, `${base}.1`, `${base}.2`]) expect(statSync(f).size).to.be.at.most(400);
    const current = readFileSync(base, 'utf8');
    expect(current.trimEnd().endsWith('line-059')).to.equal(true);
    // .1 holds the lines just before those of the current file: nothing lost in between
    const lastOfOlder = readFileSync(`${base}.1`, 'utf8').trimEnd().split('\n').pop()!;
    const firstOfCurrent = current.split('\n')[0]!;
    expect(Number(firstOfCurrent.slice(-3)) - Number(lastOfOlder.slice(-3))).to.equal(1);
  });

  it('console target writes [instance/name] line on the logger\'s stdout', async () => {
    sink = open({ id: 'native/svc', target: target({ to: 'console' }), emit: () => {} });
    await run(sink, 'echo hello; echo world');
    await until('world', () => consoleOut.join('').includes('world'));
    expect(consoleOut.join('')).to.equal('[native/svc] hello\n[native/svc] world\n');
  });

  it('loses no line when the logger process is killed: it is started again and reads on from the pipe', async () => {
    sink = open({ id: 'native/svc', target: target(), emit: () => {} });
    await run(sink, 'echo before');
    await until('before', async () => (await sink!.tail(5)).includes('before'));
    await sink.flush(); // what a killed logger had read but not yet written is gone, as with s6-log
    const pid = logger.pid!;
    process.kill(pid, 'SIGKILL');
    await until('the logger gone', () => logger.pid !== pid);
    // written while no logger runs: waits in the pipe
    await run(sink, 'i=0; while [ $i -lt 200 ]; do echo "while-down-$i"; i=$((i+1)); done');
    await until('the restarted logger', () => logger.pid !== undefined && logger.pid !== pid, 5000);
    await until('the last line', async () => (await sink!.tail(1))[0] === 'while-down-199', 5000);
    await sink.flush();
    const lines = readFileSync(join(tmp, 'native', 'svc.log'), 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(2).join(' '));
    expect(lines).to.deep.equal(['before', ...Array.from({ length: 200 }, (_, i) => `while-down-${i}`)]);
    expect(warnings.some((w) => /logger: exited \(SIGKILL\); starting it again/.test(w))).to.equal(true);
  });

  it('sends lines to PID 1 only while someone follows the service', async () => {
    sink = open({ id: 'native/svc', target: target(), emit: (e) => events.push(e) });
    await run(sink, 'echo unfollowed');
    await until('unfollowed', async () => (await sink!.tail(5)).includes('unfollowed'));
    const unfollow = logger.follow('native/svc');
    await run(sink, 'echo followed-1; echo followed-2 >&2');
    await until('two events', () => events.length >= 2);
    unfollow();
    await logger.flush(); // the unfollow is through once an answer after it came
    await run(sink, 'echo unfollowed-again');
    await until('the last line', async () => (await sink!.tail(1))[0] === 'unfollowed-again');
    expect(events.map((e) => (e.type === 'log' ? `${e.stream} ${e.line}` : e.type)).sort()).to.deep.equal(['stderr followed-2', 'stdout followed-1']);
  });

  it('out of descriptors for the second pipe, closes the first: a retry after EMFILE leaks nothing', () => {
    const sys = realSys();
    const made: number[] = [];
    let calls = 0;
    const scarce = {
      ...sys,
      pipe: (): [number, number] => {
        if (++calls === 2) throw Object.assign(new Error('pipe2: Too many open files'), { code: 'EMFILE' });
        const p = sys.pipe();
        made.push(...p);
        return p;
      },
    };
    expect(() => LogSink.open(scarce, { id: 'native/svc', target: target(), emit: () => {}, logger })).to.throw(/Too many open files/);
    expect(made).to.have.length(2);
    for (const fd of made) expect(existsSync(`/proc/self/fd/${fd}`), `fd ${fd} closed`).to.equal(false);
  });

  it('re-opens the pipes of a previous incarnation (re-exec) and marks them close-on-exec again', async () => {
    const sys = realSys();
    const [stdoutReadFd, stdoutWriteFd] = sys.pipe();
    const [stderrReadFd, stderrWriteFd] = sys.pipe();
    const fds = { stdoutReadFd, stdoutWriteFd, stderrReadFd, stderrWriteFd };
    for (const fd of Object.values(fds)) sys.setCloexec(fd, false); // as execve leaves them
    sink = LogSink.adopt(sys, { id: 'native/svc', target: target({ to: 'none' }), emit: () => {}, logger }, fds);
    expect(sink.fds).to.deep.equal(fds);
    const O_CLOEXEC = 0o2000000;
    for (const fd of Object.values(fds)) {
      const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      expect(flags & O_CLOEXEC, `fd ${fd}`).to.equal(O_CLOEXEC);
    }
    await run(sink, 'echo after-reexec');
    await until('line', async () => (await sink!.tail(5)).length > 0);
    expect(await sink.tail(5)).to.deep.equal(['after-reexec']);
  });
});
