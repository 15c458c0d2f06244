/**
 * lsb-facilities.ts — the names of /etc/init.d scripts, in metainit's role vocabulary.
 *
 * Debian's init scripts (run by sysv rc, and by OpenRC through its LSB support) speak of two
 * kinds of names that matter to metainit:
 *
 *   - LSB *virtual facilities* in their headers (`Required-Start: $remote_fs $syslog`). Under
 *     metainit each facility means "the holder of role R is ready" (LSB_FACILITIES): a script
 *     that requires `$syslog` waits for whichever instance holds the logging role, be it a
 *     runit service, a systemd unit or another init script. A facility marked `always` is done
 *     by metainit's own stage 1 before any instance starts, so it is never waited for.
 *   - scripts that would take over the machine: kill every process, unmount or fsck file
 *     systems, set the hardware clock, halt. Their jobs belong to the roles metainit holds
 *     itself (system-init, shutdown), so no hosted rc may run them (METAINIT_OWNED_SCRIPTS).
 *
 * Daemon names (cron, rsyslog …) → roles live in known-services.ts; this file only knows what
 * is specific to init scripts.
 */

/** What an LSB virtual facility means under metainit. */
export interface FacilityMeaning {
  /** the role whose holder provides the facility; null: no role does (the dependency is dropped) */
  role: string | null;
  /** provided by metainit's stage 1 before any instance starts: always satisfied, never waited for */
  always?: true;
  /** say so (once per script) when a script depends on it: nothing under metainit provides it */
  warn?: string;
}

/**
 * LSB virtual facilities (LSB core 4.1 §20.6 plus Debian's insserv.conf) → roles.
 * A facility not listed here is unknown: the planner warns and ignores it.
 */
export const LSB_FACILITIES: Readonly<Record<string, FacilityMeaning>> = {
  /** local file systems are mounted: metainit's stage 1 (system-init) did it */
  $local_fs: { role: 'system-init', always: true },
  /** all file systems, remote ones included, are mounted: also stage 1's job under metainit */
  $remote_fs: { role: 'system-init', always: true },
  /** a system logger is running */
  $syslog: { role: 'logging' },
  /** the system time is set (hwclock or NTP): the time-sync role's holder */
  $time: { role: 'time-sync' },
  /** low-level networking is up */
  $network: { role: 'network' },
  /**
   * name resolution works. There is no role for a name server of one's own (bind9, dnsmasq):
   * resolving names needs the network up and resolv.conf written, which is what the network
   * role's holder (ifupdown, NetworkManager …) does, so that is what scripts wait for.
   */
  $named: { role: 'network' },
  /** the ONC RPC port mapper: no role provides it (rpcbind would be a service of its own) */
  $portmap: { role: null, warn: 'no role provides $portmap (the RPC port mapper), so the dependency is ignored (fix: start rpcbind before this instance with after:)' },
  /** a display manager (X-Start-Before in gdm & co): nothing to wait for on a server; ignored */
  '$x-display-manager': { role: null },
};

/** The meaning of `$facility`, or undefined when the LSB and insserv.conf do not define it. */
export function facilityMeaning(name: string): FacilityMeaning | undefined {
  return Object.hasOwn(LSB_FACILITIES, name) ? LSB_FACILITIES[name] : undefined;
}

/** The roles metainit holds itself and does the job of. */
export type MetainitRole = 'system-init' | 'shutdown';

/**
 * Init scripts no hosted rc may run, because their job belongs to a role metainit holds: they
 * are listed by sysv and OpenRC instances as stopped ("owned by metainit (role R)") and never
 * started or stopped. A key ending in `*` matches every name with that prefix.
 */
export const METAINIT_OWNED_SCRIPTS: Readonly<Record<string, MetainitRole>> = {
  // ---- shutdown: stage 3/4 of metainit stops services, kills what is left, unmounts, reboots
  /** kills every process of the machine (killall5) */
  sendsigs: 'shutdown',
  /** kills every process when entering single-user mode */
  killprocs: 'shutdown',
  umountfs: 'shutdown',
  umountroot: 'shutdown',
  'umountnfs.sh': 'shutdown',
  halt: 'shutdown',
  reboot: 'shutdown',
  /** switches the machine to runlevel S (`init -t1 S`) */
  single: 'shutdown',
  /** OpenRC: remounts every file system read-only */
  'mount-ro': 'shutdown',

  // ---- system-init: stage 1 of metainit mounts API file systems and prepares the machine
  /** the rc dispatchers themselves: they would run whole runlevels, sysinit included */
  rc: 'system-init',
  rcS: 'system-init',
  /** mountall.sh, mountnfs.sh, mountkernfs.sh, mountdevsubfs.sh, mount-configfs, their bootclean helpers … */
  'mount*': 'system-init',
  'checkroot.sh': 'system-init',
  'checkroot-bootclean.sh': 'system-init',
  'checkfs.sh': 'system-init',
  /** sets the system clock from the RTC at start, writes the RTC at stop */
  'hwclock.sh': 'system-init',
  /** boot console logging belongs to whoever owns the console: metainit */
  bootlogd: 'system-init',
  'stop-bootlogd*': 'system-init',
  /**
   * The device manager is never run from a hosted rc: udevd would manage the host's devices
   * from inside the tree. metainit's system-init (or the holder of the device-manager role,
   * configured as a service of its own) does it.
   */
  udev: 'system-init',
  /** sysctl -p: kernel parameters are machine-wide */
  procps: 'system-init',
  /** loads kernel modules: machine-wide */
  kmod: 'system-init',
  /** sets the kernel's host name */
  'hostname.sh': 'system-init',
  // OpenRC's native machine scripts (Alpine, Gentoo) doing the same jobs
  localmount: 'system-init',
  netmount: 'system-init',
  fsck: 'system-init',
  root: 'system-init',
  sysfs: 'system-init',
  procfs: 'system-init',
  devfs: 'system-init',
  hwclock: 'system-init',
  swap: 'system-init',
  cgroups: 'system-init',
  modules: 'system-init',
  sysctl: 'system-init',
  hostname: 'system-init',
};

/** The metainit role that owns script `name`, or undefined when a hosted rc may run it. */
export function metainitOwner(name: string): MetainitRole | undefined {
  if (Object.hasOwn(METAINIT_OWNED_SCRIPTS, name)) return METAINIT_OWNED_SCRIPTS[name];
  for (const [key, role] of Object.entries(METAINIT_OWNED_SCRIPTS)) {
    if (key.endsWith('*') && name.startsWith(key.slice(0, -1))) return role;
  }
  return undefined;
}

/** The reason shown for a script metainit owns: `owned by metainit (role shutdown)`. */
export function ownedReason(role: MetainitRole): string {
  return `owned by metainit (role ${role})`;
}
