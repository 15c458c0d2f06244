/**
 * signames.test.ts — signal numbers ↔ names, including the real-time signals Node does not know.
 */
import { expect } from 'chai';
import { isRealtime, signalName, signalNumber } from '../../../src/base/signames.js';

describe('signal names', () => {
  it('names classic signals by their usual name, not an alias', () => {
    expect(signalName(15)).to.equal('SIGTERM');
    expect(signalName(6)).to.equal('SIGABRT');
    expect(signalName(29)).to.equal('SIGIO');
  });

  it('names real-time signals relative to SIGRTMIN, as systemd users write them', () => {
    expect(signalName(34)).to.equal('SIGRTMIN');
    expect(signalName(37)).to.equal('SIGRTMIN+3');
    expect(signalName(64)).to.equal('SIGRTMIN+30');
    expect(signalName(36, 35)).to.equal('SIGRTMIN+1'); // musl's SIGRTMIN
    expect(signalName(99)).to.equal('SIG99');
  });

  it('reads every usual spelling, and nothing else', () => {
    for (const s of ['TERM', 'SIGTERM', 'sigterm', ' term ', '15']) expect(signalNumber(s), s).to.equal(15);
    expect(signalNumber('RTMIN+3')).to.equal(37);
    expect(signalNumber('SIGRTMIN+5')).to.equal(39);
    expect(signalNumber('rtmin')).to.equal(34);
    expect(signalNumber('SIGRTMAX')).to.equal(64);
    expect(signalNumber('SIGRTMAX-2')).to.equal(62);
    expect(signalNumber('SIGIOT')).to.equal(6);
    for (const s of ['RTMIN-1', 'RTMAX+1', 'RTMIN+31', 'NOPE', '0', '65', 'SIG', '']) expect(signalNumber(s), s).to.equal(undefined);
  });

  it('round-trips every signal number', () => {
    for (let n = 1; n <= 64; n++) {
      if (n === 32 || n === 33) continue; // reserved by glibc (NPTL), no name
      expect(signalNumber(signalName(n)), String(n)).to.equal(n);
    }
  });

  it('tells real-time signals apart', () => {
    expect(isRealtime(37)).to.equal(true);
    expect(isRealtime(15)).to.equal(false);
  });
});
