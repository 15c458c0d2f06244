/**
 * yaml-file.ts — read one YAML configuration file and one directory of them.
 *
 * Model: a configuration file is text → one YAML document → plain data. Each step can fail and
 * each failure is a Diagnostic, never an exception: an unreadable file, a syntax error (reported
 * once, at the first error's line:col), more than one document, or an empty file (only
 * comments counts as empty). What "empty" means is the caller's call: the global file is fine
 * empty, a service file is not. The text is returned too, so callers can tell whether a file
 * changed (`metainit sync`) without comparing parsed values.
 */
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { isScalar, parseDocument, visit, type Document, type YAMLMap } from 'yaml';
import { MAX_CONFIG_BYTES, readRegularFile } from '../base/regular-file.js';
import type { Diagnostic } from '../base/types.js';
import { diagnostic, type Subject } from './errors.js';
import { ServiceName } from './schema.js';

export type YamlRead =
  | { ok: true; data: unknown; raw: string; empty: boolean }
  | { ok: false; diagnostics: Diagnostic[] };

/** Read and parse `subject.file`. An empty file gives `{ok: true, data: undefined, empty: true}`. */
export function readYamlFile(subject: Subject): YamlRead {
  const r = readRegularFile(subject.file);
  if ('error' in r) return { ok: false, diagnostics: [diagnostic(subject, '', r.error, r.fix)] };
  return parseYamlText(r.text, subject);
}

/**
 * Parse YAML text that came from `subject.file`. Duplicate keys are found here, with one Set per
 * mapping (the yaml library's own check compares every pair of keys: 40 000 keys took 48 s);
 * aliases may expand at most MAX_ALIASES times (an alias bomb is refused, and said to be one).
 */
export function parseYamlText(raw: string, subject: Subject): YamlRead {
  if (raw.length > MAX_CONFIG_BYTES) return { ok: false, diagnostics: [diagnostic(subject, '', `is ${raw.length} characters, more than the ${MAX_CONFIG_BYTES} a configuration file may have`, 'split it, or remove what is not configuration')] };
  const doc = parseDocument(raw, { prettyErrors: true, uniqueKeys: false });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `line ${pos.line}:${pos.col}: ` : '';
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const fix = first.code === 'MULTIPLE_DOCS' ? 'remove the "---" separator: one file holds one definition' : 'correct the YAML syntax at that position';
    return { ok: false, diagnostics: [diagnostic(subject, '', `${where}invalid YAML: ${message.charAt(0).toLowerCase()}${message.slice(1)}`, fix)] };
  }
  const dup = firstDuplicateKey(doc, raw);
  if (dup) return { ok: false, diagnostics: [diagnostic(subject, '', `${dup.where}invalid YAML: map keys must be unique ("${dup.key}" is repeated)`, 'keep one of the repeated keys')] };
  if (doc.contents === null) return { ok: true, data: undefined, raw, empty: true };
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: MAX_ALIASES }), raw, empty: false };
  } catch (e) {
    const message = (e as Error).message;
    if (/alias count/i.test(message)) {
      return { ok: false, diagnostics: [diagnostic(subject, '', `invalid YAML: its aliases (*name) expand to too many nodes (more than ${MAX_ALIASES} per anchor: an alias bomb?)`, 'write the repeated values out, or use fewer aliases')] };
    }
    return { ok: false, diagnostics: [diagnostic(subject, '', `invalid YAML: ${message}`, 'define every anchor (&name) before its alias (*name)')] };
  }
}

const MAX_ALIASES = 100;

/** The first key repeated within one mapping (scalar keys), with its line:col; linear in the document. */
function firstDuplicateKey(doc: Document, raw: string): { key: string; where: string } | undefined {
  let found: { key: string; where: string } | undefined;
  visit(doc, {
    Map(_, map: YAMLMap) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const k = String(pair.key.value);
        if (seen.has(k)) {
          found = { key: k, where: pair.key.range ? `line ${lineCol(raw, pair.key.range[0])}: ` : '' };
          return visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return found;
}

function lineCol(raw: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = raw.indexOf('\n'); i !== -1 && i < offset; i = raw.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${line}:${offset - start + 1}`;
}

/** One YAML file of a configuration directory: stem = the name of what it defines. */
export interface YamlEntry {
  name: string;
  file: string;
}

/**
 * The *.yaml / *.yml files of `dir`, sorted by name. Hidden files and other extensions are
 * ignored; a stem that is not a valid name, or a name defined twice (a.yaml and a.yml), is a
 * diagnostic from `subjectOf(entry)` and the file is skipped. A missing directory lists nothing.
 */
export function listYamlDir(dir: string, subjectOf: (e: YamlEntry) => Subject): { entries: YamlEntry[]; diagnostics: Diagnostic[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { entries: [], diagnostics: [] };
  }
  const entries: YamlEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const base of names.sort()) {
    const ext = extname(base);
    if (base.startsWith('.') || (ext !== '.yaml' && ext !== '.yml')) continue;
    const entry = { name: base.slice(0, -ext.length), file: join(dir, base) };
    if (!ServiceName.safeParse(entry.name).success) {
      diagnostics.push(diagnostic(subjectOf(entry), '', `"${entry.name}" is not a valid name`, 'rename the file using only letters, digits and _ . @ -'));
      continue;
    }
    const twin = entries.find((e) => e.name === entry.name);
    if (twin) {
      diagnostics.push(diagnostic(subjectOf(entry), '', `"${entry.name}" is already defined by ${twin.file}`, 'keep only one of the two files'));
      continue;
    }
    entries.push(entry);
  }
  return { entries, diagnostics };
}
