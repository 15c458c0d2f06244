/**
 * pty-runner.test.ts — commands on ptys of their own: output kept per run, timeouts, detaching.
 *
 * Real processes (sh, sleep) on real ptys; no namespace and no reaper needed (node-pty reaps
 * its own children). Every run ends within the test, killed by its timeout if need be.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { cleanLine, LineTail, runOnPty } from '../../../src/supervisor/pty-runner.js';

const env = { PATH: '/usr/bin:/bin', TERM: 'dumb' };

describe('pty-runner', function () {
  this.timeout(20_000);

  it('keeps the output of parallel runs apart, line by line, with exit codes', async () => {
    const a = runOnPty({ argv: ['sh', '-c', 'for i in 1 2 3; do echo "a$i"; sleep 0.05; done; exit 3'], env });
    const b = runOnPty({ argv: ['sh', '-c', 'for i in 1 2 3; do echo "b$i"; sleep 0.05; done'], env });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra).to.include({ code: 3, signal: null, timedOut: false });
    expect(ra.lines).to.deep.equal(['a1', 'a2', 'a3']);
    expect(rb).to.include({ code: 0 });
    expect(rb.lines).to.deep.equal(['b1', 'b2', 'b3']);
  });

  it('removes carriage returns and colour codes, and keeps a last line without newline', async () => {
    const lines: string[] = [];
    const r = await runOnPty({ argv: ['printf', '\\033[1;32mok\\033[0m\\r\\nlast'], env, onLine: (l) => lines.push(l) }).done;
    expect(r.lines).to.deep.equal(['ok', 'last']);
    expect(lines).to.deep.equal(['ok', 'last']);
    expect(cleanLine('\x1b]0;title\x07x\r')).to.equal('x');
  });

  it('SIGKILLs the whole group when the timeout passes, background children included', async () => {
    const r = await runOnPty({ argv: ['sh', '-c', 'sleep 30 & echo "bg $!"; wait'], env, timeoutMs: 300 }).done;
    expect(r.timedOut).to.equal(true);
    expect(r.signal).to.equal('SIGKILL');
    const bg = Number(r.lines[0]!.split(' ')[1]);
    await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(`/proc/${bg}`) && !/\) Z /.test(readFileSync(`/proc/${bg}/stat`, 'utf8'))).to.equal(false);
  });

  it('detached: no controlling terminal, yet output on a terminal, and the timeout still reaches it', async () => {
    const r = await runOnPty({ argv: ['sh', '-c', '[ -t 1 ] && echo tty; ps -o tty= -p $$; ps -o sid= -p $$'], env, detach: true }).done;
    expect(r.code).to.equal(0);
    expect(r.lines[0]).to.equal('tty');
    expect(r.lines[1]!.trim()).to.equal('?');
    const hung = await runOnPty({ argv: ['sh', '-c', 'echo $$; sleep 30'], env, detach: true, timeoutMs: 300 }).done;
    expect(hung.timedOut).to.equal(true);
    const sh = Number(hung.lines[0]);
    await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(`/proc/${sh}`) && !/\) Z /.test(readFileSync(`/proc/${sh}/stat`, 'utf8'))).to.equal(false);
  });

  it('reports a program that cannot be executed as a failed run, not an exception', async () => {
    const r = await runOnPty({ argv: ['/nonexistent/program'], env }).done;
    expect(r.code).to.equal(1);
    expect(r.lines.join('\n')).to.match(/execvp\(3\) failed/);
  });

  it('keeps the last lines of a service across runs', () => {
    const t = new LineTail(3);
    for (const l of ['1', '2', '3', '4']) t.push(l);
    expect(t.last(10)).to.deep.equal(['2', '3', '4']);
    expect(t.last(2)).to.deep.equal(['3', '4']);
    expect(t.last(0)).to.deep.equal([]);
  });
});
