/**
 * decide.ts — the role decision a configuration makes: its policy (metainit.yaml `roles:`) applied
 * to the claims the adapters reported. One call shared by the booting manager and the offline
 * `metainit check`, so both always reach the same verdict. (Kept apart from registry.ts, which the
 * fast CLI path loads and which must stay free of zod.)
 */
import type { GlobalConfig } from '../config/schema.js';
import { allRoleNames } from './names.js';
import { decideRoles, type InstanceClaim, type RoleDecision } from './registry.js';

export function decideForConfig(global: GlobalConfig, configFile: string, claims: InstanceClaim[], instances: string[], unholdable?: ReadonlyMap<string, Readonly<Record<string, string>>>): RoleDecision {
  return decideRoles({ roles: allRoleNames(global.roles.extra), claims, policy: global.roles, instances, file: configFile, ...(unholdable ? { unholdable } : {}) });
}
