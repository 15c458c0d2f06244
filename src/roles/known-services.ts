/**
 * known-services.ts — which role a service provides, judged by its name alone.
 *
 * Model. Hosted inits (runit, s6, sysv rc, OpenRC, systemd units) do not declare roles; their
 * service names do, by convention: a runit service called `cron` or an init script called
 * `rsyslog` is that system's cron or syslog daemon. Adapters that have nothing better ask
 * `roleOfService(name)` and turn a hit into a RoleClaim. The table is the ONE place that knows
 * these conventions; extending it is one line.
 *
 * Names are compared after `normaliseServiceName`: lower case, a systemd unit suffix
 * (`.service`) dropped, and an instance part (`getty@tty1` → `getty`) dropped.
 *
 * Deliberately absent: getty/agetty (terminals are not a system-wide singleton), and
 * systemd-journald (systemd's own log sink; it cannot be masked without breaking systemd — the
 * systemd adapter decides about it).
 */

/** service name → role (names from roles/names.ts) */
export const KNOWN_SERVICE_ROLES: Readonly<Record<string, string>> = Object.freeze({
  // cron: the periodic job runner
  cron: 'cron',
  cronie: 'cron',
  crond: 'cron',
  anacron: 'cron',
  fcron: 'cron',
  bcron: 'cron',
  dcron: 'cron',
  // logging: owns /dev/log
  rsyslog: 'logging',
  'syslog-ng': 'logging',
  syslogd: 'logging',
  'busybox-syslogd': 'logging',
  'inetutils-syslogd': 'logging',
  socklog: 'logging',
  'socklog-unix': 'logging',
  sysklogd: 'logging',
  // time-sync: disciplines the clock
  chrony: 'time-sync',
  chronyd: 'time-sync',
  ntp: 'time-sync',
  ntpd: 'time-sync',
  ntpsec: 'time-sync',
  openntpd: 'time-sync',
  'systemd-timesyncd': 'time-sync',
  // message-bus: the system D-Bus
  dbus: 'message-bus',
  'dbus-broker': 'message-bus',
  // device-manager: /dev nodes and driver loading
  udev: 'device-manager',
  udevd: 'device-manager',
  'systemd-udevd': 'device-manager',
  eudev: 'device-manager',
  mdev: 'device-manager',
  mdevd: 'device-manager',
  // login: seats and sessions
  elogind: 'login',
  'systemd-logind': 'login',
});

/** "Cron.service" → "cron", "getty@tty1" → "getty". */
export function normaliseServiceName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\.service$/, '')
    .replace(/@.*$/, '');
}

/** The role a service of this name provides, or undefined when its name says nothing. */
export function roleOfService(name: string): string | undefined {
  const key = normaliseServiceName(name);
  return Object.prototype.hasOwnProperty.call(KNOWN_SERVICE_ROLES, key) ? KNOWN_SERVICE_ROLES[key] : undefined;
}

/** Every known service name of `role` (the daemons a package could bring to do that job). */
export function servicesOfRole(role: string): string[] {
  return Object.entries(KNOWN_SERVICE_ROLES)
    .filter(([, r]) => r === role)
    .map(([name]) => name)
    .sort();
}
