/**
 * survive.test.ts — "PID 1 never dies", each case in a child node process (the survival net
 * takes over process-wide handlers, which must not happen to mocha itself): uncaught errors and
 * stray exits are logged and survived, an empty event loop does not end the process, and both a
 * crash (process.abort) and `reexec` re-execute the image in place in re-adopt mode.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from '../wait-for.js';

const dist = (rel: string): string => new URL(`../../../${rel}`, import.meta.url).href;
const childEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '' };

/** The head of every child script: a console logger and the modules under test. */
const prelude = `
import { installSurvival, reexecNow } from '${dist('src/pid1/survive.js')}';
import { realSys } from '${dist('src/base/sys.js')}';
import { createFakeSys } from '${dist('test/unit/fake-sys.js')}';
const log = { info: (m) => console.log('info: ' + m), warn: (m) => console.log('warning: ' + m), error: (m) => console.log('error: ' + m) };
`;

function runModule(body: string, args: string[] = []): { status: number | null; signal: string | null; stdout: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', prelude + body, '--', ...args], { env: childEnv, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout };
}

describe('survive', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'metainit-survive-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('logs an uncaught throw, an unhandled rejection and a stray process.exit(3), and keeps running until allowExit', () => {
    const r = runModule(`
      const sys = createFakeSys({ armCrashExec: () => {} });
      const survival = installSurvival({ sys, log, execPath: '/usr/bin/node', argv: ['/opt/metainit/bin/run.js'],
        bootArgs: [], env: [], stateFile: '/run/metainit/state.json', keepFds: () => [] });
      setTimeout(() => { throw new Error('boom'); }, 0);
      setTimeout(() => { process.exit(3); console.log('exit returned'); }, 20);
      setTimeout(() => { Promise.reject(new Error('nope')); }, 40);
      setTimeout(() => { console.log('STILL ALIVE'); survival.allowExit(5); }, 200);
    `);
    const lines = r.stdout.split('\n');
    expect(r.status).to.equal(5);
    expect(lines).to.include('error: unable to continue a callback: Error: boom');
    expect(lines.some((l) => /^error: unable to exit\(3\) called by .*: PID 1 must keep running \(ignored\)$/.test(l))).to.equal(true);
    expect(lines).to.include('exit returned');
    expect(lines).to.include('error: unable to continue an asynchronous task: Error: nope');
    expect(lines).to.include('STILL ALIVE');
  });

  it('arms the crash guard to start `boot` again in re-adopt mode, with the kept descriptors', () => {
    const r = runModule(`
      const sys = createFakeSys({ armCrashExec: (...a) => console.log('ARMED ' + JSON.stringify(a)) });
      let fds = [7];
      const survival = installSurvival({ sys, log, execPath: '/usr/bin/node', argv: ['--stack-size=2000', '/opt/metainit/bin/run.js'],
        bootArgs: ['--container', '--reexec-state', '/old/state.json'], env: ['A=1'], stateFile: '/run/metainit/state.json', keepFds: () => fds });
      fds = [7, 9];
      survival.rearm();
      survival.allowExit(0);
    `);
    const argv = ['/usr/bin/node', '--stack-size=2000', '/opt/metainit/bin/run.js', 'boot', '--container', '--reexec-state', '/run/metainit/state.json'];
    expect(r.stdout.trim().split('\n')).to.deep.equal([
      'ARMED ' + JSON.stringify(['/usr/bin/node', argv, ['A=1'], [7]]),
      'ARMED ' + JSON.stringify(['/usr/bin/node', argv, ['A=1'], [7, 9]]),
    ]);
  });

  it('keeps the process alive when its event loop runs empty', async () => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', prelude + `installSurvival({ sys: createFakeSys({ armCrashExec: () => {} }), log, execPath: '', argv: [], bootArgs: [], env: [], stateFile: '', keepFds: () => [] }); console.log('READY');`],
      { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await within(new Promise((resolve) => child.stdout.once('data', resolve)), 'the child start');
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).to.equal(null);
    child.kill('SIGKILL');
  });

  for (const how of ['abort', 'reexec'] as const) {
    it(`${how === 'abort' ? 'a crash (process.abort)' : 'reexecNow()'} re-executes the image in place with the re-adopt arguments`, () => {
      // the script is its own next image: run.js-like, it reports how it was started the second time
      const script = join(dir, `image-${how}.mjs`);
      const state = join(dir, 'state.json');
      writeFileSync(
        script,
        prelude +
          `
        if (process.argv[2] === 'boot') {
          console.log('REEXECED ' + process.pid + ' ' + JSON.stringify(process.argv.slice(2)));
        } else {
          installSurvival({ sys: realSys(), log, execPath: process.execPath, argv: [process.argv[1]], bootArgs: ['--container'],
            env: [], stateFile: ${JSON.stringify(state)}, keepFds: () => [], beforeExec: () => console.log('STATE SAVED') });
          console.log('FIRST ' + process.pid);
          ${how === 'abort' ? 'process.abort();' : 'reexecNow();'}
        }`,
      );
      const r = spawnSync(process.execPath, [script, how], { env: childEnv, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      const pid = lines.find((l) => l.startsWith('FIRST '))!.slice(6);
      expect(lines.at(-1)).to.equal(`REEXECED ${pid} ${JSON.stringify(['boot', '--container', '--reexec-state', state])}`);
      expect(lines.includes('STATE SAVED')).to.equal(how === 'reexec');
    });
  }
});
