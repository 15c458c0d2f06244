/**
 * golden-offline.test.ts — `metainit check` and `metainit plan` of every case folder
 * (test/ns/cases/<case>/) and of every configuration fixture (test/fixtures/config/<name>/ with
 * a metainit.yaml, adapters.d/ or services.d/), compared with expected-check.txt and
 * expected-plan.txt in that folder (test/ns/golden.ts: masking, diffs, METAINIT_UPDATE_GOLDEN=1).
 * Both commands are offline: the built CLI runs as a child process, from /, so that nothing
 * depends on the working directory. No root, no namespace.
 *
 * Left out, and why:
 *   - test/ns/cases-multi/<case>/: their instances have `root: /run/test/root`, which exists
 *     only inside the booted namespace (the test bed overlay). On the host, check would report a
 *     cascade of "not found in root" errors nobody should read as the case's truth; their
 *     golden check and plan are run inside the namespace by test/ns/multi-init.test.ts.
 *   - test/fixtures/config/instances, on a host that has runit installed: its disabled
 *     instance `off` (adapter runit, root /) is still checked against the host's / (runsvdir,
 *     runsv, sv, /etc/service: pipeline.ts checks disabled instances offline too), so its output
 *     follows the host. The golden file holds the output of a host without runit (a CI machine,
 *     where the test bed is a separate root).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliText, expectGolden, REPO } from '../ns/golden.js';

const RUN_JS = join(REPO, 'bin/run.js');
const CASES = join(REPO, 'test/ns/cases');
const FIXTURES = join(REPO, 'test/fixtures/config');

const isConfigDir = (d: string): boolean => ['metainit.yaml', 'adapters.d', 'services.d'].some((f) => existsSync(join(d, f)));
const dirs = (root: string): string[] =>
  readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isConfigDir(join(root, e.name)))
    .map((e) => join(root, e.name))
    .sort();

/** Does the host's / have any part of runit (as the runit adapter looks for it)? */
function hostHasRunit(): boolean {
  if (existsSync('/etc/service')) return true;
  return ['runsvdir', 'runsv', 'sv'].some((p) =>
    ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => {
      try {
        accessSync(join(d, p), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** `node bin/run.js ARGS` from /, as the golden file shows it (stdout, stderr, exit code). */
function run(args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.METAINIT_SOCKET;
  return new Promise((done) => {
    execFile(process.execPath, [RUN_JS, ...args], { env, cwd: '/', timeout: 60_000 }, (err, stdout, stderr) => {
      done(cliText({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
  });
}

describe('golden: offline check and plan of every case and fixture directory', function () {
  this.timeout(60_000);
  for (const dir of [...dirs(CASES), ...dirs(FIXTURES)]) {
    const name = dir.slice(REPO.length + 1);
    for (const command of ['check', 'plan'] as const) {
      it(`${command} ${name}`, async function () {
        if (name === 'test/fixtures/config/instances' && hostHasRunit()) {
          console.log(`      skipped: this host has runit in /, which ${name}/adapters.d/off.yaml is checked against`);
          this.skip();
        }
        expectGolden(dir, command, await run([command, '--config-dir', dir]));
      });
    }
  }
});
