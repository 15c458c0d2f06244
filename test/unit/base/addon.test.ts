/**
 * addon.test.ts — the real native addon (build/Release/metainit.node), without a namespace:
 * errors carry errno names, real-time signals arrive, sd_notify datagrams are received with
 * their sender, SO_PEERCRED names the peer, and execve / the crash guard replace the image in
 * place with stdio and kept descriptors intact. Anything that ends a process runs in a child
 * node process.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realSys, type Sys } from '../../../src/base/sys.js';
import { waitFor } from '../wait-for.js';

const ADDON = new URL('../../../../build/Release/metainit.node', import.meta.url).pathname;
const childEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '' };

/** Run a CommonJS snippet in a child node with `sys` bound to the addon; returns its output. */
function runChild(snippet: string, args: string[] = []): { status: number | null; signal: string | null; stdout: string } {
  const script = `const sys = require(${JSON.stringify(ADDON)});\n${snippet}`;
  const r = spawnSync(process.execPath, ['-e', script, '--', ...args], { env: childEnv, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout };
}

describe('native addon', function () {
  this.timeout(20_000);
  let sys: Sys;
  let dir: string;

  before(() => {
    sys = realSys();
    dir = mkdtempSync(join(tmpdir(), 'metainit-addon-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports syscall failures with the errno name as code and "<syscall>: <strerror>"', () => {
    expect(() => sys.waitpid(process.pid)).to.throw('waitpid: No child processes').with.property('code', 'ECHILD');
    expect(() => sys.umount2(join(dir, 'not-mounted'), 0)).to.throw(/^umount2: /).with.property('code').that.matches(/^E[A-Z]+$/);
  });

  it('returns "nothing happened" as values: kill of a gone pid, waitpid of a running child', async () => {
    const child = spawn('sleep', ['5']);
    const gone = await new Promise<number>((resolve) => {
      const p = spawn('true');
      p.on('exit', () => resolve(p.pid!));
    });
    expect(sys.kill(gone, 0)).to.equal(false);
    expect(sys.kill(child.pid!, 0)).to.equal(true);
    expect(sys.waitpid(child.pid!)).to.equal(null);
    child.kill();
  });

  it('knows SIGRTMIN of this libc', () => {
    expect(sys.SIGRTMIN).to.equal(34);
  });

  it('receives SIGRTMIN+3, +4 and +5 through signal(), and stops on request', async () => {
    const got = [0, 0, 0];
    let second = 0;
    // a second watcher stays on +3 so that the signal still has a handler after the first stops
    const stopSecond = sys.signal(sys.SIGRTMIN + 3, () => second++);
    const stops = [0, 1, 2].map((i) => sys.signal(sys.SIGRTMIN + 3 + i, () => got[i]!++));
    for (const name of ['RTMIN+3', 'RTMIN+4', 'RTMIN+5']) execFileSync('kill', ['-s', name, String(process.pid)]);
    await waitFor(() => got.every((n) => n === 1), 'SIGRTMIN+3, +4 and +5');

    stops[0]!();
    stops[0]!(); // a second stop is harmless
    execFileSync('kill', ['-s', 'RTMIN+3', String(process.pid)]);
    await waitFor(() => second === 2, 'the second SIGRTMIN+3');
    expect(got).to.deep.equal([1, 1, 1]);
    stopSecond();
    stops[1]!();
    stops[2]!();
  });

  it('receives sd_notify datagrams with the sender pid on a 0666 socket, and unlinks it on close', async () => {
    const path = join(dir, 'notify');
    const got: Array<[string, number]> = [];
    // the addon passes the sender's pid (SCM_CREDENTIALS) as a second argument
    const onMessage = (msg: string, pid: number): void => void got.push([msg, pid]);
    const sock = sys.notifySocket(path, onMessage as unknown as (msg: string) => void);
    expect(sock.path).to.equal(path);
    expect(statSync(path).mode & 0o777).to.equal(0o666);
    const send = `import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in sys.argv[2:]: s.sendto(m.encode(), sys.argv[1])
print(os.getpid())`;
    const pyPid = Number(execFileSync('python3', ['-c', send, path, 'READY=1\nSTATUS=serving', 'WATCHDOG=1'], { env: childEnv, encoding: 'utf8' }));
    await waitFor(() => got.length === 2, 'two datagrams');
    expect(got).to.deep.equal([
      ['READY=1\nSTATUS=serving', pyPid],
      ['WATCHDOG=1', pyPid],
    ]);
    sock.close();
    sock.close();
    expect(existsSync(path)).to.equal(false);
  });

  it('replaces a stale socket file at the notify path', () => {
    const path = join(dir, 'stale');
    sys.notifySocket(path, () => {}).close();
    openSync(path, 'w');
    const sock = sys.notifySocket(path, () => {});
    expect(statSync(path).isSocket()).to.equal(true);
    sock.close();
  });

  it('names the peer of a unix socket connection with SO_PEERCRED, and its supplementary groups with SO_PEERGROUPS', async () => {
    const path = join(dir, 'peer.sock');
    let server: Server | undefined;
    const accepted = await new Promise<Socket>((resolve, reject) => {
      server = createServer(resolve).listen(path, () => createConnection(path).on('error', reject));
    });
    const fd = (accepted as unknown as { _handle: { fd: number } })._handle.fd;
    // the groups as the kernel has them for this process (the Groups: line of /proc/self/status)
    const groups = (/^Groups:(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
    expect(sys.peercred(fd)).to.deep.equal({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups });
    accepted.destroy();
    server!.close();
  });

  it('raises the open file limit as far as asked and the kernel allows, never lowers it', () => {
    const soft = (): number => Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    const before = soft();
    expect(sys.raiseNofile(before - 1), 'asking for less changes nothing').to.equal(before);
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const hard = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    // CAP_SYS_RESOURCE (bit 24 of CapEff) lets it raise the hard limit too
    const capSysResource = (BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`) >> 24n) & 1n;
    const got = sys.raiseNofile(before + 1000);
    expect(got).to.equal(Math.min(before + 1000, capSysResource ? nrOpen : hard));
    expect(soft()).to.equal(got);
  });

  it('creates close-on-exec pipes and leaves kept fds inheritable in cloexecFrom', () => {
    const [r, w] = sys.pipe();
    const flags = (fd: number): string => readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    // fdinfo flags are octal; O_CLOEXEC is 02000000
    const cloexec = (fd: number): boolean => (parseInt(/flags:\s+(\d+)/.exec(flags(fd))![1]!, 8) & 0o2000000) !== 0;
    expect(cloexec(r) && cloexec(w)).to.equal(true);
    sys.setCloexec(r, false);
    sys.setCloexec(w, false);
    sys.cloexecFrom([w]);
    expect(cloexec(r)).to.equal(true);
    expect(cloexec(w)).to.equal(false);
  });

  it('execve replaces the image in place with stdio and kept fds intact, and throws on failure', () => {
    expect(() => sys.execve('/nonexistent/metainit', ['x'], [], [])).to.throw('execve: No such file or directory').with.property('code', 'ENOENT');
    const out = join(dir, 'kept-by-execve');
    const r = runChild(
      `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'w'); console.log('before', process.pid);
       sys.execve('/bin/sh', ['sh', '-c', 'echo after $$; echo kept >> /proc/self/fd/' + fd], [], [fd]);`,
      [out],
    );
    const [before, after] = r.stdout.trim().split('\n');
    expect(after).to.equal(before!.replace('before', 'after'));
    expect(readFileSync(out, 'utf8')).to.equal('kept\n');
  });

  it('armCrashExec turns process.abort() into an execve of the armed image, the last one armed', () => {
    const out = join(dir, 'kept-by-crash');
    const r = runChild(
      `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'w'); console.log('NODE', process.pid);
       sys.armCrashExec('/bin/sh', ['sh', '-c', 'echo FIRST'], [], []);
       sys.armCrashExec('/bin/sh', ['sh', '-c', 'echo REEXECED $$; echo kept >> /proc/self/fd/' + fd + '; exit 0'], [], [fd]);
       process.abort();`,
      [out],
    );
    expect(r.signal).to.equal(null);
    expect(r.status).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[1]).to.equal(lines[0]!.replace('NODE', 'REEXECED'));
    expect(readFileSync(out, 'utf8')).to.equal('kept\n');
  });

  it('with the guard armed, a WebAssembly out-of-bounds access is still a JS exception, not a re-exec', () => {
    // (module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 0x20000))))
    const wasm = '0061736d010000000105016000017f03020100050301000107050101660000' + '0a0b010900418080082802000b';
    const r = runChild(
      `sys.armCrashExec('/bin/sh', ['sh', '-c', 'echo REEXECED'], [], []);
       const m = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from('${wasm}', 'hex')));
       try { m.exports.f(); } catch (e) { console.log(e.constructor.name, e.message); }`,
    );
    expect(r.stdout.trim()).to.equal('RuntimeError memory access out of bounds');
    expect(r.status).to.equal(0);
  });

  it('when the armed image cannot be executed, a crash still ends the process (no hang, no loop)', () => {
    const r = runChild(`sys.armCrashExec('/nonexistent/metainit', ['x'], [], []); process.abort();`);
    expect(r.signal).to.equal('SIGABRT');
  });
});
