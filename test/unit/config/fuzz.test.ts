/**
 * fuzz.test.ts — the configuration loader fuzzed (issue 9): 1 500 configuration directories whose
 * metainit.yaml, one instance file and service files are mutated from valid ones (bytes flipped,
 * lines cut, repeated or swapped, values replaced by other YAML: lists, maps, anchors and aliases,
 * long strings, tabs, invalid UTF-8). A deterministic PRNG makes a failure reproducible (the
 * seed is in the test name). For every directory `check` must return — never throw — and every
 * problem must be one line naming its file, in the project's form `<file>: … (fix: …)`.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../../src/manager/plan.js';
import { prng } from '../../prng.js';

const SEED = 9001;
const DIRS = 1500;


const GLOBAL = 'log_dir: /run/metainit/log\nshutdown: {grace: 2s, timeout: 30s}\nroles:\n  owners:\n    cron: native\n';
const INSTANCE = 'adapter: native\nservices: services.d\n';
const SERVICES: Record<string, string> = {
  web: 'exec: /bin/sleep 1000\nafter: [db]\nready: {test: "true", interval: 100ms}\nrestart: on-failure\nbackoff: {initial: 100ms, max: 5s}\n',
  db: 'exec: ["/bin/sleep", "1000"]\nuser: root\nstop_signal: INT\nstop_timeout: 3s\nlog: {to: file, max_size: 1M, keep: 2}\n',
  job: 'exec: /bin/true\noneshot: true\nenviron: {A: 1, B: "two"}\nprovides: [cron]\n',
};
const VALUES = ['[]', '{}', '~', '-1', '1e999', '"x"', `"${'y'.repeat(3000)}"`, '&a [1, 2]', '*a', '*nope', '!!binary aGk=', '[[[[[]]]]]', '{a: {b: {c: {}}}}', '"\\u0000"', '\t', '? complex', 'yes', '0x10', '10Q', '"../../etc"', "'/dev/null/x'"];

function mutate(text: string, rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const lines = text.split('\n');
  const i = Math.floor(rand() * lines.length);
  switch (Math.floor(rand() * 7)) {
    case 0: // a value replaced
      lines[i] = lines[i]!.includes(':') ? `${lines[i]!.slice(0, lines[i]!.indexOf(':') + 1)} ${pick(VALUES)}` : pick(VALUES);
      return lines.join('\n');
    case 1: // a line repeated (duplicate keys)
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    case 2: // a line cut
      lines[i] = lines[i]!.slice(0, Math.floor(rand() * lines[i]!.length));
      return lines.join('\n');
    case 3: {
      // bytes flipped (invalid UTF-8 among them)
      const b = Buffer.from(text);
      for (let k = 0; k < 1 + rand() * 4; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b.toString('latin1');
    }
    case 4: // indentation broken
      lines[i] = `${' '.repeat(Math.floor(rand() * 5))}${lines[i]}`;
      return lines.join('\n');
    case 5: // an unknown key
      lines.splice(i, 0, `${pick(['exce', 'after_', 'roles', 'x-y', '"quoted key"', '[list]'])}: ${pick(VALUES)}`);
      return lines.join('\n');
    default: // the whole file another YAML value
      return pick(VALUES);
  }
}

describe('config: the loader fuzzed', function () {
  this.timeout(300_000);
  let base: string;
  before(() => (base = mkdtempSync(join(tmpdir(), 'metainit-config-fuzz-'))));
  after(() => rmSync(base, { recursive: true, force: true }));

  it(`checks ${DIRS} mutated configuration directories without a throw, each problem one line naming its file (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    let problems = 0;
    for (let n = 0; n < DIRS; n++) {
      const dir = join(base, `c${n}`);
      mkdirSync(join(dir, 'adapters.d'), { recursive: true });
      mkdirSync(join(dir, 'services.d'));
      const target = Math.floor(rand() * 5); // 0 global, 1 instance, 2.. a service
      writeFileSync(join(dir, 'metainit.yaml'), target === 0 ? mutate(GLOBAL, rand) : GLOBAL, 'latin1');
      writeFileSync(join(dir, 'adapters.d', 'native.yaml'), target === 1 ? mutate(INSTANCE, rand) : INSTANCE, 'latin1');
      Object.entries(SERVICES).forEach(([name, text], k) => writeFileSync(join(dir, 'services.d', `${name}.yaml`), target === k + 2 ? mutate(text, rand) : text, 'latin1'));
      let c: Awaited<ReturnType<typeof checkConfig>>;
      try {
        c = await checkConfig(dir);
      } catch (e) {
        throw new Error(`check threw for ${dir}: ${(e as Error).stack}`);
      }
      for (const d of [...c.errors, ...c.warnings]) {
        problems++;
        expect(d.message, `${dir}: one line`).to.not.include('\n');
        expect(d.message.startsWith(`${d.file}: `), `${dir}: names its file: ${d.message}`).to.equal(true);
        expect(d.message, `${dir}: says the fix`).to.match(/\(fix: .+\)$/);
      }
      rmSync(dir, { recursive: true, force: true });
    }
    expect(problems, 'the mutations found problems to report').to.be.above(DIRS / 3);
  });
});
