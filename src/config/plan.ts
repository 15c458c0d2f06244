/**
 * plan.ts — what a configuration directory would do, worked out offline (`metainit check`,
 * `metainit plan`).
 *
 * Model: load the directory the way boot does (global file, instance files, and the services of
 * every native instance — other adapters read their own files at run time, so only their
 * instance file is checked here), then build two dependency graphs:
 *   - instances, from the instance files' `after:` (instance names; roles are left to the role
 *     registry at boot);
 *   - services of native instances, from each service's `after:` resolved with `resolveRef`.
 * The result carries every load diagnostic plus one error per dependency cycle and one warning
 * per `after:` entry that names nothing. Nothing is printed here: the commands format.
 */
import { resolve } from 'node:path';
import type { Diagnostic } from '../adapters/adapter.js';
import { DepGraph, resolveRef, type GraphNode } from '../supervisor/graph.js';
import { loadGlobal, loadInstances, loadNativeServices } from './loader.js';
import { roleDiagnostics } from './roles-check.js';

export interface UnknownRef {
  /** id ("instance/name") or instance name that wrote the entry */
  from: string;
  /** the entry as written */
  ref: string;
  file: string;
}

export interface ConfigPlan {
  /** absolute config dir */
  dir: string;
  /** load problems, then one error per cycle, then one warning per unknown or disabled reference */
  diagnostics: Diagnostic[];
  instances: Array<{ name: string; adapter: string; file: string; enabled: boolean }>;
  /** instance names per start level (enabled instances only) */
  instanceLevels: string[][];
  /** native service ids per start level (services of enabled instances only) */
  levels: string[][];
  /** every cycle: service ids, or instance names for cycles between instance files */
  cycles: string[][];
  /** ids/names left out of the levels because they are in, or depend on, a cycle */
  blocked: string[];
  unknownRefs: UnknownRef[];
}

export interface ConfigCheck {
  /** no error diagnostics */
  ok: boolean;
  errors: Diagnostic[];
  warnings: Diagnostic[];
  plan: ConfigPlan;
}

/** Load and analyse `dir`. Never throws for bad configuration. */
export function planConfig(dir: string): ConfigPlan {
  const global = loadGlobal(dir);
  const inst = loadInstances(dir);
  const diagnostics = [...global.diagnostics, ...inst.diagnostics];
  const cycleDiags: Diagnostic[] = [];
  const refDiags: Diagnostic[] = [];
  const unknownRefs: UnknownRef[] = [];
  const enabled = inst.instances.filter((i) => i.config.enabled);
  const disabled = new Set(inst.instances.filter((i) => !i.config.enabled).map((i) => i.name));
  const instanceNames = inst.instances.map((i) => i.name);

  // services of every native instance (disabled ones too: their files are still checked)
  const nodes: GraphNode[] = [];
  const fileOf = new Map<string, string>();
  const nativeServices = new Map<string, Array<{ id: string; file: string; after: string[] }>>();
  for (const i of inst.instances) {
    if (i.config.adapter !== 'native') continue;
    const loaded = loadNativeServices(String(i.config.services), i.name);
    diagnostics.push(...loaded.diagnostics);
    nativeServices.set(i.name, [...loaded.services].map(([name, s]) => ({ id: `${i.name}/${name}`, file: s.file, after: s.def.after })));
  }
  const knownIds = new Set([...nativeServices.values()].flat().map((s) => s.id));
  const checkable = new Set(nativeServices.keys());

  for (const [instance, services] of nativeServices) {
    for (const s of services) {
      fileOf.set(s.id, s.file);
      const edges: string[] = [];
      for (const ref of s.after) {
        const r = resolveRef(ref, instance, knownIds, instanceNames);
        if ('role' in r) continue;
        const target = 'id' in r ? r.id.slice(0, r.id.indexOf('/')) : r.instance;
        if (disabled.has(target)) refDiags.push(disabledRef(s.id, s.file, ref, target));
        else if ('instance' in r || knownIds.has(r.id)) {
          if ('id' in r) edges.push(r.id);
        } else if (!instanceNames.includes(target)) {
          unknownRefs.push({ from: s.id, ref, file: s.file });
          refDiags.push(unknownRef(s.id, s.file, ref, `no such instance "${target}"`));
        } else if (checkable.has(target)) {
          unknownRefs.push({ from: s.id, ref, file: s.file });
          refDiags.push(unknownRef(s.id, s.file, ref, 'no such service'));
        }
        // else: a service of a non-native instance, known only once that adapter loads
      }
      if (!disabled.has(instance)) nodes.push({ id: s.id, after: edges });
    }
  }
  const services = new DepGraph(nodes);
  const svcLevels = services.levels();
  const svcCycles = services.findCycles();
  for (const c of svcCycles) cycleDiags.push(cycleDiagnostic(c, fileOf.get(c[0]!) ?? dir, c[0]!.slice(0, c[0]!.indexOf('/'))));

  // instance files' after:
  const instanceNodes: GraphNode[] = [];
  for (const i of enabled) {
    const edges: string[] = [];
    for (const ref of i.config.after) {
      if (ref.startsWith('role:')) continue;
      const name = ref.includes('/') ? ref.slice(0, ref.indexOf('/')) : ref;
      if (disabled.has(name)) refDiags.push(disabledRef(i.name, i.file, ref, name));
      else if (!instanceNames.includes(name)) {
        unknownRefs.push({ from: i.name, ref, file: i.file });
        refDiags.push(unknownRef(i.name, i.file, ref, 'no such instance'));
      } else edges.push(name);
    }
    instanceNodes.push({ id: i.name, after: edges });
  }
  const instances = new DepGraph(instanceNodes);
  const instLevels = instances.levels();
  const instCycles = instances.findCycles();
  for (const c of instCycles) cycleDiags.push(cycleDiagnostic(c, enabled.find((i) => i.name === c[0])?.file ?? dir, undefined));

  return {
    dir: resolve(dir),
    diagnostics: [...diagnostics, ...cycleDiags, ...refDiags],
    instances: inst.instances.map((i) => ({ name: i.name, adapter: i.config.adapter, file: i.file, enabled: i.config.enabled })),
    instanceLevels: instLevels.levels,
    levels: svcLevels.levels,
    cycles: [...instCycles, ...svcCycles],
    blocked: [...instLevels.cyclic, ...instLevels.blocked, ...svcLevels.cyclic, ...svcLevels.blocked],
    unknownRefs,
  };
}

/** `planConfig` split into errors and warnings; `ok` when there is no error. */
export function checkConfig(dir: string): ConfigCheck {
  const plan = planConfig(dir);
  const errors = plan.diagnostics.filter((d) => d.level === 'error');
  const warnings = plan.diagnostics.filter((d) => d.level === 'warning');
  return { ok: errors.length === 0, errors, warnings, plan };
}

/** `checkConfig` plus the role registry's verdict (roles-check.ts: the adapters read their roots). */
export async function checkConfigAndRoles(dir: string): Promise<ConfigCheck> {
  const c = checkConfig(dir);
  const roles = await roleDiagnostics(dir);
  const errors = [...c.errors, ...roles.filter((d) => d.level === 'error')];
  return { ok: errors.length === 0, errors, warnings: [...c.warnings, ...roles.filter((d) => d.level === 'warning')], plan: c.plan };
}

// ----------------------------------------------------------------------------- messages

/** "native/a: unable to schedule: dependency cycle a → b → c → a (fix: …)"; names shortened inside one instance */
function cycleDiagnostic(cycle: string[], file: string, instance: string | undefined): Diagnostic {
  const short = (id: string): string => (instance !== undefined && id.startsWith(`${instance}/`) ? id.slice(instance.length + 1) : id);
  const chain = [...cycle, cycle[0]!].map(short).join(' → ');
  const d: Diagnostic = {
    level: 'error',
    file,
    key: 'after',
    message: `${cycle[0]}: unable to schedule: dependency cycle ${chain} (fix: remove one of these after: entries)`,
  };
  if (instance !== undefined) d.service = cycle[0]!;
  return d;
}

function unknownRef(from: string, file: string, ref: string, problem: string): Diagnostic {
  const d: Diagnostic = {
    level: 'warning',
    file,
    key: 'after',
    message: `${from}: after "${ref}": ${problem} (fix: correct the name, add what it names, or remove it from after:)`,
  };
  if (from.includes('/')) d.service = from;
  return d;
}

function disabledRef(from: string, file: string, ref: string, instance: string): Diagnostic {
  const d: Diagnostic = {
    level: 'warning',
    file,
    key: 'after',
    message: `${from}: after "${ref}": instance ${instance} is disabled, so this never becomes ready (fix: set enabled: true in ${instance}'s file, or remove it from after:)`,
  };
  if (from.includes('/')) d.service = from;
  return d;
}
