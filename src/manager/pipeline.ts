/**
 * pipeline.ts — stage 2's first half, the one way a configuration directory becomes instances:
 *
 *   load     metainit.yaml and adapters.d/*.yaml (config/loader.ts), then, per enabled instance,
 *            the adapter's factory (registry.ts) and its own `load()` — a bad file becomes a
 *            diagnostic, never a stop. An instance whose own file has an error (a wrong key,
 *            its init missing from its root) is reported and not run; what is wrong with a
 *            disabled instance is reported as a warning (it never runs anyway);
 *   claims   every adapter's role claims;
 *   decide   the role registry's verdict (roles/decide.ts), applied to every adapter before
 *            anything starts.
 *
 * The same function serves the booting manager (live: real syscalls, the PID-1 reaper, events
 * going out) and the offline commands `check`, `plan` and `roles --config-dir` (an environment
 * whose sys throws on any call: `Adapter.load()` only reads files, so an offline run starts
 * nothing and touches nothing). Live and offline therefore always reach the same verdict.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Mode } from '../base/mode.js';
import type { AdapterEvent } from '../base/events.js';
import type { Sys } from '../base/sys.js';
import { quietLogger, type Diagnostic, type Logger } from '../base/types.js';
import type { Adapter, DependencyView, InstancePeer } from '../adapters/adapter.js';
import { ENTRY_FILE, ENTRY_INSTANCE, entryService, type EntrySpec } from '../config/entry.js';
import { loadGlobal, loadInstances, type InstanceConfig, type NativeServiceEntry } from '../config/loader.js';
import { GlobalConfig } from '../config/schema.js';
import { decideForConfig } from '../roles/decide.js';
import type { RoleDecision } from '../roles/registry.js';
import { NO_CHILD_WATCH, type ChildWatch } from '../supervisor/reaper.js';
import { NO_ROOT_HOOKS, type RootHooks } from '../supervisor/sandbox.js';
import { adapterFactory, knownKinds } from './registry.js';

/** One loaded instance: its file, its `after:` and root, and the adapter driving it. */
export interface LoadedInstance {
  name: string;
  file: string;
  kind: string;
  after: string[];
  root: string;
  adapter: Adapter;
}

/** What the pipeline hands every adapter it creates, besides the instance's own config. */
export interface StageEnv {
  sys: Sys;
  log: Logger;
  reaper: ChildWatch;
  rootHooks: RootHooks;
  deps: DependencyView;
  emit(ev: AdapterEvent): void;
  /** live: create each instance's run dir; offline: create nothing */
  live: boolean;
  /** how metainit runs (offline: supervisor) */
  mode?: Mode;
}

/** One instance file as found, enabled or not. */
export interface InstanceFile {
  name: string;
  kind: string;
  file: string;
  enabled: boolean;
  /** its `after:` as written */
  after: string[];
}

export interface Stage2 {
  dir: string;
  global: GlobalConfig;
  /** every instance file that loaded, in name order */
  files: InstanceFile[];
  /** the enabled instances, each with its adapter loaded and its vetoes applied */
  instances: LoadedInstance[];
  /** disabled instances, loaded only with `includeDisabled` (offline: their files are still checked) */
  disabled: LoadedInstance[];
  /** load problems of every file (global, instances, each adapter's own), then the registry's */
  diagnostics: Diagnostic[];
  roles: RoleDecision;
}

/** An environment for offline analysis: any system call is an error, nothing is started. */
export function offlineEnv(): StageEnv {
  const sys = new Proxy({} as Sys, {
    get: (_, name) => () => {
      throw new Error(`check: unable to call ${String(name)}: an offline check makes no system calls`);
    },
  });
  return {
    sys,
    log: quietLogger,
    reaper: NO_CHILD_WATCH,
    rootHooks: NO_ROOT_HOOKS,
    deps: { state: () => 'unknown', onChange: () => () => undefined },
    emit: () => undefined,
    live: false,
  };
}

/**
 * claims → decide: who holds which role, from what the loaded instances claim now. Boot runs it
 * once; every `sync` runs it again (manager.ts), so that a claimant installed at run time is
 * judged as the next boot would judge it.
 */
export function decideStageRoles(global: GlobalConfig, dir: string, instances: ReadonlyArray<Pick<LoadedInstance, 'name' | 'adapter'>>): RoleDecision {
  const claims = instances.flatMap((i) => i.adapter.claims().map((c) => ({ instance: i.name, service: c.service, role: c.role })));
  const unholdable = new Map(instances.flatMap((i) => (i.adapter.unholdable ? [[i.name, i.adapter.unholdable()] as const] : [])));
  return decideForConfig(global, join(dir, 'metainit.yaml'), claims, instances.map((i) => i.name), unholdable);
}

/**
 * The global configuration of `metainit -- CMD` without a configuration directory: the defaults
 * as PID 1 of a container. Not PID 1 (a command run under metainit on a host), the runtime files
 * go to a directory of this process's own — /run/metainit/run-PID as root, else under
 * $XDG_RUNTIME_DIR (or /tmp) — so that any number of them run side by side.
 */
export function commandOnlyGlobal(mode: Mode | undefined, pid = process.pid): GlobalConfig {
  const g = GlobalConfig.parse({});
  if (mode !== 'supervisor') return g;
  const uid = process.getuid?.() ?? 0;
  const base = uid === 0 ? '/run/metainit' : join(process.env.XDG_RUNTIME_DIR || `/tmp/metainit-${uid}`, 'metainit');
  const runDir = join(base, `run-${pid}`);
  return { ...g, run_dir: runDir, log_dir: join(runDir, 'log'), socket: join(runDir, 'control.sock') };
}

/**
 * The entrypoint's main command as instance `main` (config/entry.ts); `global.main` names it.
 * A configuration that has an instance of that name keeps it, and the command is refused.
 */
async function entryInstance(spec: EntrySpec, global: GlobalConfig, dir: string, taken: boolean, env: StageEnv): Promise<{ instance?: LoadedInstance; diagnostics: Diagnostic[] }> {
  if (taken) return { diagnostics: [{ level: 'error', file: join(dir, 'adapters.d', `${ENTRY_INSTANCE}.yaml`), key: '', message: `${ENTRY_INSTANCE}: unable to run the main command: the configuration has an instance named ${ENTRY_INSTANCE} (fix: rename adapters.d/${ENTRY_INSTANCE}.yaml)` }] };
  const svc = entryService(spec);
  if (typeof svc === 'string') return { diagnostics: [{ level: 'error', file: ENTRY_FILE, key: '', message: `main: unable to run ${JSON.stringify(spec.argv)}: ${svc}` }] };
  global.main = `${ENTRY_INSTANCE}/${svc.name}`;
  const config = { adapter: 'native', root: '/', after: [] as string[], enabled: true };
  return createInstance(dir, global, ENTRY_INSTANCE, ENTRY_FILE, config, env, [], new Map([[svc.name, svc.entry]]));
}

/**
 * load → claims → decide for `dir`. Never throws for bad configuration. With `entry` the main
 * command of `metainit -- CMD` is one more instance; `dir` '' then means no directory at all.
 */
export async function loadStage2(dir: string, env: StageEnv, opts: { includeDisabled?: boolean; entry?: EntrySpec } = {}): Promise<Stage2> {
  const none = dir === '' && opts.entry !== undefined;
  const root = none ? '' : resolve(dir);
  const g = none ? { config: commandOnlyGlobal(env.mode), diagnostics: [] } : loadGlobal(root);
  const defs = none ? { instances: [], diagnostics: [] } : loadInstances(root, knownKinds());
  const diagnostics = [...g.diagnostics, ...defs.diagnostics];
  const instances: LoadedInstance[] = [];
  const disabled: LoadedInstance[] = [];
  const peers = defs.instances.filter((d) => d.config.enabled !== false).map((d) => ({ instance: d.name, adapter: d.config.adapter, root: d.config.root ?? '/' }));
  for (const def of defs.instances) {
    const enabled = def.config.enabled !== false;
    if (!enabled && !opts.includeDisabled) continue;
    const loaded = await createInstance(root, g.config, def.name, def.file, def.config, env, peers.filter((p) => p.instance !== def.name));
    // a disabled instance never runs: what is wrong with it is worth a warning, not a failed check
    diagnostics.push(...(enabled ? loaded.diagnostics : loaded.diagnostics.map((d) => ({ ...d, level: 'warning' as const }))));
    // an instance whose own file does not load (its keys, its init missing from its root) is not run
    const unusable = loaded.diagnostics.some((d) => d.level === 'error' && d.file === def.file);
    if (loaded.instance && !unusable) (enabled ? instances : disabled).push(loaded.instance);
  }
  if (opts.entry) {
    if (g.config.main !== undefined) diagnostics.push({ level: 'warning', file: join(root, 'metainit.yaml'), key: 'main', message: `main: ${g.config.main} gives way to the command line's main command (fix: drop main: from metainit.yaml, or the command)` });
    const e = await entryInstance(opts.entry, g.config, root, defs.instances.some((d) => d.name === ENTRY_INSTANCE), env);
    diagnostics.push(...e.diagnostics);
    if (e.instance) instances.push(e.instance);
  }
  const files = defs.instances.map((d) => ({ name: d.name, kind: d.config.adapter, file: d.file, enabled: d.config.enabled !== false, after: d.config.after }));
  const roles = decideStageRoles(g.config, root, instances);
  diagnostics.push(...roles.diagnostics);
  for (const i of instances) i.adapter.applyRoles(roles.vetoed.get(i.name) ?? new Set());
  return { dir: root, global: g.config, files, instances, disabled, diagnostics, roles };
}

async function createInstance(
  dir: string,
  global: GlobalConfig,
  name: string,
  file: string,
  config: InstanceConfig,
  env: StageEnv,
  peers: readonly InstancePeer[],
  inlineServices?: ReadonlyMap<string, NativeServiceEntry>,
): Promise<{ instance?: LoadedInstance; diagnostics: Diagnostic[] }> {
  try {
    const factory = await adapterFactory(config.adapter);
    const runDir = join(global.run_dir, name);
    if (env.live) mkdirSync(runDir, { recursive: true, mode: 0o755 });
    const adapter = factory({
      instance: name,
      config,
      configDir: dir,
      file,
      runDir,
      logDir: global.log_dir,
      sys: env.sys,
      log: env.log,
      reaper: env.reaper,
      rootHooks: env.rootHooks,
      deps: env.deps,
      mode: env.mode ?? 'supervisor',
      peers,
      emit: (ev) => env.emit(ev),
      ...(inlineServices ? { inlineServices } : {}),
    });
    const diagnostics = await adapter.load();
    return { instance: { name, file, kind: config.adapter, after: config.after, root: config.root, adapter }, diagnostics };
  } catch (e) {
    return { diagnostics: [{ level: 'error', file, key: 'adapter', message: `${name}: unable to load instance: ${(e as Error).message}` }] };
  }
}
