/**
 * lines.test.ts — the logger's byte splitter: reads → complete lines, whatever the read boundaries.
 */
import { expect } from 'chai';
import { LineSplitter, lineStrings, MAX_LINE } from '../../../src/logger/lines.js';
import { TailRing } from '../../../src/logger/tail-ring.js';

function split(chunks: string[]): string[] {
  const s = new LineSplitter();
  const out: string[] = [];
  const p = Buffer.from('P> ');
  for (const c of chunks) out.push(...lineStrings(s.push(Buffer.from(c), p)));
  out.push(...lineStrings(s.end(p)));
  return out;
}

describe('logger: line splitter', () => {
  it('gives the same lines however the bytes were cut into reads', () => {
    const text = 'alpha\nbeta\r\n\ngamma delta\nlast without newline';
    const want = ['alpha', 'beta', '', 'gamma delta', 'last without newline'];
    expect(split([text])).to.deep.equal(want);
    for (let cut = 1; cut < text.length; cut++) expect(split([text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).to.deep.equal(want);
    expect(split([...text])).to.deep.equal(want);
  });

  it('keeps multi-byte characters whole across reads', () => {
    const bytes = Buffer.from('größe ✓\n');
    const s = new LineSplitter();
    const a = s.push(bytes.subarray(0, 3), Buffer.alloc(0));
    const b = s.push(bytes.subarray(3), Buffer.alloc(0));
    expect(a.count).to.equal(0);
    expect(lineStrings(b)).to.deep.equal(['größe ✓']);
  });

  it('cuts a line longer than MAX_LINE into pieces, also when it arrives in many reads', () => {
    const long = 'x'.repeat(MAX_LINE * 2 + 10);
    expect(split([`${long}\n`]).map((l) => l.length)).to.deep.equal([MAX_LINE, MAX_LINE, 10]);
    const reads = long.match(/.{1,1000}/g)!;
    expect(split([...reads, '\n']).map((l) => l.length)).to.deep.equal([MAX_LINE, MAX_LINE, 10]);
  });

  it('puts the prefix before every line, and takes it off again for the tail', () => {
    const s = new LineSplitter();
    const l = s.push(Buffer.from('a\r\nbb\nc'), Buffer.from('T '));
    expect(l.body.toString()).to.equal('T a\nT bb\n');
    expect(lineStrings(l)).to.deep.equal(['a', 'bb']);
    expect(s.end(Buffer.from('U ')).body.toString()).to.equal('U c\n');
  });
});

describe('logger: tail ring', () => {
  it('keeps the last n lines across reads and answers fewer when asked', () => {
    const ring = new TailRing(3);
    const s = new LineSplitter();
    for (const c of ['1\n2\n', '3\n4\n5\n', '6\n']) ring.push(s.push(Buffer.from(c), Buffer.from('x ')));
    expect(ring.last(10)).to.deep.equal(['4', '5', '6']);
    expect(ring.last(2)).to.deep.equal(['5', '6']);
    expect(ring.last(0)).to.deep.equal([]);
    ring.resize(1);
    expect(ring.last(10)).to.deep.equal(['6']);
  });
});
