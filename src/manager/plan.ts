/**
 * plan.ts — what a configuration would do, worked out from the stage-2 pipeline's result
 * (`metainit check`, `metainit plan`, and the live API's `plan`).
 *
 * Model: the pipeline (pipeline.ts) loads the directory the way boot does — every instance
 * through its adapter, offline. Each adapter then says how it orders its services
 * (`Adapter.plan()`): as a graph (native services' `after:`, sysv's LSB headers) or in one
 * sentence (runit and s6 start everything at once; OpenRC orders a runlevel itself). From that
 * come two dependency graphs:
 *   - instances, from the instance files' `after:` (instance names; roles are left to the role
 *     registry at boot);
 *   - services of every instance that plans a graph, from each service's `after:` resolved with
 *     `resolveRef`, across instances.
 * The result carries every load diagnostic plus one error per dependency cycle and one warning
 * per `after:` entry that names nothing. Nothing is printed here: the commands format.
 */
import { statSync } from 'node:fs';
import type { Diagnostic } from '../base/types.js';
import { holderOf, type RoleDecision } from '../roles/registry.js';
import { DepGraph, resolveRef, serviceGraph, type GraphNode, type ServiceRefs } from '../supervisor/graph.js';
import { loadStage2, offlineEnv, type InstanceFile, type LoadedInstance, type Stage2 } from './pipeline.js';

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
  /** service ids per start level, over every enabled instance whose adapter plans a graph */
  levels: string[][];
  /** one line for each enabled instance that orders its services itself */
  summaries: Array<{ instance: string; adapter: string; text: string }>;
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

/** Why `dir` is no configuration directory at all, or undefined. */
function configDirProblem(dir: string): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return `${dir}: unable to read the configuration: not a directory (fix: pass --config-dir the directory that holds metainit.yaml, adapters.d or services.d)`;
  } catch (e) {
    return `${dir}: unable to read the configuration: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (fix: pass --config-dir the directory that holds metainit.yaml, adapters.d or services.d)`;
  }
  return undefined;
}

/** Load `dir` offline through the pipeline and plan it. Never throws for bad configuration. */
export async function planConfig(dir: string): Promise<ConfigPlan> {
  return planStage(await loadStage2(dir, offlineEnv(), { includeDisabled: true }));
}

/** `planConfig` split into errors and warnings; `ok` when there is no error. */
export async function checkConfig(dir: string): Promise<ConfigCheck> {
  const plan = await planConfig(dir);
  const missing = configDirProblem(dir);
  // a directory that is not there is an error for `check` (a boot still runs, with nothing to run)
  if (missing) plan.diagnostics.unshift({ level: 'error', file: dir, key: '', message: missing });
  const errors = plan.diagnostics.filter((d) => d.level === 'error');
  const warnings = plan.diagnostics.filter((d) => d.level === 'warning');
  return { ok: errors.length === 0, errors, warnings, plan };
}

/** The plan of a loaded stage 2 (offline, or the running manager's). */
export function planStage(stage: Pick<Stage2, 'dir' | 'diagnostics' | 'instances' | 'disabled' | 'files'> & { roles?: Stage2['roles'] | undefined }): ConfigPlan {
  const cycleDiags: Diagnostic[] = [];
  const refDiags: Diagnostic[] = [];
  const unknownRefs: UnknownRef[] = [];
  const disabled = new Set(stage.files.filter((f) => !f.enabled).map((f) => f.name));
  const instanceNames = stage.files.map((f) => f.name);

  // services of every instance that plans a graph (disabled ones too: their files are still checked)
  const graphs: Array<{ instance: LoadedInstance; services: Array<ServiceRefs & { file: string }> }> = [];
  const summaries: ConfigPlan['summaries'] = [];
  for (const i of [...stage.instances, ...stage.disabled]) {
    const p = i.adapter.plan();
    if ('summary' in p) {
      if (!disabled.has(i.name)) summaries.push({ instance: i.name, adapter: i.kind, text: p.summary });
      continue;
    }
    graphs.push({ instance: i, services: p.services.map((s) => ({ id: `${i.name}/${s.name}`, instance: i.name, after: s.after, file: s.file ?? i.file })) });
  }
  const knownIds = new Set(graphs.flatMap((g) => g.services.map((s) => s.id)));
  const checkable = new Set(graphs.map((g) => g.instance.name));
  const fileOf = new Map<string, string>();
  const nodes: ServiceRefs[] = [];
  for (const { instance, services } of graphs) {
    for (const s of services) {
      fileOf.set(s.id, s.file);
      for (const ref of s.after) {
        const r = resolveRef(ref, instance.name, knownIds, instanceNames);
        if ('role' in r) {
          // what a file says (native services); an adapter's derived references (LSB facilities) are its own business
          if (instance.kind === 'native' && stage.roles) refDiags.push(...roleRefDiags(s.id, s.file, ref, r.role, stage.roles));
          continue;
        }
        const target = 'id' in r ? r.id.slice(0, r.id.indexOf('/')) : r.instance;
        if (disabled.has(target)) refDiags.push(disabledRef(s.id, s.file, ref, target));
        else if ('instance' in r || knownIds.has(r.id)) continue;
        else if (!instanceNames.includes(target)) {
          unknownRefs.push({ from: s.id, ref, file: s.file });
          refDiags.push(unknownRef(s.id, s.file, ref, `no such instance "${target}"`));
        } else if (checkable.has(target)) {
          unknownRefs.push({ from: s.id, ref, file: s.file });
          refDiags.push(unknownRef(s.id, s.file, ref, 'no such service'));
        }
        // else: a service of an instance that orders its services itself, known only once it runs
      }
      if (!disabled.has(instance.name)) nodes.push(s);
    }
  }
  const services = serviceGraph(nodes, instanceNames);
  const svcLevels = services.levels();
  const svcCycles = services.findCycles();
  for (const c of svcCycles) cycleDiags.push(cycleDiagnostic(c, fileOf.get(c[0]!) ?? stage.dir, c[0]!.slice(0, c[0]!.indexOf('/'))));

  // cycles are a property of the files (all enabled ones); levels, of the instances that run
  const holderInstance = (role: string): string | undefined => {
    const h = stage.roles ? holderOf(stage.roles, role) : null;
    return h && h !== 'metainit' ? h.instance : undefined;
  };
  const instanceNodes = instanceGraph(stage.files, disabled, instanceNames, refDiags, unknownRefs, holderInstance, stage.roles);
  const running = new Set(stage.instances.map((i) => i.name));
  const instLevels = new DepGraph(instanceNodes.filter((n) => running.has(n.id))).levels();
  const instCycles = new DepGraph(instanceNodes).findCycles();
  for (const c of instCycles) cycleDiags.push(cycleDiagnostic(c, stage.files.find((f) => f.name === c[0])?.file ?? stage.dir, undefined));

  return {
    dir: stage.dir,
    diagnostics: [...stage.diagnostics, ...cycleDiags, ...refDiags],
    instances: stage.files.map((f) => ({ name: f.name, adapter: f.kind, file: f.file, enabled: f.enabled })),
    instanceLevels: instLevels.levels,
    levels: svcLevels.levels,
    summaries,
    cycles: [...instCycles, ...svcCycles],
    blocked: [...instLevels.cyclic, ...instLevels.blocked, ...svcLevels.cyclic, ...svcLevels.blocked],
    unknownRefs,
  };
}

/**
 * The enabled instance files' own `after:` as graph nodes — `role:NAME` as the instance of the
 * role's holder, as the manager waits for it (nothing when metainit or nobody holds it); unknown
 * and disabled names are reported.
 */
function instanceGraph(files: InstanceFile[], disabled: Set<string>, names: string[], refDiags: Diagnostic[], unknownRefs: UnknownRef[], holderInstance: (role: string) => string | undefined, roles: RoleDecision | undefined): GraphNode[] {
  const nodes: GraphNode[] = [];
  for (const i of files) {
    if (!i.enabled) continue;
    const edges: string[] = [];
    for (const ref of i.after) {
      if (ref.startsWith('role:')) {
        if (roles) refDiags.push(...roleRefDiags(i.name, i.file, ref, ref.slice(5), roles));
        const holder = holderInstance(ref.slice(5));
        if (holder !== undefined && holder !== i.name) edges.push(holder);
        continue;
      }
      const name = ref.includes('/') ? ref.slice(0, ref.indexOf('/')) : ref;
      if (disabled.has(name)) refDiags.push(disabledRef(i.name, i.file, ref, name));
      else if (!names.includes(name)) {
        unknownRefs.push({ from: i.name, ref, file: i.file });
        refDiags.push(unknownRef(i.name, i.file, ref, 'no such instance'));
      } else edges.push(name);
    }
    nodes.push({ id: i.name, after: edges });
  }
  return nodes;
}

// ----------------------------------------------------------------------------- messages

/** "FILE: native/a: unable to schedule: dependency cycle a → b → c → a (fix: …)"; names shortened inside one instance */
function cycleDiagnostic(cycle: string[], file: string, instance: string | undefined): Diagnostic {
  const short = (id: string): string => (instance !== undefined && id.startsWith(`${instance}/`) ? id.slice(instance.length + 1) : id);
  const chain = [...cycle, cycle[0]!].map(short).join(' → ');
  const d: Diagnostic = {
    level: 'error',
    file,
    key: 'after',
    message: `${file}: ${cycle[0]}: unable to schedule: dependency cycle ${chain} (fix: remove one of these after: entries)`,
  };
  if (instance !== undefined) d.service = cycle[0]!;
  return d;
}

/** A warning about one `after:` entry of `from` (an instance, or "instance/service"). */
function afterWarning(from: string, file: string, ref: string, problem: string, fix: string): Diagnostic {
  const d: Diagnostic = { level: 'warning', file, key: 'after', message: `${file}: ${from}: after "${ref}": ${problem} (fix: ${fix})` };
  if (from.includes('/')) d.service = from;
  return d;
}

function unknownRef(from: string, file: string, ref: string, problem: string): Diagnostic {
  return afterWarning(from, file, ref, problem, 'correct the name, add what it names, or remove it from after:');
}

/**
 * An `after: [role:NAME]` entry: an unknown role is an error; a role nobody holds orders nothing
 * (the dependency is ready at once, as systemd's After= on a unit that is not started), which is
 * worth a warning — the file reads as if it waited.
 */
function roleRefDiags(from: string, file: string, ref: string, role: string, roles: RoleDecision): Diagnostic[] {
  if (!roles.grants.has(role)) {
    const d: Diagnostic = { level: 'error', file, key: 'after', message: `${file}: ${from}: after "${ref}": no such role (fix: use one of ${[...roles.grants.keys()].join(', ')}, or add it to roles.extra in metainit.yaml)` };
    if (from.includes('/')) d.service = from;
    return [d];
  }
  if (roles.grants.get(role) !== null) return [];
  return [afterWarning(from, file, ref, `nobody holds role ${role}, so this orders nothing: ${from} starts without waiting for it`, `give a service provides: [${role}] or name an owner in roles.owners, or remove it from after:`)];
}

function disabledRef(from: string, file: string, ref: string, instance: string): Diagnostic {
  return afterWarning(from, file, ref, `instance ${instance} is disabled, so this never becomes ready`, `set enabled: true in ${instance}'s file, or remove it from after:`);
}
