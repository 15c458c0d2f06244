/**
 * svc.ts — what the OpenRC adapter knows of one service (a script of the root's /etc/init.d that
 * its runlevel starts, or that OpenRC started as a dependency), and how that reads as a shared
 * ServiceStatus. The state itself comes from OpenRC's state directories (states.ts).
 */
import type { ServiceState, ServiceStatus, Target } from '../../base/states.js';
import { metainitOwner, ownedReason, type MetainitRole } from '../../roles/lsb-facilities.js';
import { LineTail } from '../../supervisor/pty-runner.js';

export interface Svc {
  name: string;
  /** in the configured runlevel (else started by OpenRC as a dependency) */
  member: boolean;
  owned: MetainitRole | undefined;
  vetoed: boolean;
  state: ServiceState;
  target: Target;
  reason: string | undefined;
  since: number;
  pid: number | undefined;
  lastExit: { code: number | null; signal: string | null } | undefined;
  tail: LineTail;
}

/** A service first seen: stopped, down; a script whose job metainit does itself is marked owned. */
export function newSvc(name: string, member: boolean): Svc {
  const owned = metainitOwner(name);
  return { name, member, owned, vetoed: false, state: 'stopped', target: 'down', reason: owned ? ownedReason(owned) : undefined, since: Date.now(), pid: undefined, lastExit: undefined, tail: new LineTail() };
}

export function statusOf(instance: string, s: Svc): ServiceStatus {
  const st: ServiceStatus = { id: `${instance}/${s.name}`, instance, name: s.name, adapter: 'openrc', state: s.state, target: s.target, since: s.since, restarts: 0, oneshot: false, kind: 'service', after: [] };
  if (s.reason !== undefined) st.reason = s.reason;
  if (s.pid !== undefined && s.state === 'running') st.pid = s.pid;
  if (s.lastExit) st.lastExit = s.lastExit;
  return st;
}
