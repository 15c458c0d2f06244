/**
 * logsink.test.ts — log pipes that outlive a run, the in-memory tail, the log file and rotation.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterEvent } from '../../../src/adapters/adapter.js';
import { realSys } from '../../../src/base/sys.js';
import { LogSink, logTarget, type LogTarget } from '../../../src/supervisor/logsink.js';

function run(sink: LogSink, script: string): Promise<number | null> {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', sink.stdout, sink.stderr] });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

async function until(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('log sink', () => {
  let tmp: string;
  let sink: LogSink | undefined;
  const events: AdapterEvent[] = [];
  const target = (over: Partial<LogTarget> = {}): LogTarget => ({ ...logTarget('file', tmp, 'native', 'svc'), ...over });

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'metainit-logsink-'));
    events.length = 0;
  });
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loses no line when the writer is restarted: two runs, one pipe', async () => {
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target(), emit: (e) => events.push(e) });
    expect(await run(sink, 'echo first-1; echo first-2 >&2; printf "first-3"')).to.equal(0);
    expect(await run(sink, 'echo second-1; echo second-2 >&2')).to.equal(0);
    await until('4 lines', () => sink!.tail(100).length >= 4);
    // the unterminated "first-3" is joined with the next run's first line: the pipe is one stream
    expect([...sink.tail(100)].sort()).to.deep.equal(['first-1', 'first-2', 'first-3second-1', 'second-2'].sort());
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
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ file }), emit: () => {}, onError: (m) => errors.push(m) });
    await run(sink, 'echo one; echo two');
    await until('the error', () => errors.length > 0);
    expect(errors[0]).to.match(/^native\/svc: unable to write .*blocked\/svc\.log: .*\(fix: free space or make the path writable; writing resumes by itself/);
    await sink.flush(); // returns although the write is failing
    rmSync(join(tmp, 'blocked'));
    await until('the retried write', () => existsSync(file) && readFileSync(file, 'utf8').includes('stdout two'), 5000);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.split(' ').slice(1).join(' '))).to.deep.equal(['stdout one', 'stdout two']);
    expect(errors.filter((e) => /unable to write/.test(e)), 'one error for the whole streak').to.have.length(1);
    expect(errors.at(-1)).to.match(/writing .*svc\.log again$/);
  });

  it('closes without waiting for a file that cannot be written', async () => {
    writeFileSync(join(tmp, 'blocked'), '');
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ file: join(tmp, 'blocked', 'x.log') }), emit: () => {}, onError: () => {} });
    await run(sink, 'echo a');
    await until('a', () => sink!.tail(5).includes('a'));
    const t0 = Date.now();
    await sink.close();
    sink = undefined;
    expect(Date.now() - t0, 'close() of a failing file').to.be.below(2000);
  });

  it('with when_full: drop, drops what the file cannot take and counts it in one marker line', async () => {
    writeFileSync(join(tmp, 'blocked'), '');
    const file = join(tmp, 'blocked', 'x.log');
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ file, whenFull: 'drop', tail: 10, maxSize: 100 * 1024 * 1024 }), emit: () => {}, onError: () => {} });
    // 3 MiB of lines while the file cannot be written: beyond 1 MiB queued they are dropped
    await run(sink, 'i=0; while [ $i -lt 30000 ]; do echo "line $i ................................................................................................"; i=$((i+1)); done');
    await until('the last line read', () => (sink!.tail(1)[0] ?? '').startsWith('line 29999 '), 10_000);
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
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ to: 'none', tail: 3 }), emit: () => {} });
    await run(sink, 'for i in 1 2 3 4 5 6; do echo line-$i; done');
    await until('line-6', () => sink!.tail(10).includes('line-6'));
    expect(sink.tail(10)).to.deep.equal(['line-4', 'line-5', 'line-6']);
    expect(sink.tail(2)).to.deep.equal(['line-5', 'line-6']);
    expect(existsSync(join(tmp, 'native', 'svc.log'))).to.equal(false);
  });

  it('rotates at max_size and keeps `keep` old files', async () => {
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ maxSize: 400, keep: 2 }), emit: () => {} });
    // 60 lines of ~41 bytes with the timestamp: ≈ 6 files' worth; only svc.log, .1 and .2 remain
    await run(sink, 'i=0; while [ $i -lt 60 ]; do echo "line-$(printf %03d $i)"; i=$((i+1)); done');
    await until('line-059', () => sink!.tail(100).includes('line-059'));
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

  it('console target writes [instance/name] line', async () => {
    const out: string[] = [];
    sink = LogSink.open(realSys(), { id: 'native/svc', target: target({ to: 'console' }), emit: () => {}, console: (t) => out.push(t) });
    await run(sink, 'echo hello');
    await until('hello', () => out.length > 0);
    expect(out).to.deep.equal(['[native/svc] hello\n']);
  });

  it('re-opens the pipes of a previous incarnation (re-exec) and marks them close-on-exec again', async () => {
    const sys = realSys();
    const [stdoutReadFd, stdoutWriteFd] = sys.pipe();
    const [stderrReadFd, stderrWriteFd] = sys.pipe();
    const fds = { stdoutReadFd, stdoutWriteFd, stderrReadFd, stderrWriteFd };
    for (const fd of Object.values(fds)) sys.setCloexec(fd, false); // as execve leaves them
    sink = LogSink.adopt(sys, { id: 'native/svc', target: target({ to: 'none' }), emit: () => {} }, fds);
    expect(sink.fds).to.deep.equal(fds);
    const O_CLOEXEC = 0o2000000;
    for (const fd of Object.values(fds)) {
      const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      expect(flags & O_CLOEXEC, `fd ${fd}`).to.equal(O_CLOEXEC);
    }
    await run(sink, 'echo after-reexec');
    await until('line', () => sink!.tail(5).length > 0);
    expect(sink.tail(5)).to.deep.equal(['after-reexec']);
  });
});
