/**
 * loader.ts — a configuration directory read into validated, normalised values.
 *
 * Model (zinit's): one YAML file per thing, the file stem is its name, and a bad file is
 * reported and skipped — never fatal, the rest loads. Three layers:
 *
 *   DIR/metainit.yaml         global config; optional; a broken file → defaults + diagnostic
 *   DIR/adapters.d/NAME.yaml  one instance per file; only the keys every adapter shares are
 *                             checked here (adapter-specific keys pass through to the adapter,
 *                             which checks them with its own schema). Without an
 *                             adapters.d but with a services.d, one native instance "native" is
 *                             assumed, so the plain zinit layout works as is.
 *   SERVICES/NAME.yaml        native services; validated, then normalised into what the
 *                             supervisor runs (ResolvedNativeService): `test:` folded into
 *                             `ready`, the restart default filled in, `exec` split into argv.
 *
 * Relative paths in instance files are relative to DIR. Nothing here starts anything.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Diagnostic } from '../base/types.js';
import { diagnostic, validate, type Subject } from './errors.js';
import { GlobalConfig, InstanceBase, NativeService, Readiness, RestartPolicy } from './schema.js';
import { SplitError, splitCommand } from './split.js';
import { listYamlDir, readYamlFile } from './yaml-file.js';

// ----------------------------------------------------------------------------- global

/** Load DIR/metainit.yaml. A missing or empty file means every default. */
export function loadGlobal(dir: string): { config: GlobalConfig; diagnostics: Diagnostic[] } {
  const defaults = GlobalConfig.parse({});
  const subject: Subject = { file: join(resolve(dir), 'metainit.yaml'), what: 'global config' };
  if (!existsSync(subject.file)) return { config: defaults, diagnostics: [] };
  const r = loadFile(subject, () => GlobalConfig, undefined);
  return { config: r.value ?? defaults, diagnostics: r.diagnostics };
}

// ----------------------------------------------------------------------------- instances

/** An instance file's config: the shared keys validated, adapter-specific keys passed through. */
export type InstanceConfig = z.output<typeof InstanceBase> & Record<string, unknown>;

export interface InstanceDef {
  /** file stem of adapters.d/NAME.yaml ("native" when synthesised from services.d) */
  name: string;
  /** the instance file (the services.d directory when synthesised) */
  file: string;
  /** the shared keys validated, `root` absolute; the adapter checks its own keys */
  config: InstanceConfig;
}

/**
 * Load DIR/adapters.d/*.yaml (or synthesise the native instance of DIR/services.d). `kinds` are
 * the adapter kinds of this build (the adapter registry's); any other `adapter:` is an error.
 */
export function loadInstances(dir: string, kinds: readonly string[]): { instances: InstanceDef[]; diagnostics: Diagnostic[] } {
  const root = resolve(dir);
  const adaptersDir = join(root, 'adapters.d');
  const servicesDir = join(root, 'services.d');
  if (!isDir(adaptersDir)) {
    if (isDir(servicesDir)) {
      const config: InstanceConfig = { ...InstanceBase.parse({ adapter: 'native' }), services: servicesDir };
      return { instances: [{ name: 'native', file: servicesDir, config }], diagnostics: [] };
    }
    const subject: Subject = { file: root, what: 'instances' };
    return { instances: [], diagnostics: [diagnostic(subject, '', 'neither adapters.d nor services.d exists, so nothing will run', 'add adapters.d/NAME.yaml files, or services.d/NAME.yaml for native services', 'warning')] };
  }

  const subjectOf = (e: { name: string; file: string }): Subject => ({ file: e.file, what: `instance ${e.name}` });
  const listing = listYamlDir(adaptersDir, subjectOf);
  const diagnostics = [...listing.diagnostics];
  const instances: InstanceDef[] = [];
  const anyKind = InstanceBase.extend({ adapter: z.enum(kinds as [string, ...string[]]) }).loose();
  for (const entry of listing.entries) {
    const subject = subjectOf(entry);
    const r = loadFile(subject, (data) => anyKind, `add at least adapter: native (or ${kinds.filter((k) => k !== 'native').join(', ')})`);
    diagnostics.push(...r.diagnostics);
    if (r.value === undefined) continue;
    const value = r.value as InstanceConfig;
    const config: InstanceConfig = { ...value, root: resolve(root, value.root) };
    instances.push({ name: entry.name, file: entry.file, config });
  }
  return { instances, diagnostics };
}

// ----------------------------------------------------------------------------- native services

/** A native service as the supervisor runs it. */
export type ResolvedNativeService = Omit<NativeService, 'restart' | 'test'> & {
  /** filled in: always for services, never for oneshots (a oneshot ends ok or error and stays so) */
  restart: z.output<typeof RestartPolicy>;
  /** what is executed: split `exec`, `['/bin/sh', '-c', exec]` with shell: true, or the exec list as given */
  argv: string[];
  /** `ready.test` split into argv, when readiness is a test command */
  readyArgv?: string[];
};

export interface NativeServiceEntry {
  file: string;
  def: ResolvedNativeService;
  /** file text, for change detection */
  raw: string;
}

/** Load every *.yaml / *.yml of `servicesDir` as a native service of `instance`. */
export function loadNativeServices(servicesDir: string, instance: string): { services: Map<string, NativeServiceEntry>; diagnostics: Diagnostic[] } {
  const services = new Map<string, NativeServiceEntry>();
  const dir = resolve(servicesDir);
  const subjectOf = (e: { name: string; file: string }): Subject => ({ file: e.file, what: `service ${instance}/${e.name}`, service: `${instance}/${e.name}` });
  if (!isDir(dir)) {
    const subject: Subject = { file: dir, what: `services of instance ${instance}` };
    return { services, diagnostics: [diagnostic(subject, '', 'the services directory does not exist', `create it, or point services: in adapters.d/${instance}.yaml elsewhere`, 'warning')] };
  }
  const listing = listYamlDir(dir, subjectOf);
  const diagnostics = [...listing.diagnostics];
  for (const entry of listing.entries) {
    const subject = subjectOf(entry);
    const loaded = loadFile(subject, () => NativeService, 'add at least exec: /path/to/program args');
    diagnostics.push(...loaded.diagnostics);
    if (loaded.value === undefined) continue;
    const r = resolveNativeService(loaded.value, loaded.data as Record<string, unknown>, subject);
    diagnostics.push(...r.diagnostics);
    if (r.def) services.set(entry.name, { file: entry.file, def: r.def, raw: loaded.raw });
  }
  return { services, diagnostics };
}

/**
 * Normalise a validated service. `input` is the data before validation (to tell a key written
 * by the user from a default). Errors here (unsplittable command, test: and ready: both given)
 * leave `def` undefined; warnings keep it.
 */
export function resolveNativeService(svc: NativeService, input: Record<string, unknown>, subject: Subject): { def?: ResolvedNativeService; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { test, restart, ...rest } = svc;

  let ready = svc.ready;
  if (test !== undefined) {
    if (input.ready !== undefined) {
      return { diagnostics: [diagnostic(subject, 'test', 'both test: and ready: are given', 'keep one: test: CMD is short for ready: {test: CMD}')] };
    }
    ready = Readiness.parse({ test });
  }

  const argv = split(svc.exec, svc.shell, 'exec', subject, diagnostics);
  const readyArgv = typeof ready === 'object' && ready.test !== undefined ? split(ready.test, false, test !== undefined ? 'test' : 'ready.test', subject, diagnostics) : undefined;
  if (!argv || (typeof ready === 'object' && ready.test !== undefined && !readyArgv)) return { diagnostics };
  if (Array.isArray(svc.exec) && svc.shell) {
    diagnostics.push(diagnostic(subject, 'shell', 'shell: true has no effect when exec is a list', 'write exec as one string to run it through /bin/sh -c, or remove shell: true', 'warning'));
  }

  if (svc.console && svc.foreground) {
    return { diagnostics: [diagnostic(subject, 'console', 'console: and foreground: both give the service a terminal', 'keep one: foreground: true for the container\'s own terminal, console: true for a pty of its own')] };
  }
  if (svc.console && (svc.user !== undefined || svc.group !== undefined)) {
    const key = svc.user !== undefined ? 'user' : 'group';
    return { diagnostics: [diagnostic(subject, key, `a console service runs as metainit itself: ${key}: cannot apply`, `remove ${key}:, or console: true`)] };
  }
  if (svc.foreground && (svc.user !== undefined || svc.group !== undefined)) {
    const key = svc.user !== undefined ? 'user' : 'group';
    return { diagnostics: [diagnostic(subject, key, `a foreground service runs as metainit itself: ${key}: cannot apply`, `remove ${key}:, or foreground: true`)] };
  }
  if ((svc.foreground || svc.console) && typeof ready === 'object' && ready.fd !== undefined) {
    const key = svc.foreground ? 'foreground' : 'console';
    return { diagnostics: [diagnostic(subject, 'ready', `a ${key} service gets no extra descriptor: ready: {fd} cannot apply`, `use ready: notify (NOTIFY_SOCKET) or remove ${key}: true`)] };
  }
  const def: ResolvedNativeService = { ...rest, ready, restart: restart ?? (svc.oneshot ? 'never' : 'always'), argv };
  if (readyArgv) def.readyArgv = readyArgv;
  return { def, diagnostics };
}

/** argv of a command given as a string or a list; a diagnostic (and undefined) when it cannot be split. */
function split(cmd: string | string[], shell: boolean, key: string, subject: Subject, out: Diagnostic[]): string[] | undefined {
  if (Array.isArray(cmd)) return cmd;
  if (shell) return ['/bin/sh', '-c', cmd];
  try {
    const argv = splitCommand(cmd);
    if (argv.length > 0) return argv;
    out.push(diagnostic(subject, key, `key "${key}": the command line has no words`, `write the program to run, e.g. ${key}: /path/to/program args`));
  } catch (e) {
    if (!(e instanceof SplitError)) throw e;
    out.push(diagnostic(subject, key, `key "${key}": unable to split command line: ${e.reason}`, e.reason === 'unterminated quote' ? 'close the quote, or put a backslash before a literal quote' : 'remove the backslash at the end, or double it'));
  }
  return undefined;
}

/**
 * Read, parse and validate one file against the schema `schemaFor(data)` picks. An empty file is
 * an error with `emptyFix`, or — when `emptyFix` is undefined — validated as `{}` (all defaults).
 */
function loadFile<S extends z.ZodType>(subject: Subject, schemaFor: (data: unknown) => S, emptyFix: string | undefined): { value?: z.output<S>; data?: unknown; raw: string; diagnostics: Diagnostic[] } {
  const read = readYamlFile(subject);
  if (!read.ok) return { raw: '', diagnostics: read.diagnostics };
  if (read.empty && emptyFix !== undefined) return { raw: read.raw, diagnostics: [diagnostic(subject, '', 'file is empty', emptyFix)] };
  const data = read.empty ? {} : read.data;
  const v = validate(schemaFor(data), data, subject);
  return v.value === undefined ? { raw: read.raw, diagnostics: v.diagnostics } : { value: v.value, data, raw: read.raw, diagnostics: [] };
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
