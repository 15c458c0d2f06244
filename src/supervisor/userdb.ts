/**
 * userdb.ts — user and group names → ids, read from the files of the tree a service runs in.
 *
 * Model: a service's `user:` / `group:` are looked up in `<root>/etc/passwd` and
 * `<root>/etc/group` — the tree the service runs in, not necessarily the host's — with no NSS,
 * no caching (the files are tiny and read only when a run starts). A number is taken as an id
 * as it is; for a numeric user that has an entry, its name and home still come from passwd.
 * The group defaults to the user's primary group. Without `user:` the service runs as root
 * (uid 0, HOME=/root) — or, when metainit itself is not root, as metainit's own user. Errors read `user NAME: not found in ROOT/etc/passwd`.
 */
import { regularFileText } from '../base/regular-file.js';
import { hostPath } from './rootfs.js';

export interface Identity {
  uid: number;
  gid: number;
  /** user name (the uid as text when passwd has no entry for a numeric user) */
  name: string;
  home: string;
}

const ROOT_IDENTITY: Identity = { uid: 0, gid: 0, name: 'root', home: '/root' };

/** Split a colon database file into rows; missing file → no rows. */
function rows(root: string, file: string): string[][] {
  const text = regularFileText(hostPath(root, file));
  if (text === undefined) return [];
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/** Find a passwd entry by name or uid. */
export function lookupUser(root: string, user: string | number): Identity {
  const numeric = typeof user === 'number' || /^\d+$/.test(user) ? Number(user) : undefined;
  for (const r of rows(root, '/etc/passwd')) {
    const [name, , uid, gid, , home] = r;
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (numeric !== undefined ? Number(uid) === numeric : name === user) {
      return { uid: Number(uid), gid: Number(gid), name, home: home || '/' };
    }
  }
  if (numeric === 0) return ROOT_IDENTITY;
  if (numeric !== undefined) return { uid: numeric, gid: numeric, name: String(numeric), home: '/' };
  throw new Error(`user ${user}: not found in ${hostPath(root, '/etc/passwd')}`);
}

/** Find a group id by name or number. */
export function lookupGroup(root: string, group: string | number): number {
  if (typeof group === 'number' || /^\d+$/.test(group)) return Number(group);
  for (const [name, , gid] of rows(root, '/etc/group')) {
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`group ${group}: not found in ${hostPath(root, '/etc/group')}`);
}

/** The identity a service runs as: `user` (default root) and `group` (default the user's group). Throws on unknown names. */
export function resolveIdentity(root: string, user?: string | number, group?: string | number): Identity {
  const id = lookupUser(root, user ?? process.getuid?.() ?? 0);
  return group === undefined ? id : { ...id, gid: lookupGroup(root, group) };
}
