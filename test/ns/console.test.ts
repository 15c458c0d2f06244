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
import { assertOverlay, overlayBoot, whyNot, type OverlayBoot } from './testbed-root.js';

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

describe('ns: metainit console sysv/NAME (an init script asking on its terminal)', function () {
  this.timeout(90_000);
  let ns: Ns | undefined;
  let boot: OverlayBoot | undefined;
  before(async function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      return this.skip();
    }
    boot = overlayBoot('sysv-console');
    ns = await bootNs(boot.options);
    assertOverlay(ns);
  });
  after(async () => {
    await ns?.cleanup();
    boot?.dispose();
  });

  it('attaches to the script\'s pty while its start waits; the line typed lets it finish', async () => {
    const n = ns!;
    await n.waitFor(async () => (await n.service('sysv/asker')).state === 'starting', 20_000, 'asker waiting in its start');
    const seen = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [RUN_JS, 'console', 'sysv/asker', '--socket', n.sock], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      setTimeout(() => c.stdin.write('open sesame\n'), 700);
      setTimeout(() => c.kill('SIGTERM'), 2500);
      c.once('exit', () => resolve(text.replace(/\r/g, '')));
    });
    expect(seen).to.include('passphrase for asker: '); // the scrollback: asked before anyone attached
    expect(seen).to.match(/thanks: open sesame/);
    await n.waitFor(async () => (await n.service('sysv/asker')).state !== 'starting', 10_000, 'asker done with its start once answered');
    const st = await n.service('sysv/asker');
    expect(st.state, JSON.stringify(st)).to.be.oneOf(['running', 'ok']);
  });
});
