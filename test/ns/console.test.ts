/**
 * console.test.ts — `metainit console NAME` on a native service with `console: true`: what a
 * viewer types reaches the program on its pty, every viewer attached sees its answer, the lines
 * are in its log too, and a service without a console says so.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNs, cleanEnv, RUN_JS, type Ns } from './harness.js';

describe('ns: metainit console NAME (a native service with console: true)', function () {
  this.timeout(60_000);
  let dir: string;
  let ns: Ns;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-console-'));
    mkdirSync(join(dir, 'services.d'));
    writeFileSync(join(dir, 'services.d/repl.yaml'), "exec: sh -c 'stty -echo; echo ready; while read l; do echo \"got:$l\"; done'\nconsole: true\n");
    writeFileSync(join(dir, 'services.d/plain.yaml'), 'exec: sleep 1000\n');
    ns = await bootNs({ configDir: dir });
    await ns.waitFor(async () => (await ns.service('native/repl')).state === 'running', 10_000, 'repl running');
  });
  after(async () => {
    await ns?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** a viewer that types `input` after a moment and is detached after `ms` */
  const view = (input: string | undefined, ms = 2500): Promise<string> =>
    new Promise((resolve) => {
      const c = spawn(process.execPath, [RUN_JS, 'console', 'native/repl', '--socket', ns.sock], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      if (input !== undefined) setTimeout(() => c.stdin.write(input), 700);
      setTimeout(() => c.kill('SIGTERM'), ms);
      c.once('exit', () => resolve(text.replace(/\r/g, '')));
    });

  it('what a viewer types reaches the program; every viewer attached sees the answer and the scrollback', async () => {
    const [typist, watcher] = await Promise.all([view('hello\n'), view(undefined)]);
    expect(typist).to.match(/^ready$/m); // the scrollback: printed before anyone attached
    expect(typist).to.match(/^got:hello$/m);
    expect(watcher).to.match(/^got:hello$/m);
  });

  it('the console\'s lines are in the service\'s log too', async () => {
    const logs = await ns.cli(['logs', 'native/repl']);
    expect(logs.stdout).to.match(/^got:hello$/m);
  });

  it('a service without a console says so, naming the fix', async () => {
    const r = await ns.cli(['console', 'native/plain']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('native/plain: unable to attach to its console: it has none');
  });

  it('after a restart the new run has a console again', async () => {
    expect((await ns.cli(['restart', 'native/repl'])).code).to.equal(0);
    expect(await view('again\n')).to.match(/^got:again$/m);
  });
});
