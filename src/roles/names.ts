/**
 * names.ts — the vocabulary of system roles.
 *
 * A *role* is a system-wide job that exactly one service should do at a time: one syslog daemon,
 * one cron, one udev. Several inits hosted side by side usually each ship a service for the same
 * role; the role registry (registry.ts) picks one owner per role and vetoes the others.
 *
 * The built-in roles are a zod enum, each member documented in ROLE_DESCRIPTIONS (shown by the
 * docs and usable by `metainit roles --help`-style output). metainit.yaml can add more names in
 * `roles.extra` (lower-case words with dashes, e.g. `mail-transport`); `allRoleNames(extra)` is the
 * full list the registry works with, built-ins first in the order below, then the extras.
 *
 * Roles are also the shared vocabulary of cross-instance dependencies: `after: [role:logging]`
 * means "after the holder of the logging role is ready" (`parseRoleRef`).
 */
import { z } from 'zod';

/** Built-in roles, in the order `metainit roles` lists them. */
export const BUILTIN_ROLES = [
  'logging',
  'cron',
  'monitoring',
  'device-manager',
  'network',
  'time-sync',
  'message-bus',
  'login',
  'system-init',
  'shutdown',
] as const;

export const RoleName = z.enum(BUILTIN_ROLES);
export type RoleName = z.infer<typeof RoleName>;

/** What each built-in role means, with the usual providers (documentation and CLI help). */
export const ROLE_DESCRIPTIONS: Record<RoleName, string> = {
  logging: 'the system log daemon: owns /dev/log and the syslog socket (rsyslog, syslog-ng, socklog, busybox syslogd, systemd-journald)',
  cron: 'the periodic job runner (cron, cronie, dcron, fcron, busybox crond, snooze)',
  monitoring: 'the watchdog / health monitor of the machine (monit, watchdog)',
  'device-manager': 'the device event daemon: creates /dev nodes and loads drivers (udevd, eudev, mdev, mdevd)',
  network: 'brings network interfaces up and keeps them configured (ifupdown, NetworkManager, dhcpcd, systemd-networkd, connman)',
  'time-sync': 'keeps the clock in time (chrony, ntpd, openntpd, systemd-timesyncd)',
  'message-bus': 'the system D-Bus daemon (dbus-daemon, dbus-broker)',
  login: 'the login and seat manager (elogind, systemd-logind, seatd)',
  'system-init': 'early system set-up: API file systems, hostname, hwclock, fsck and remounts; held by metainit itself unless configured otherwise',
  shutdown: 'the shutdown sequence: stopping services, killing what is left, unmounting and rebooting; held by metainit itself unless configured otherwise',
};

/** Every known role name: the built-ins in list order, then `extra` (duplicates dropped). */
export function allRoleNames(extra: readonly string[] = []): string[] {
  return [...new Set<string>([...BUILTIN_ROLES, ...extra])];
}

/** A zod schema accepting the built-in roles plus `extra` (for validating `provides:` lists). */
export function roleNameSchema(extra: readonly string[] = []): z.ZodType<string> {
  const names = allRoleNames(extra);
  return z.string().refine((v) => names.includes(v), {
    error: (issue) => `"${String(issue.input)}" is not a known role (fix: use one of ${names.join(', ')}, or add it to roles.extra in metainit.yaml)`,
  });
}

/** "role:logging" → "logging"; anything else → null. */
export function parseRoleRef(ref: string): string | null {
  return ref.startsWith('role:') && ref.length > 5 ? ref.slice(5) : null;
}
