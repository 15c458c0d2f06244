/**
 * fuzz.test.ts — the control protocol fuzzed against a real PID 1 (issue 9): 20 000 messages
 * mutated from valid requests (bytes flipped, cut, repeated; fields replaced by other JSON
 * values, long strings, deep nesting; invalid UTF-8), sent pipelined over several connections of
 * the control socket of a metainit booted as PID 1 of a PID namespace. A deterministic PRNG makes
 * a failure reproducible (the seed is in the test name). Requests that would end or change the
 * machine (poweroff, reboot, halt, reexec, kill, stop, sync, apply) are never sent, whatever the
 * mutation made of them. Afterwards PID 1 must be alive, answer `status` with its services still
 * running, and hold bounded memory and descriptors.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { bootNs, type Ns } from './harness.js';
import { prng } from '../prng.js';

const SEED = 20261201;
const MESSAGES = 20_000;
const CONNECTIONS = 8;
const FORBIDDEN = new Set(['poweroff', 'reboot', 'halt', 'reexec', 'kill', 'stop', 'sync', 'apply', 'restart', 'reload']);

const SEEDS: object[] = [
  { v: 1, id: 1, method: 'status', params: {} },
  { v: 1, id: 2, method: 'status', params: { all: true } },
  { v: 1, id: 3, method: 'roles', params: {} },
  { v: 1, id: 4, method: 'logs', params: { name: 'native/a', lines: 10 } },
  { v: 1, id: 5, method: 'start', params: { name: 'native/nope' } },
  { v: 1, id: 6, method: 'events', params: { types: ['state'] } },
];

function mutate(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const base = JSON.parse(JSON.stringify(pick(SEEDS))) as Record<string, unknown>;
  const values: unknown[] = [null, true, -1, 1e308, 2 ** 53 + 1, '', 'x'.repeat(Math.floor(rand() * 5000)), [], {}, [[[[[]]]]], { a: { b: { c: 1 } } }, '\u0000', 'native/a', '\u{1F4A5}'];
  const deep = (n: number): unknown => (n === 0 ? 1 : { d: deep(n - 1) });
  switch (Math.floor(rand() * 8)) {
    case 0: // a field replaced
      base[pick(['v', 'id', 'method', 'params', 'extra'])] = pick(values);
      return JSON.stringify(base);
    case 1: // a param replaced
      base.params = { ...(base.params as object), [pick(['name', 'lines', 'all', 'types', 'follow', '__proto__'])]: pick(values) };
      return JSON.stringify(base);
    case 2: // nested deep
      base[pick(['id', 'params', 'method'])] = deep(Math.floor(rand() * 2000));
      return JSON.stringify(base);
    case 3: {
      // bytes flipped
      const b = Buffer.from(JSON.stringify(base));
      for (let i = 0; i < 1 + rand() * 5; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b.toString('latin1');
    }
    case 4: {
      // cut
      const t = JSON.stringify(base);
      return t.slice(0, Math.floor(rand() * t.length));
    }
    case 5: // repeated
      return JSON.stringify(base).repeat(1 + Math.floor(rand() * 4));
    case 6: // not an object
      return JSON.stringify(pick(values));
    default: // invalid UTF-8 inside a string
      return JSON.stringify(base).replace('"v"', '"\xff\xfe"');
  }
}

/** Would this message, as PID 1 parses it, ask for something that ends or changes the machine? */
function forbidden(text: string): boolean {
  try {
    const m = JSON.parse(text) as { method?: unknown };
    return typeof m === 'object' && m !== null && typeof m.method === 'string' && FORBIDDEN.has(m.method);
  } catch {
    return /poweroff|reboot|halt|reexec|"kill"|"stop"|"sync"|"apply"|restart|reload/.test(text);
  }
}

const rssKiB = (pid: number): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

describe('ns: the control protocol fuzzed (PID 1 alive and answering)', function () {
  this.timeout(300_000);
  let ns: Ns | undefined;
  after(async () => ns?.cleanup());

  it(`survives ${MESSAGES} mutated messages on ${CONNECTIONS} connections (seed ${SEED})`, async () => {
    ns = await bootNs({ caseDir: 'oneshot-ok' });
    const before = (await ns.status()).filter((s) => s.state === 'running').map((s) => s.id);
    const rssBefore = rssKiB(ns.pid1);
    const rand = prng(SEED);
    const messages: string[] = [];
    while (messages.length < MESSAGES) {
      const m = mutate(rand).replace(/\n/g, ' ');
      if (!forbidden(m)) messages.push(m);
    }
    let answers = 0;
    const socks: Socket[] = [];
    await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, c) =>
        new Promise<void>((resolve) => {
          const s = createConnection(ns!.sock);
          socks.push(s);
          s.on('data', (b: Buffer) => (answers += b.toString('latin1').split('\n').length - 1));
          s.on('error', () => resolve()); // PID 1 may drop a client that misbehaves: fine
          s.on('close', () => resolve());
          s.on('connect', () => {
            const mine = messages.filter((_, i) => i % CONNECTIONS === c);
            const write = (i: number): void => {
              while (i < mine.length) {
                if (!s.write(`${mine[i++]}\n`, 'latin1')) return void s.once('drain', () => write(i));
              }
              s.end();
            };
            write(0);
          });
        }),
      ),
    );
    for (const s of socks) s.destroy();
    expect(ns.alive(), 'PID 1 alive').to.equal(true);
    expect(answers, 'PID 1 answered').to.be.above(MESSAGES / 2);
    const after = (await ns.status()).filter((s) => s.state === 'running').map((s) => s.id);
    expect(after, 'its services still running').to.deep.equal(before);
    const fds = readdirSync(`/proc/${ns.pid1}/fd`).length;
    expect(fds, 'descriptors: the fuzz connections are closed').to.be.below(100);
    expect(rssKiB(ns.pid1) - rssBefore, 'memory: RSS growth in KiB').to.be.below(80 * 1024);
    expect(ns.console(), 'no uncaught error').to.not.match(/unable to continue/);
  });
});
