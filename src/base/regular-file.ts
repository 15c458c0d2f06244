/**
 * regular-file.ts — read a file that a user controls without letting it block or flood PID 1.
 *
 * PID 1 is single-threaded: a synchronous read of a FIFO waits for a writer forever, and one of
 * a device or a huge file takes what it takes. Every configuration file (and every file of an
 * instance's root that an adapter parses, such as /etc/init.d scripts) goes through here.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** A file larger than this is refused (a real configuration file or init script is a few KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The text of a regular file, never blocking: opened O_NONBLOCK (a FIFO opens at once), checked
 * with fstat to be a regular file of at most `max` bytes before a byte is read. A FIFO, device,
 * socket or directory where a file should be is an error, as is a file that is too large.
 */
export function readRegularFile(file: string, max = MAX_CONFIG_BYTES): { text: string } | { error: string; fix: string } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: `cannot read the file: ${err.code ?? err.message}`, fix: 'check that it is a readable regular file' };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: `is ${kindOf(st)}, not a regular file`, fix: 'replace it with a regular YAML file, or remove it' };
    if (st.size > max) return { error: `is ${st.size} bytes, more than the ${max} a configuration file may have`, fix: 'split it, or remove what is not configuration' };
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return { text: buf.subarray(0, got).toString('utf8') };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: `cannot read the file: ${err.code ?? err.message}`, fix: 'check that it is a readable regular file' };
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** The text of a regular file, or undefined when it is missing, not a regular file or too large. */
export function regularFileText(file: string, max = MAX_CONFIG_BYTES): string | undefined {
  const r = readRegularFile(file, max);
  return 'text' in r ? r.text : undefined;
}
