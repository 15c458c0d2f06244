/**
 * stage1.ts — early set-up, as an ordered list of steps {name, run} (s6-linux-init style).
 *
 * Runs in machine mode only (the kernel started us): make Ctrl-Alt-Del a signal to PID 1 rather
 * than an instant restart, mount what is not mounted yet (EARLY_MOUNTS),
 * set the hostname from /etc/hostname, open /dev/console for output. Each step logs one line; a
 * failing step is logged and the boot goes on — a missing selinuxfs or a read-only /etc/hostname
 * must never stop a machine from booting.
 */
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import type { Logger } from '../base/types.js';
import { EARLY_MOUNTS, isMounted, mountTable } from './mounts.js';
import { RB, type Sys } from '../base/sys.js';

export interface Step {
  name: string;
  run: () => string;
}

export function stage1Steps(sys: Sys, setConsole: (fd: number) => void): Step[] {
  const steps: Step[] = [
    {
      // The kernel's default for Ctrl-Alt-Del is an immediate restart: no sync, no unmount.
      // Disabled, it sends SIGINT to PID 1 instead, which signals.ts turns into a clean reboot.
      name: 'ctrl-alt-del',
      run: () => {
        sys.reboot(RB.DISABLE_CAD);
        return 'sends SIGINT to pid 1 (clean reboot)';
      },
    },
  ];
  steps.push(...EARLY_MOUNTS.map((m) => ({
    name: `mount ${m.target}`,
    run: () => {
      if (m.needsFs && !readFileSync('/proc/filesystems', 'utf8').includes(m.needsFs)) return `skipped: kernel has no ${m.needsFs}`;
      if (isMounted(m.target, mountTable())) return 'already mounted';
      if (!existsSync(m.target)) mkdirSync(m.target, { recursive: true, mode: m.mode ?? 0o755 });
      sys.mount(m.source, m.target, m.fstype, m.flags, m.data);
      return `mounted ${m.fstype}`;
    },
  })));
  steps.push({
    name: 'hostname',
    run: () => {
      if (!existsSync('/etc/hostname')) return 'skipped: no /etc/hostname';
      const name = readFileSync('/etc/hostname', 'utf8').split('\n')[0]!.trim();
      if (!name) return 'skipped: /etc/hostname is empty';
      sys.sethostname(name);
      return `set to ${name}`;
    },
  });
  steps.push({
    name: 'console',
    run: () => {
      const fd = openSync('/dev/console', 'w');
      setConsole(fd);
      return 'output on /dev/console';
    },
  });
  return steps;
}

/** Run the steps in order; one log line each; never throws. */
export function runSteps(steps: Step[], log: Logger): void {
  for (const step of steps) {
    try {
      log.info(`stage 1: ${step.name}: ${step.run()}`);
    } catch (e) {
      log.warn(`stage 1: unable to ${step.name}: ${(e as Error).message}`);
    }
  }
}
