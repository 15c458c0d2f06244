/**
 * pidfile.ts — the pid a daemon wrote into its pid file, if that process still lives.
 *
 * Hosted rc systems (sysv scripts, OpenRC) start daemons that detach: metainit is not their
 * parent in any useful sense and learns their pid only from the pid file the script names
 * (`/run/cron.pid`). The file is read inside the instance's root; the pid is trusted only when
 * /proc has it (the root shares metainit's PID namespace and /proc). No locking, no checks of
 * the process name: good enough for showing a pid and for `metainit kill`, never for deciding
 * that a service is up (the rc's own status action does that).
 */
import { existsSync } from 'node:fs';
import { regularFileText } from '../base/regular-file.js';
import { hostPath } from './rootfs.js';

/** The live pid in ROOT/`path`, or undefined (no file, no number, process gone). */
export function readPidFile(root: string, path: string): number | undefined {
  const text = regularFileText(hostPath(root, path), 4096);
  if (text === undefined) return undefined;
  const pid = Number.parseInt(text.trim().split(/\s+/)[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return existsSync(`/proc/${pid}`) ? pid : undefined;
}

/** The first live pid among `paths` (tried in order). */
export function firstLivePid(root: string, paths: readonly string[]): number | undefined {
  for (const p of paths) {
    const pid = readPidFile(root, p);
    if (pid !== undefined) return pid;
  }
  return undefined;
}
