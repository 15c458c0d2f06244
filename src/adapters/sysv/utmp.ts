/**
 * utmp.ts — the runlevel record that `runlevel`, invoke-rc.d and `who -r` read.
 *
 * sysvinit's init writes a RUN_LVL record into /run/utmp (glibc's `struct utmp`, 384 bytes on
 * 64-bit Linux; ut_pid = new level + 256 × previous level, 'N' when there was none) and a
 * BOOT_TIME record; systemd does the same. Debian's invoke-rc.d asks `runlevel` and refuses to
 * act ("could not determine current runlevel") without it, so package upgrades would never
 * restart a daemon. metainit writes both records for the runlevel a sysv instance brings up,
 * into the instance root's /run/utmp — the real /run directory of that root, never through a
 * symlink (a root's /var/run → /run must not lead into the host's /run).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const RECORD = 384;
const RUN_LVL = 1;
const BOOT_TIME = 2;

/** One utmp record: type, pid field, line, id, user, time. */
function record(type: number, pid: number, line: string, id: string, user: string, now: number): Buffer {
  const b = Buffer.alloc(RECORD);
  b.writeInt16LE(type, 0);
  b.writeInt32LE(pid, 4);
  b.write(line, 8, 32, 'latin1');
  b.write(id, 40, 4, 'latin1');
  b.write(user, 44, 32, 'latin1');
  b.writeInt32LE(Math.floor(now / 1000), 340);
  b.writeInt32LE((now % 1000) * 1000, 344);
  return b;
}

/**
 * Set the runlevel record of ROOT/run/utmp to `level` (previous: the level recorded before, or
 * 'N'), adding a BOOT_TIME record when there is none. Returns a problem instead of throwing.
 */
export function writeRunlevel(root: string, level: string, now = Date.now()): string | undefined {
  const run = join(root, 'run');
  try {
    if (!lstatSync(run).isDirectory()) return `${run} is not a directory`;
  } catch (e) {
    return `${run}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const file = join(run, 'utmp');
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o664);
  } catch (e) {
    return `${file}: unable to open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  try {
    if (!fstatSync(fd).isFile()) return `${file} is not a regular file`;
    const size = fstatSync(fd).size;
    const count = Math.floor(Math.min(size, 1024 * RECORD) / RECORD);
    const buf = Buffer.alloc(count * RECORD);
    readSync(fd, buf, 0, buf.length, 0);
    let runAt = -1;
    let boot = false;
    let previous = 'N'.charCodeAt(0);
    for (let i = 0; i < count; i++) {
      const type = buf.readInt16LE(i * RECORD);
      if (type === RUN_LVL && runAt < 0) {
        runAt = i;
        previous = buf.readInt32LE(i * RECORD + 4) & 0xff || previous;
      }
      if (type === BOOT_TIME) boot = true;
    }
    const lvl = level.charCodeAt(0);
    if (runAt >= 0 && previous === lvl) previous = (buf.readInt32LE(runAt * RECORD + 4) >> 8) & 0xff || 'N'.charCodeAt(0);
    const runRec = record(RUN_LVL, lvl + 256 * previous, '~', '~~', 'runlevel', now);
    let end = count;
    if (!boot) writeSync(fd, record(BOOT_TIME, 0, '~', '~~', 'reboot', now), 0, RECORD, end++ * RECORD);
    writeSync(fd, runRec, 0, RECORD, (runAt >= 0 ? runAt : end) * RECORD);
    return undefined;
  } catch (e) {
    return `${file}: unable to write the runlevel record: ${(e as Error).message}`;
  } finally {
    closeSync(fd);
  }
}
