/**
 * console-tap.test.ts — a console opened to viewers: scrollback bounded and cut at a line start,
 * every viewer gets every chunk, a viewer that throws harms no other, typing reaches the pty.
 */
import { expect } from 'chai';
import { ConsoleTap } from '../../../src/supervisor/console-tap.js';

function fakeRun(): { run: { onData(cb: (c: string) => void): () => void; write(d: string): void }; emit(c: string): void; written: string[] } {
  let listener: ((c: string) => void) | undefined;
  const written: string[] = [];
  return {
    run: {
      onData: (cb) => {
        listener = cb;
        return () => (listener = undefined);
      },
      write: (d) => void written.push(d),
    },
    emit: (c) => listener?.(c),
    written,
  };
}

describe('supervisor: console tap', () => {
  it('keeps a bounded scrollback, cut at a line start', () => {
    const f = fakeRun();
    const tap = new ConsoleTap(f.run, 100);
    for (let i = 0; i < 50; i++) f.emit(`line ${String(i).padStart(2, '0')}\r\n`);
    const back = tap.scrollback();
    expect(back.length).to.be.at.most(100);
    expect(back.startsWith('line ')).to.equal(true);
    expect(back.endsWith('line 49\r\n')).to.equal(true);
  });

  it('hands every chunk to every viewer attached, and typing to the terminal', () => {
    const f = fakeRun();
    const tap = new ConsoleTap(f.run);
    const a: string[] = [];
    const b: string[] = [];
    const stopA = tap.attach((c) => a.push(c));
    tap.attach(() => {
      throw new Error('a broken viewer');
    });
    tap.attach((c) => b.push(c));
    f.emit('one');
    stopA();
    f.emit('two');
    expect([a, b]).to.deep.equal([['one'], ['one', 'two']]);
    tap.write('ls\r');
    expect(f.written).to.deep.equal(['ls\r']);
    tap.close();
    f.emit('three');
    expect(b).to.deep.equal(['one', 'two']);
  });
});
