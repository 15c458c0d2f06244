/**
 * registry.ts — the role registry: one owner per role, every other claimant vetoed.
 *
 * Model. Adapters report *claims* (instance, service, role): "this service could be the system's
 * logger". `decideRoles` turns all claims plus the policy of metainit.yaml into *grants*, one per
 * known role, by these rules, first match wins:
 *
 *   1. `roles.owners.ROLE` names the holder: "instance" (its first claimant of ROLE in name order),
 *      "instance/service", or "metainit" (only for the roles metainit holds itself, below).
 *      An owner that names no claimant is reported as an error and ignored (rule 3 decides).
 *   2. system-init and shutdown are held by metainit itself (holder "metainit").
 *   3. priority: the first instance of `roles.priority` that has a claimant wins; instances not
 *      listed come after it, in instance-name order; within an instance the first claimant service
 *      in name order wins. When the winner was picked by name order although claimants sit in two
 *      or more instances, no policy decided: a *conflict* warning for `metainit check`.
 *   4. no claimant: the role is unowned (holder null).
 *
 * A service runs only if it holds every role it claims: a service that claims two roles and wins
 * one but loses the other is vetoed — it cannot run half — and the role it won passes to the next
 * claimant. The registry repeats the grants with such services excluded until nothing changes
 * (the excluded set only grows, so this ends). Claims of unknown roles are reported and ignored:
 * the service runs unarbitrated.
 *
 * Pure: no I/O, deterministic (byte-wise name order, never locale order). The output feeds
 * `Adapter.applyRoles` (vetoed), dependency resolution of `role:NAME` (holderOf) and the
 * `metainit roles` table (roleTable, formatRoleTable). No zod at run time: the CLI fast path
 * imports the formatter.
 */
import { z } from 'zod';
import type { Diagnostic } from '../base/types.js';
import type { GlobalConfig } from '../config/schema.js';
import type { MetainitRole } from './lsb-facilities.js';

/** Why a vetoed service is not running — the one wording every adapter shows in `status`. */
export const VETO_REASON = 'vetoed: another instance holds its role (see metainit roles)';

/** The error of a job on a vetoed service ("start", "restart"). */
export function vetoError(id: string, verb: string): Error {
  return new Error(`${id}: unable to ${verb}: vetoed, another instance holds its role (fix: see metainit roles)`);
}

/** The holder name of roles that metainit keeps for itself. */
export const METAINIT = 'metainit';

/** Roles metainit holds itself unless `roles.owners` names another holder. */
export const METAINIT_ROLES: readonly string[] = ['system-init', 'shutdown'] satisfies MetainitRole[];

export type RolePolicy = GlobalConfig['roles'];

/** One claim, as the manager collects it from `Adapter.claims()`. */
export interface InstanceClaim {
  instance: string;
  service: string;
  role: string;
}

export interface ServiceRef {
  instance: string;
  service: string;
}

/** Who holds a role: a service, metainit itself, or nobody. */
export type Grant = ServiceRef | typeof METAINIT | null;

export interface RoleInput {
  /** every known role name, built-ins and extras (names.ts allRoleNames) */
  roles: string[];
  claims: InstanceClaim[];
  policy: RolePolicy;
  /** names of the loaded (enabled) instances */
  instances: string[];
  /** metainit.yaml path for diagnostics (default "metainit.yaml") */
  file?: string;
  /** instance → roles it can never hold, with the reason (a hosted systemd: time-sync, device-manager) */
  unholdable?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface RoleDecision {
  /** one entry per known role, in the order of `roles` */
  grants: Map<string, Grant>;
  /** instance → its vetoed services; every instance has an entry (maybe empty) — feed applyRoles */
  vetoed: Map<string, Set<string>>;
  /** "instance/service" → the role it lost (the reason it is vetoed) */
  vetoedBy: Map<string, string>;
  /** role → its claimants ("instance/service"), in name order */
  claimants: Map<string, string[]>;
  diagnostics: Diagnostic[];
}

/** One row of `metainit roles`. */
export const RoleRow = z.object({
  role: z.string(),
  /** "instance/service", "metainit", or null when nobody holds it */
  holder: z.string().nullable(),
  /** the holder's state, null when unowned */
  state: z.string().nullable(),
  /** "instance/service" of every claimant told not to provide it */
  vetoed: z.array(z.string()),
});
export type RoleRow = z.infer<typeof RoleRow>;

const idOf = (r: ServiceRef): string => `${r.instance}/${r.service}`;
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byRef = (a: ServiceRef, b: ServiceRef): number => byName(a.instance, b.instance) || byName(a.service, b.service);

/** "instance/service", "metainit" or null. */
export function grantId(g: Grant): string | null {
  return g === null || g === METAINIT ? g : idOf(g);
}

type Owner = { kind: 'metainit' } | { kind: 'instance'; instance: string } | { kind: 'service'; instance: string; service: string };

// ------------------------------------------------------------------------------ decision

type Diag = (level: Diagnostic['level'], key: string, message: string, service?: string) => void;
type Claimed = Map<string, { ref: ServiceRef; roles: Set<string> }>;
type Conflict = { role: string; cands: ServiceRef[]; pick: ServiceRef };

export function decideRoles(input: RoleInput): RoleDecision {
  const file = input.file ?? 'metainit.yaml';
  const diagnostics: Diagnostic[] = [];
  const roles = [...new Set([...input.roles, ...input.policy.extra])];
  const instances = new Set(input.instances);
  // every message names its file first (metainit.yaml), as every other diagnostic does
  const diag: Diag = (level, key, message, service) => {
    diagnostics.push({ level, file, key, message: message.startsWith(`${file}: `) ? message : `${file}: ${message}`, ...(service !== undefined ? { service } : {}) });
  };
  const { byRole, rolesOf } = groupClaims(input.claims, roles, diag);
  const owners = parseOwners(input.policy.owners, new Set(roles), instances, byRole, diag, input.unholdable);
  const priority = [...new Set(input.policy.priority)].filter((i) => instances.has(i) || input.claims.some((c) => c.instance === i));

  // Grant, exclude services that would run half, repeat until stable (the excluded set only grows).
  const excluded = new Map<string, string>(); // id → role it lost
  let round = grantRound(roles, byRole, excluded, owners, priority);
  for (let halves = halfHolders(rolesOf, roles, round.grants, excluded); halves.length > 0; halves = halfHolders(rolesOf, roles, round.grants, excluded)) {
    for (const [id, lost] of halves) {
      excluded.set(id, lost);
      const won = roles.filter((r) => rolesOf.get(id)!.roles.has(r) && grantId(round.grants.get(r)!) === id);
      diag(
        'warning',
        `roles.owners.${lost}`,
        `${id}: unable to hold role ${won.join(', ')}: it also claims ${lost}, held by ${grantId(round.grants.get(lost)!)}, and a service cannot run half; it is vetoed (fix: set roles.owners.${lost} to ${id}, or roles.owners.${won[0]} to another claimant)`,
        id,
      );
    }
    round = grantRound(roles, byRole, excluded, owners, priority);
  }
  const { grants, conflicts } = round;
  for (const { role, cands, pick } of conflicts) {
    diag(
      'warning',
      'roles.priority',
      `role ${role}: unable to choose an owner by policy: claimed by ${cands.map(idOf).join(', ')}; picked ${idOf(pick)} by instance name (fix: set roles.owners.${role} or list the instances in roles.priority in metainit.yaml)`,
    );
  }
  const { vetoed, vetoedBy } = vetoes(input.instances, rolesOf, roles, grants, excluded);
  const claimants = new Map([...byRole].map(([r, list]) => [r, list.map(idOf)]));
  return { grants, vetoed, vetoedBy, claimants, diagnostics };
}

/** Claims of known roles, grouped by role (claimants in name order) and by service. */
function groupClaims(claims: InstanceClaim[], roles: string[], diag: Diag): { byRole: Map<string, ServiceRef[]>; rolesOf: Claimed } {
  const known = new Set(roles);
  const byRole = new Map<string, ServiceRef[]>(roles.map((r) => [r, []]));
  const rolesOf: Claimed = new Map();
  for (const c of claims) {
    const ref = { instance: c.instance, service: c.service };
    const id = idOf(ref);
    if (!known.has(c.role)) {
      diag('warning', 'roles.extra', `${id}: unable to claim role ${c.role}: not a known role, the claim is ignored (fix: add "${c.role}" to roles.extra in metainit.yaml, or use one of ${roles.join(', ')})`, id);
      continue;
    }
    const entry = rolesOf.get(id) ?? { ref, roles: new Set<string>() };
    rolesOf.set(id, entry);
    if (entry.roles.has(c.role)) continue;
    entry.roles.add(c.role);
    byRole.get(c.role)!.push(ref);
  }
  for (const list of byRole.values()) list.sort(byRef);
  return { byRole, rolesOf };
}

/** One grant per role by rules 1–4, the excluded services left out. */
function grantRound(roles: string[], byRole: Map<string, ServiceRef[]>, excluded: Map<string, string>, owners: Map<string, Owner>, priority: string[]): { grants: Map<string, Grant>; conflicts: Conflict[] } {
  const grants = new Map<string, Grant>();
  const conflicts: Conflict[] = [];
  for (const role of roles) {
    const cands = byRole.get(role)!.filter((c) => !excluded.has(idOf(c)));
    const owner = owners.get(role);
    let grant: Grant | undefined;
    if (owner?.kind === 'metainit' || (!owner && METAINIT_ROLES.includes(role))) grant = METAINIT;
    else if (owner) grant = cands.find((c) => c.instance === owner.instance && (owner.kind === 'instance' || c.service === owner.service));
    if (grant === undefined) {
      const ranked = priority.map((inst) => cands.find((c) => c.instance === inst)).find((c) => c !== undefined);
      grant = ranked ?? cands[0] ?? null;
      if (!ranked && grant && new Set(cands.map((c) => c.instance)).size > 1) conflicts.push({ role, cands, pick: grant });
    }
    grants.set(role, grant);
  }
  return { grants, conflicts };
}

/** Services that hold some of the roles they claim but lose another: [id, a role it lost]. */
function halfHolders(rolesOf: Claimed, roles: string[], grants: Map<string, Grant>, excluded: Map<string, string>): Array<[string, string]> {
  const halves: Array<[string, string]> = [];
  for (const [id, { roles: claimed }] of rolesOf) {
    if (excluded.has(id)) continue;
    const held = [...claimed].filter((r) => grantId(grants.get(r)!) === id);
    const lost = roles.find((r) => claimed.has(r) && grantId(grants.get(r)!) !== id);
    if (held.length > 0 && lost !== undefined) halves.push([id, lost]);
  }
  return halves;
}

/** Everyone who claims a role they do not hold is vetoed. */
function vetoes(instances: string[], rolesOf: Claimed, roles: string[], grants: Map<string, Grant>, excluded: Map<string, string>): { vetoed: Map<string, Set<string>>; vetoedBy: Map<string, string> } {
  const vetoed = new Map<string, Set<string>>(instances.map((i) => [i, new Set<string>()]));
  const vetoedBy = new Map<string, string>();
  for (const [id, { ref, roles: claimed }] of rolesOf) {
    const lost = excluded.get(id) ?? roles.find((r) => claimed.has(r) && grantId(grants.get(r)!) !== id);
    if (lost === undefined) continue;
    vetoedBy.set(id, lost);
    if (!vetoed.has(ref.instance)) vetoed.set(ref.instance, new Set());
    vetoed.get(ref.instance)!.add(ref.service);
  }
  return { vetoed, vetoedBy };
}

/** Validate `roles.owners`; invalid entries become error diagnostics and are left out. */
function parseOwners(
  raw: Record<string, string>,
  known: Set<string>,
  instances: Set<string>,
  byRole: Map<string, ServiceRef[]>,
  diag: (level: Diagnostic['level'], key: string, message: string) => void,
  unholdable: ReadonlyMap<string, Readonly<Record<string, string>>> = new Map(),
): Map<string, Owner> {
  const owners = new Map<string, Owner>();
  for (const [role, value] of Object.entries(raw)) {
    const key = `roles.owners.${role}`;
    if (!known.has(role)) {
      diag('error', key, `${key}: unable to set owner: ${role} is not a known role (fix: add "${role}" to roles.extra, or use one of ${[...known].join(', ')})`);
      continue;
    }
    if (value === METAINIT) {
      if (METAINIT_ROLES.includes(role)) owners.set(role, { kind: 'metainit' });
      else diag('error', key, `${key}: unable to grant role ${role} to metainit: metainit itself only holds ${METAINIT_ROLES.join(' and ')} (fix: name an instance or instance/service that claims ${role})`);
      continue;
    }
    const m = /^([^/\s]+)(?:\/([^/\s]+))?$/.exec(value);
    if (!m) {
      diag('error', key, `${key}: unable to set owner "${value}": not "instance", "instance/service" or "metainit" (fix: e.g. ${role}: runit/socklog)`);
      continue;
    }
    const owner: Owner = m[2] === undefined ? { kind: 'instance', instance: m[1]! } : { kind: 'service', instance: m[1]!, service: m[2] };
    const cands = byRole.get(role)!;
    const fallback = 'the priority order decides instead';
    if (!instances.has(owner.instance) && !cands.some((c) => c.instance === owner.instance)) {
      diag('error', key, `${key}: unable to grant role ${role} to ${value}: no instance named ${owner.instance}; ${fallback} (fix: check that adapters.d/${owner.instance}.yaml exists and is enabled, or correct the name)`);
      continue;
    }
    const never = unholdable.get(owner.instance)?.[role];
    if (never !== undefined && !cands.some((c) => c.instance === owner.instance)) {
      diag('error', key, `${key}: unable to grant role ${role} to ${value}: ${never}; ${fallback} (fix: give ${role} to a service outside ${owner.instance}, e.g. a native or runit one)`);
      continue;
    }
    if (!cands.some((c) => c.instance === owner.instance && (owner.kind === 'instance' || c.service === owner.service))) {
      const who = cands.length > 0 ? `claimants are ${cands.map(idOf).join(', ')}` : `nothing claims ${role}`;
      diag('error', key, `${key}: unable to grant role ${role} to ${value}: it does not claim ${role} (${who}); ${fallback} (fix: name a claimant, or declare the role on the service, e.g. provides: [${role}] in a native service)`);
      continue;
    }
    owners.set(role, owner);
  }
  return owners;
}

// ------------------------------------------------------------------------------ queries

/** The holder of `role` (for `after: [role:NAME]`): a service, "metainit", or null (unowned/unknown). */
export function holderOf(decision: RoleDecision, role: string): Grant {
  return decision.grants.get(role) ?? null;
}

/** Is this service vetoed (must not run)? */
export function isVetoed(decision: RoleDecision, instance: string, service: string): boolean {
  return decision.vetoed.get(instance)?.has(service) ?? false;
}

/**
 * Rows of `metainit roles`, one per known role. `serviceState(id)` gives the observed state of a
 * service ("running", "error" …) or null when unknown; metainit itself is always "running".
 */
export function roleTable(decision: RoleDecision, serviceState: (id: string) => string | null): RoleRow[] {
  return [...decision.grants].map(([role, grant]) => {
    const holder = grantId(grant);
    const state = holder === null ? null : holder === METAINIT ? 'running' : serviceState(holder);
    const vetoed = (decision.claimants.get(role) ?? []).filter((id) => id !== holder && decision.vetoedBy.has(id));
    return { role, holder, state, vetoed };
  });
}

