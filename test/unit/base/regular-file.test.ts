/**
 * regular-file.test.ts — reading a file a user controls never blocks PID 1 and never takes a
 * huge one in: a FIFO (which a plain read would wait on forever), a directory, a device, an
 * oversized file each give one clear error.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRegularFile, regularFileText } from '../../../src/base/regular-file.js';

describe('reading a regular file', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'metainit-regular-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads a regular file', () => {
    writeFileSync(join(tmp, 'a.yaml'), 'exec: sleep 1\n');
    expect(readRegularFile(join(tmp, 'a.yaml'))).to.deep.equal({ text: 'exec: sleep 1\n' });
  });

  it('refuses a FIFO at once (no writer: a plain read would block for ever)', () => {
    execFileSync('mkfifo', [join(tmp, 'f.yaml')]);
    expect(readRegularFile(join(tmp, 'f.yaml'))).to.deep.equal({ error: 'is a FIFO, not a regular file', fix: 'replace it with a regular YAML file, or remove it' });
  });

  it('refuses a directory, a device and a file over the size cap, and says so', () => {
    mkdirSync(join(tmp, 'd.yaml'));
    expect(readRegularFile(join(tmp, 'd.yaml'))).to.include({ error: 'is a directory, not a regular file' });
    expect(readRegularFile('/dev/zero')).to.include({ error: 'is a device, not a regular file' });
    writeFileSync(join(tmp, 'big.yaml'), 'x'.repeat(2000));
    expect(readRegularFile(join(tmp, 'big.yaml'), 1000)).to.deep.equal({ error: 'is 2000 bytes, more than the 1000 a configuration file may have', fix: 'split it, or remove what is not configuration' });
    expect(readRegularFile(join(tmp, 'missing.yaml'))).to.include({ error: 'cannot read the file: ENOENT' });
    expect(regularFileText(join(tmp, 'missing.yaml'))).to.equal(undefined);
  });
});
