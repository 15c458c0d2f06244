/**
 * layers.test.ts — the house rule: every import in src/ points down the layer order, and no two
 * folders import each other.
 *
 *   base → config → roles → supervisor → adapters → manager → services-api → pid1 → cli → commands
 *
 * A file may import its own folder and any folder below it. Inside adapters/, an adapter's folder
 * (native/, runit/ …) may import adapter.ts and the shared scan-dir family (scandir/), never
 * another adapter. The check reads the import lines of every .ts file under src/ (static
 * `from '…'`, `import '…'` and dynamic `import('…')`), so it needs nothing built.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

export const LAYERS = ['base', 'logger', 'config', 'roles', 'supervisor', 'adapters', 'manager', 'services-api', 'pid1', 'cli', 'commands'] as const;
/** adapters/ folders any adapter may import (shared family code, not an adapter) */
const SHARED_ADAPTER_FOLDERS = new Set(['scandir']);

export interface SourceFile {
  /** path relative to src/, e.g. "pid1/main.ts" */
  path: string;
  text: string;
}

/** Relative import specifiers of one file (static, side-effect and dynamic imports). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|(?:^|[\s;])import\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** One line per import that breaks the rules, naming the file, the import and why. */
export function violations(files: SourceFile[]): string[] {
  const out: string[] = [];
  const folderEdges = new Map<string, Set<string>>();
  for (const f of files) {
    const from = f.path.split('/');
    const fromTop = from[0]!;
    const fromRank = LAYERS.indexOf(fromTop as (typeof LAYERS)[number]);
    if (fromRank < 0) {
      out.push(`src/${f.path}: folder ${fromTop}/ is not in the layer order (fix: move the file into one of ${LAYERS.join(', ')})`);
      continue;
    }
    for (const spec of importsOf(f.text)) {
      const target = relative(SRC, resolve(SRC, dirname(f.path), spec)).split('/');
      const toTop = target[0]!;
      const toRank = LAYERS.indexOf(toTop as (typeof LAYERS)[number]);
      if (toRank < 0) {
        out.push(`src/${f.path}: import '${spec}' leaves the layers (fix: import only from src/ folders)`);
        continue;
      }
      if (toTop !== fromTop) {
        if (!folderEdges.has(fromTop)) folderEdges.set(fromTop, new Set());
        folderEdges.get(fromTop)!.add(toTop);
      }
      if (toRank > fromRank) {
        out.push(`src/${f.path}: import '${spec}' points up from ${fromTop}/ to ${toTop}/ (fix: move what it needs down to ${fromTop}/ or below, or pass it in)`);
        continue;
      }
      // adapters: an adapter folder imports no other adapter folder
      if (fromTop === 'adapters' && toTop === 'adapters' && from.length > 2 && target.length > 2) {
        const mine = from[1]!;
        const theirs = target[1]!;
        if (mine !== theirs && !SHARED_ADAPTER_FOLDERS.has(theirs)) {
          out.push(`src/${f.path}: import '${spec}': adapter ${mine} imports adapter ${theirs} (fix: move the shared code to supervisor/ or adapters/scandir/)`);
        }
      }
    }
  }
  // folder cycles (the rank rule already forbids them; kept as its own check and message)
  for (const [a, tos] of folderEdges) {
    for (const b of tos) {
      if (folderEdges.get(b)?.has(a) && a < b) out.push(`src/${a}/ and src/${b}/ import each other (fix: one of them must not know the other)`);
    }
  }
  return out;
}

function sourceFiles(dir = SRC): SourceFile[] {
  const out: SourceFile[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push({ path: relative(SRC, p), text: readFileSync(p, 'utf8') });
  }
  return out;
}

describe('layers: imports in src/ point down', () => {
  it('finds no import from a lower layer to a higher one, no folder cycle, no adapter importing another', () => {
    const files = sourceFiles();
    expect(files.length).to.be.greaterThan(50);
    expect(violations(files)).to.deep.equal([]);
  });

  it('names the file of an upward import (a config file importing the manager)', () => {
    const v = violations([{ path: 'config/loader.ts', text: "import { Manager } from '../manager/manager.js';\n" }]);
    expect(v).to.deep.equal(["src/config/loader.ts: import '../manager/manager.js' points up from config/ to manager/ (fix: move what it needs down to config/ or below, or pass it in)"]);
  });

  it('catches dynamic imports and folder cycles', () => {
    const v = violations([
      { path: 'roles/a.ts', text: "const m = await import('../cli/format.js');\n" },
      { path: 'cli/format.ts', text: "import type { X } from '../roles/a.js';\n" },
    ]);
    expect(v).to.have.length(2);
    expect(v[0]).to.match(/^src\/roles\/a\.ts: import '\.\.\/cli\/format\.js' points up/);
    expect(v[1]).to.equal('src/cli/ and src/roles/ import each other (fix: one of them must not know the other)');
  });

  it('forbids one adapter importing another, allows the scan-dir family', () => {
    const v = violations([
      { path: 'adapters/runit/index.ts', text: "import { x } from '../scandir/adapter.js';\nimport { y } from '../adapter.js';\n" },
      { path: 'adapters/s6/index.ts', text: "import { z } from '../runit/states.js';\n" },
    ]);
    expect(v).to.deep.equal(["src/adapters/s6/index.ts: import '../runit/states.js': adapter s6 imports adapter runit (fix: move the shared code to supervisor/ or adapters/scandir/)"]);
  });
});
