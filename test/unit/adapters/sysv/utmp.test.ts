/**
 * utmp.test.ts — the runlevel record, read back by the system's own `runlevel` reader (glibc's
 * utmp format through `who -r`, util-linux/coreutils) where available, and byte by byte.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunlevel } from '../../../../src/adapters/sysv/utmp.js';

describe('sysv: utmp runlevel record', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'metainit-utmp-'));
    mkdirSync(join(root, 'run'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const records = (): Array<{ type: number; pid: number; user: string }> => {
    const b = readFileSync(join(root, 'run/utmp'));
    return Array.from({ length: b.length / 384 }, (_, i) => ({ type: b.readInt16LE(i * 384), pid: b.readInt32LE(i * 384 + 4), user: b.toString('latin1', i * 384 + 44, i * 384 + 76).replace(/\0+$/, '') }));
  };

  it('writes BOOT_TIME and RUN_LVL ("N 2"), and moves the previous level along on a change', () => {
    expect(writeRunlevel(root, '2')).to.equal(undefined);
    expect(records()).to.deep.equal([
      { type: 2, pid: 0, user: 'reboot' },
      { type: 1, pid: '2'.charCodeAt(0) + 256 * 'N'.charCodeAt(0), user: 'runlevel' },
    ]);
    expect(execFileSync('who', ['-r', join(root, 'run/utmp')], { encoding: 'utf8' })).to.match(/run-level 2/);
    writeRunlevel(root, '3');
    expect(records()).to.have.length(2);
    expect(records()[1]!.pid).to.equal('3'.charCodeAt(0) + 256 * '2'.charCodeAt(0));
    writeRunlevel(root, '3'); // the same level again: its previous stays
    expect(records()[1]!.pid).to.equal('3'.charCodeAt(0) + 256 * '2'.charCodeAt(0));
  });

  it('never writes through a symlink: a root whose /run leads elsewhere is refused', () => {
    const other = mkdtempSync(join(tmpdir(), 'metainit-utmp-other-'));
    try {
      rmSync(join(root, 'run'), { recursive: true });
      symlinkSync(other, join(root, 'run'));
      expect(writeRunlevel(root, '2')).to.match(/is not a directory/);
      rmSync(join(root, 'run'));
      mkdirSync(join(root, 'run'));
      symlinkSync(join(other, 'utmp'), join(root, 'run/utmp'));
      expect(writeRunlevel(root, '2')).to.match(/unable to open: ELOOP/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
