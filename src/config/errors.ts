/**
 * errors.ts — configuration problems as one clear sentence each: what, where, and the fix.
 *
 * Model: a problem is found in a *subject* (a file and the thing it defines: "service
 * native/redis", "instance runit", "global config") at a *key path* ("backoff.initial",
 * "after[1]"). Every problem becomes one Diagnostic whose message reads
 *
 *   <file>: unable to load <what>: key "<key>": <problem> (fix: <fix>)
 *
 * zod reports issues in its own vocabulary; this file translates each issue code once:
 *   unrecognized_keys → `key "exce" is not known (fix: did you mean "exec"? valid keys: …)`,
 *                       the valid keys read from the schema itself at that path;
 *   a missing key     → `key "exec" is required (fix: add exec: /path/to/program args)`;
 *   a wrong type      → `expected a list, got the string "net"`, with the value actually given
 *                       (read from the parsed input, which zod does not keep);
 *   a union           → the branch that got furthest, or the list of accepted forms;
 *   custom messages   → schema.ts already writes "<problem> (fix: <fix>)"; it is split, not redone.
 */
import type { z } from 'zod';
import type { Diagnostic } from '../base/types.js';

/** The file being loaded and what it defines, e.g. {file, what: 'service native/redis', service: 'native/redis'}. */
export interface Subject {
  file: string;
  what: string;
  service?: string;
}

type Path = ReadonlyArray<PropertyKey>;

/** The fields of zod issues this file reads (a structural view of zod's issue union). */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  pattern?: string;
  errors?: Issue[][];
}

/** Example values for required keys, used in "add <key>: <example>". */
const REQUIRED_EXAMPLE: Record<string, string> = {
  exec: '/path/to/program args',
  adapter: 'native',
};

// ----------------------------------------------------------------------------- building messages

/** One diagnostic in the house format. `key` '' means the file as a whole. */
/** The subject of diagnostics about an instance file's own keys. */
export function instanceSubject(ctx: { file: string; instance: string }): Subject {
  return { file: ctx.file, what: `instance ${ctx.instance}` };
}

export function diagnostic(subject: Subject, key: string, problem: string, fix: string, level: Diagnostic['level'] = 'error'): Diagnostic {
  const d: Diagnostic = { level, file: subject.file, key, message: `${subject.file}: unable to load ${subject.what}: ${problem} (fix: ${fix})` };
  if (subject.service !== undefined) d.service = subject.service;
  return d;
}

/** "backoff.initial", "after[1]", "environ.KEY-1" */
export function keyPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** `key "x": ` prefix, or nothing for the file as a whole */
function at(key: string): string {
  return key === '' ? '' : `key "${key}": `;
}

/** Split a schema message written as "<problem> (fix: <fix>)". */
function splitFix(message: string): { problem: string; fix: string | undefined } {
  const m = /^(.*?)\s*\(fix: (.*)\)\s*$/s.exec(message);
  return m ? { problem: m[1]!, fix: m[2]! } : { problem: message, fix: undefined };
}

// ----------------------------------------------------------------------------- suggestions

/** Edit distance with adjacent transpositions counted as one edit ("exce" → "exec" is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word`, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.ceil(word.length / 3));
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDist) {
      best = c;
      bestDist = dist;
    }
  }
  return bestDist <= limit ? best : undefined;
}

// ----------------------------------------------------------------------------- schema and input walking

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  element?: Schema;
  valueType?: Schema;
}
interface Schema {
  _zod: { def: Def };
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'nonoptional', 'readonly', 'catch']);

function unwrap(s: Schema): Schema {
  for (;;) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

/** Every schema that may describe the value at `path` (unions fan out). */
function schemasAt(schema: Schema, path: Path): Schema[] {
  let current = [unwrap(schema)];
  for (const seg of path) {
    const next: Schema[] = [];
    const visit = (s: Schema): void => {
      const def = s._zod.def;
      if (def.type === 'union') for (const o of def.options ?? []) visit(unwrap(o));
      else if (def.type === 'object' && typeof seg === 'string' && def.shape?.[seg]) next.push(unwrap(def.shape[seg]));
      else if (def.type === 'record' && def.valueType) next.push(unwrap(def.valueType));
      else if (def.type === 'array' && typeof seg === 'number' && def.element) next.push(unwrap(def.element));
    };
    current.forEach(visit);
    current = next;
  }
  return current;
}

/** The keys an object at `path` accepts, in schema order. */
export function validKeysAt(schema: z.ZodType, path: Path): string[] {
  const keys: string[] = [];
  const visit = (s: Schema): void => {
    const def = s._zod.def;
    if (def.type === 'union') for (const o of def.options ?? []) visit(unwrap(o));
    else if (def.type === 'object') for (const k of Object.keys(def.shape ?? {})) if (!keys.includes(k)) keys.push(k);
  };
  schemasAt(schema as unknown as Schema, path).forEach(visit);
  return keys;
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** What the user wrote, in words: `the string "yes"`, `the number 5`, `a list`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function typeWord(expected: string | undefined): string {
  return TYPE_WORDS[expected ?? ''] ?? (expected ? `a ${expected}` : 'another value');
}

function orList(items: string[]): string {
  const unique = [...new Set(items)];
  if (unique.length <= 1) return unique[0] ?? 'another value';
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

/** The forms a root-level issue accepts: ['a string'], ['"notify"', '"spawn"'], … */
function acceptedForms(issue: Issue): string[] {
  if (issue.code === 'invalid_type') return [typeWord(issue.expected)];
  if (issue.code === 'invalid_value') return (issue.values ?? []).map((v) => JSON.stringify(v));
  if (issue.code === 'invalid_union') return (issue.errors ?? []).flatMap((branch) => branch.flatMap(acceptedForms));
  return [];
}

function fixForType(leaf: string, expected: string | undefined, given: unknown): string {
  switch (expected) {
    case 'array':
      return `write a list, e.g. ${leaf}: [a, b]`;
    case 'object':
    case 'record':
      return `write a mapping, e.g. ${leaf}: {key: value}`;
    case 'boolean':
      return `write ${leaf}: true or ${leaf}: false`;
    case 'string':
      return typeof given === 'number' || typeof given === 'boolean' ? `quote it: "${String(given)}"` : 'write a quoted string';
    case 'number':
      return 'write a number without quotes';
    case 'int':
      return 'write a whole number without quotes';
    default:
      return `write ${leaf} as ${typeWord(expected)}`;
  }
}

// ----------------------------------------------------------------------------- translation

/** Translate zod issues for `input` (validated against `schema`) into diagnostics. */
export function issuesToDiagnostics(issues: readonly unknown[], input: unknown, schema: z.ZodType, subject: Subject): Diagnostic[] {
  return (issues as Issue[]).flatMap((issue) => translate(issue, [], input, schema, subject));
}

function translate(issue: Issue, prefix: Path, input: unknown, schema: z.ZodType, subject: Subject): Diagnostic[] {
  const path = [...prefix, ...issue.path];
  const key = keyPath(path);
  const leaf = String([...path].reverse().find((seg) => typeof seg === 'string') ?? 'value');
  const given = valueAt(input, path);
  const err = (problem: string, fix: string): Diagnostic[] => [diagnostic(subject, key, problem, fix)];

  switch (issue.code) {
    case 'unrecognized_keys': {
      const valid = validKeysAt(schema, path);
      return (issue.keys ?? []).map((k) => {
        const full = keyPath([...path, k]);
        const guess = closest(k, valid);
        const list = `valid keys: ${valid.join(', ')}`;
        return diagnostic(subject, full, `key "${full}" is not known`, guess ? `did you mean "${guess}"? ${list}` : `remove it; ${list}`);
      });
    }
    case 'invalid_union': {
      // a branch whose problems lie deeper than the value itself matched its shape: report those
      const deep = (issue.errors ?? []).filter((b) => b.length > 0 && b.some((i) => i.path.length > 0 || !['invalid_type', 'invalid_value'].includes(i.code)));
      if (deep.length === 1) return deep[0]!.flatMap((i) => translate(i, path, input, schema, subject));
      if (given === undefined) return required(subject, key, leaf, issue);
      const forms = acceptedForms(issue);
      return err(`${at(key)}expected ${orList(forms)}, got ${describeValue(given)}`, `write ${leaf} as ${orList(forms)}`);
    }
    case 'invalid_type':
      if (given === undefined && path.length > 0) return required(subject, key, leaf, issue);
      if (path.length === 0) return err(`expected ${typeWord(issue.expected)} of keys, got ${describeValue(given)}`, 'write one "key: value" per line');
      return err(`${at(key)}expected ${typeWord(issue.expected)}, got ${describeValue(given)}`, fixForType(leaf, issue.expected, given));
    case 'invalid_value': {
      if (given === undefined) return required(subject, key, leaf, issue);
      const values = (issue.values ?? []).map((v) => JSON.stringify(v));
      const expected = values.length > 1 ? `one of ${values.join(', ')}` : (values[0] ?? 'another value');
      return err(`${at(key)}expected ${expected}, got ${describeValue(given)}`, `use ${values.length > 1 ? `one of ${values.join(', ')}` : values[0]}`);
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      if (issue.origin === 'string' && small && bound === 1) return err(`${at(key)}must not be empty`, `give ${leaf} a value or remove the key`);
      const unit = issue.origin === 'array' ? ' item(s)' : issue.origin === 'string' ? ' character(s)' : '';
      const cmp = small ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'less than' : 'at most';
      return err(`${at(key)}must be ${cmp} ${bound}${unit}, got ${describeValue(given)}`, `use a value of ${cmp} ${bound}${unit}`);
    }
    default: {
      // custom refinements and formats: schema.ts writes "<problem> (fix: <fix>)"
      const { problem, fix } = splitFix(issue.message);
      if (fix !== undefined) return err(`${at(key)}${problem}`, fix);
      if (issue.code === 'invalid_format' && issue.pattern) {
        return err(`${at(key)}${describeValue(given)} does not have the expected form`, `write a value matching ${issue.pattern}`);
      }
      return err(`${at(key)}${problem.charAt(0).toLowerCase()}${problem.slice(1)}`, 'correct the value');
    }
  }
}

function required(subject: Subject, key: string, leaf: string, issue: Issue): Diagnostic[] {
  const values = issue.code === 'invalid_value' ? (issue.values ?? []).map(String) : [];
  const example = values.length > 1 ? `${values[0]} (or ${values.slice(1).join(', ')})` : (values[0] ?? REQUIRED_EXAMPLE[leaf] ?? '<value>');
  return [diagnostic(subject, key, `key "${key}" is required`, `add ${leaf}: ${example}`)];
}

// ----------------------------------------------------------------------------- validation

/** Validate `input` against `schema`; on failure every issue becomes a diagnostic. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, subject: Subject): { value: z.output<S>; diagnostics: [] } | { value: undefined; diagnostics: Diagnostic[] } {
  const r = schema.safeParse(input);
  if (r.success) return { value: r.data, diagnostics: [] };
  return { value: undefined, diagnostics: issuesToDiagnostics(r.error.issues, input, schema, subject) };
}
