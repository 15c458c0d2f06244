/**
 * mode.ts — is metainit a machine's init, a container's init, or a plain supervisor?
 *
 *   machine    PID 1 of the initial PID namespace: the kernel started us. Only here do the
 *              machine-only steps run (stage-1 mounts, unmount/remount read-only, reboot(2) of
 *              the machine). Recognised by pid 2 being kthreadd (in a child PID namespace pid 2
 *              is an ordinary process or absent).
 *   container  PID 1 of any other PID namespace, or `--container`: SIGTERM/SIGINT mean "stop
 *              everything and exit"; reboot(2) only ends this namespace.
 *   supervisor not PID 1 at all (development, tests): metainit becomes a child subreaper so
 *              orphans of its services still come back to it; nothing system-wide is touched,
 *              and stage 4 signals only metainit's own descendants.
 */
import { readFileSync } from 'node:fs';

export type Mode = 'machine' | 'container' | 'supervisor';

export function detectMode(opts: { container?: boolean; pid?: number; readComm?: (pid: number) => string | null } = {}): Mode {
  const pid = opts.pid ?? process.pid;
  if (pid !== 1) return 'supervisor';
  if (opts.container) return 'container';
  const readComm =
    opts.readComm ??
    ((p: number) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      } catch {
        return null;
      }
    });
  return readComm(2) === 'kthreadd' ? 'machine' : 'container';
}
