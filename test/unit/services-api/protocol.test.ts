/**
 * protocol.test.ts — the control protocol's schemas and framing, without any socket: what a
 * request must look like to be run, what error a malformed one gets, and how lines are cut.
 */
import { expect } from 'chai';
import { LineSplitter } from '../../../src/services-api/client.js';
import { Method, Params, Results, ServerMessage, decodeRequest, encodeError, encodeEvent, encodeResult, type Decoded } from '../../../src/services-api/protocol.js';
import { Event } from '../../../src/base/events.js';

const req = (o: unknown): Decoded => decodeRequest(JSON.stringify(o));
const status = {
  id: 'native/redis',
  instance: 'native',
  name: 'redis',
  adapter: 'native',
  state: 'running',
  target: 'up',
  since: 1,
  restarts: 0,
  oneshot: false,
  kind: 'service',
  after: [],
};

function expectError(d: Decoded, code: string, id: number | null): string {
  if (d.ok) throw new Error(`expected a ${code} error, got a valid request`);
  expect(d.error.code).to.equal(code);
  expect(d.id).to.equal(id);
  expect(d.error.message).to.match(/^control: unable to /);
  return d.error.message;
}

describe('protocol: requests', () => {
  it('accepts a request and hands over validated params', () => {
    const d = req({ v: 1, id: 3, method: 'status', params: { name: 'native/redis' } });
    expect(d).to.deep.equal({ ok: true, id: 3, method: 'status', params: { name: 'native/redis' } });
  });

  it('treats missing params as {} and fills in defaults', () => {
    expect(req({ v: 1, id: 0, method: 'status' })).to.deep.include({ ok: true, params: {} });
    const logs = req({ v: 1, id: 1, method: 'logs', params: { name: 'redis' } });
    expect(logs).to.deep.include({ ok: true, params: { name: 'redis', lines: 50, follow: false, raw: false } });
  });

  it('normalises the signal of kill and rejects unknown ones', () => {
    expect(req({ v: 1, id: 1, method: 'kill', params: { name: 'redis', signal: 'hup' } })).to.deep.include({ params: { name: 'redis', signal: 'SIGHUP' } });
    const msg = expectError(req({ v: 1, id: 2, method: 'kill', params: { name: 'redis', signal: 'NOPE' } }), 'bad-params', 2);
    expect(msg).to.contain('signal').and.contain('"NOPE" is not a signal name');
  });

  it('answers a line that is not JSON with bad-json and no id', () => {
    expectError(decodeRequest('hello there'), 'bad-json', null);
  });

  it('answers JSON that is not a request object with bad-request', () => {
    expectError(decodeRequest('[1,2]'), 'bad-request', null);
    expectError(decodeRequest('null'), 'bad-request', null);
    expectError(req({ v: 1, method: 'status' }), 'bad-request', null);
    expectError(req({ v: 1, id: -1, method: 'status' }), 'bad-request', null);
    expectError(req({ v: 1, id: 1.5, method: 'status' }), 'bad-request', null);
  });

  it('answers hostile nesting and sizes in id, v, method and params with one bounded error, never a throw', () => {
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const hostile = [`{"v":1,"method":"status","id":${deep(20_000)}}`, `{"id":3,"method":"status","v":${deep(20_000)}}`, `{"v":1,"id":3,"method":${deep(20_000)}}`];
    for (const text of hostile) {
      const r = decodeRequest(text);
      expect(r.ok, text.slice(0, 40)).to.equal(false);
      if (!r.ok) {
        expect(r.error.message.length, 'the message stays short').to.be.below(400);
        expect(r.error.message).to.match(/an array|unable to parse request/);
      }
    }
    const params = decodeRequest(`{"v":1,"id":4,"method":"status","params":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`);
    expect(params.ok).to.equal(false);
    const long = decodeRequest(JSON.stringify({ v: 1, id: 5, method: 'x'.repeat(100_000) }));
    expect(long.ok).to.equal(false);
    if (!long.ok) expect(long.error.message.length, 'a long method name is cut').to.be.below(400);
  });

  it('rejects another protocol version, echoing the id', () => {
    const msg = expectError(req({ v: 2, id: 9, method: 'status' }), 'bad-version', 9);
    expect(msg).to.contain('version 2').and.contain('speaks version 1');
    expectError(req({ id: 9, method: 'status' }), 'bad-version', 9);
  });

  it('rejects an unknown method and lists the known ones', () => {
    const msg = expectError(req({ v: 1, id: 4, method: 'frobnicate' }), 'unknown-method', 4);
    expect(msg).to.contain('"frobnicate"').and.contain('status, start, stop');
  });

  it('rejects bad params, naming the key', () => {
    expect(expectError(req({ v: 1, id: 5, method: 'start', params: {} }), 'bad-params', 5)).to.contain('name:');
    expect(expectError(req({ v: 1, id: 5, method: 'start', params: { name: 7 } }), 'bad-params', 5)).to.contain('name: expected string');
    expect(expectError(req({ v: 1, id: 6, method: 'status', params: { nmae: 'x' } }), 'bad-params', 6)).to.contain('nmae');
    expectError(req({ v: 1, id: 7, method: 'logs', params: { name: 'x', lines: -1 } }), 'bad-params', 7);
    expectError(req({ v: 1, id: 8, method: 'events', params: { types: ['state', 'gossip'] } }), 'bad-params', 8);
    expectError(req({ v: 1, id: 9, method: 'halt', params: { now: true } }), 'bad-params', 9);
  });

  it('has params and a result schema for every method', () => {
    for (const m of Method.options) {
      expect(Params, m).to.have.property(m);
      expect(Results, m).to.have.property(m);
    }
    expect(Method.options).to.include.members(['roles', 'check', 'plan', 'reexec', 'events']);
  });
});

describe('protocol: results and events', () => {
  it('describes status as a manager summary plus services', () => {
    const ok = Results.status.safeParse({ manager: { pid: 1, mode: 'container', uptime: 1200, reaped: 3, version: '0.1.0' }, services: [status] });
    expect(ok.success).to.equal(true);
    expect(Results.status.safeParse({ services: [status] }).success).to.equal(false);
  });

  it('describes roles as rows with holder, state and vetoed claimants', () => {
    expect(Results.roles.safeParse([{ role: 'logging', holder: 'runit/socklog', state: 'running', vetoed: ['sysv/rsyslog'] }]).success).to.equal(true);
    expect(Results.roles.safeParse([{ role: 'cron', holder: null, state: null, vetoed: [] }]).success).to.equal(true);
    expect(Results.roles.safeParse([{ role: 'cron', holder: null, state: null }]).success).to.equal(false);
  });

  it('accepts each kind of event and rejects a malformed one', () => {
    const events = [
      { type: 'state', status },
      { type: 'orphan', pid: 42, code: 0, signal: null },
      { type: 'log', id: 'native/redis', stream: 'stdout', line: 'ready', time: 5 },
      { type: 'message', level: 'warning', text: 'x' },
    ];
    for (const ev of events) expect(Event.safeParse(ev).success, ev.type).to.equal(true);
    expect(Event.safeParse({ type: 'log', id: 'a/b', stream: 'stdin', line: '', time: 0 }).success).to.equal(false);
    expect(Event.safeParse({ type: 'weather' }).success).to.equal(false);
  });

  it('encodes answers and events as versioned messages', () => {
    const lines = [encodeResult(1, { ok: true }), encodeResult(2, undefined), encodeError(null, { code: 'bad-json', message: 'm' }), encodeEvent({ type: 'message', level: 'info', text: 't' })];
    for (const l of lines) {
      expect(l).not.to.contain('\n');
      expect(ServerMessage.safeParse(JSON.parse(l)).success, l).to.equal(true);
    }
    expect(JSON.parse(lines[1]!)).to.deep.equal({ v: 1, id: 2, result: null });
  });
});

describe('protocol: line framing', () => {
  function split(max: number): { lines: string[]; overflows: number; push(s: string | Buffer): void } {
    const out = { lines: [] as string[], overflows: 0, push: (s: string | Buffer) => sp.push(Buffer.isBuffer(s) ? s : Buffer.from(s)) };
    const sp = new LineSplitter(max, (l) => out.lines.push(l), () => out.overflows++);
    return out;
  }

  it('cuts lines across chunks and skips empty ones', () => {
    const s = split(100);
    s.push('{"a":');
    s.push('1}\n\n{"b"');
    s.push(':2}\n{"c":3}');
    expect(s.lines).to.deep.equal(['{"a":1}', '{"b":2}']);
    s.push('\n');
    expect(s.lines).to.deep.equal(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('keeps a UTF-8 character split between two chunks intact', () => {
    const s = split(100);
    const bytes = Buffer.from('"né"\n');
    s.push(bytes.subarray(0, 3));
    s.push(bytes.subarray(3));
    expect(s.lines).to.deep.equal(['"né"']);
  });

  it('drops an over-long line once, up to its newline, and reads the next one', () => {
    const s = split(10);
    s.push('0123456789');
    expect(s.overflows).to.equal(0);
    s.push('abc');
    s.push('def\nok\n');
    expect(s.overflows).to.equal(1);
    expect(s.lines).to.deep.equal(['ok']);
  });
});
