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
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseDocument } from 'yaml';
import type { Diagnostic } from '../base/types.js';
import { diagnostic, type Subject } from './errors.js';
import { ServiceName } from './schema.js';

export type YamlRead =
  | { ok: true; data: unknown; raw: string; empty: boolean }
  | { ok: false; diagnostics: Diagnostic[] };

/** Read and parse `subject.file`. An empty file gives `{ok: true, data: undefined, empty: true}`. */
export function readYamlFile(subject: Subject): YamlRead {
  let raw: string;
  try {
    raw = readFileSync(subject.file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, diagnostics: [diagnostic(subject, '', `cannot read the file: ${err.code ?? err.message}`, 'check that it is a readable regular file')] };
  }
  return parseYamlText(raw, subject);
}

/** Parse YAML text that came from `subject.file`. */
export function parseYamlText(raw: string, subject: Subject): YamlRead {
  const doc = parseDocument(raw, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `line ${pos.line}:${pos.col}: ` : '';
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const fix = first.code === 'DUPLICATE_KEY' ? 'keep one of the repeated keys' : first.code === 'MULTIPLE_DOCS' ? 'remove the "---" separator: one file holds one definition' : 'correct the YAML syntax at that position';
    return { ok: false, diagnostics: [diagnostic(subject, '', `${where}invalid YAML: ${message.charAt(0).toLowerCase()}${message.slice(1)}`, fix)] };
  }
  if (doc.contents === null) return { ok: true, data: undefined, raw, empty: true };
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: 100 }), raw, empty: false };
  } catch (e) {
    return { ok: false, diagnostics: [diagnostic(subject, '', `invalid YAML: ${(e as Error).message}`, 'define every anchor (&name) before its alias (*name)')] };
  }
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
