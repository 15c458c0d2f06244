/**
 * status-cli.ts — benchmark 2: wall time of `metainit status` against `node -e 0`.
 *
 * A metainit with five services (four long-running, one finished oneshot) runs as PID 1 of a
 * namespace; hyperfine times, without a shell in between (-N), `node -e 0`, `metainit status`
 * and `metainit status --json` against its socket. The ratio is status's mean over node's mean:
 * what the CLI costs beyond starting node at all. Goal: ≤ 2×.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMetainit } from './namespace.js';
import type { Bench, Outcome } from './report.js';
import { cleanEnv, FIVE_SERVICES, fmt, fmtRatio, RUN_JS, table, tempDir, writeNativeConfig, type HyperfineRun } from './util.js';

const GOAL_RATIO = 2;


async function benchStatusCli(): Promise<Outcome> {
  const { dir, remove } = tempDir('status');
  try {
    const cfg = writeNativeConfig(join(dir, 'cfg'), FIVE_SERVICES);
    const ns = await startMetainit(cfg, dir);
    const json = join(dir, 'hyperfine.json');
    const status = `node ${RUN_JS} status --socket ${ns.socket}`;
    const args = ['-N', '--warmup', '3', '--runs', '20', '--export-json', json, 'node -e 0', status, `${status} --json`];
    let warnings: string[] = [];
    try {
      const r = spawnSync('hyperfine', args, { env: cleanEnv(), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`hyperfine: unable to time the commands: exit ${r.status ?? r.signal}: ${r.stderr}`);
      warnings = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('Warning:'));
    } finally {
      await ns.kill();
    }
    const runs = (JSON.parse(readFileSync(json, 'utf8')) as { results: HyperfineRun[] }).results;
    const [node, human, asJson] = runs as [HyperfineRun, HyperfineRun, HyperfineRun];
    const ratio = human.mean / node.mean;
    const ratioJson = asJson.mean / node.mean;
    const ms = (s: number): string => fmt(s * 1000);
    const row = (name: string, r: HyperfineRun): string[] => [name, `${ms(r.mean)} ± ${ms(r.stddev)}`, ms(r.median), `${ms(r.min)} … ${ms(r.max)}`, `${fmt(r.mean / node.mean, 2)}×`];
    const met = ratio <= GOAL_RATIO;
    const byMedian = human.median / node.median;
    return {
      measured: `${fmtRatio(ratio, GOAL_RATIO)}× (${ms(human.mean)} ms vs ${ms(node.mean)} ms)`,
      verdict: met ? 'met' : 'not met',
      ...(met !== byMedian <= GOAL_RATIO ? { verdictNote: `by medians ${fmtRatio(byMedian, GOAL_RATIO)}×: ${met ? 'not met' : 'met'}` } : {}),
      why:
        `\`metainit status\` takes ${ms(human.mean - node.mean)} ms more than starting node: bin/run.js, the CLI's fast path and client modules, one request, the table. ` +
        `By medians the ratio is ${fmt(byMedian, 2)}× (\`--json\`: ${fmt(ratioJson, 2)}× by means); the spread (σ) shows how much other work on the machine moved these numbers.`,
      method: 'hyperfine `-N --warmup 3 --runs 20` against a running metainit (PID 1 of a namespace) with 5 services; the socket is passed with `--socket`. Times are wall-clock means.',
      details: [
        ...table(['command', 'mean ± σ ms', 'median ms', 'min … max ms', 'vs node -e 0'], [row('`node -e 0`', node), row('`metainit status`', human), row('`metainit status --json`', asJson)]),
        ...(warnings.length ? ['', ...[...new Set(warnings)].map((w) => `hyperfine said: *${w}*`)] : []),
      ],
      commands: [`env -u NODE_EXTRA_CA_CERTS hyperfine ${args.map((a) => (a.includes(' ') ? `'${a.replace(ns.socket, 'SOCK').replace(json, 'OUT.json')}'` : a.replace(json, 'OUT.json'))).join(' ')}`],
    };
  } finally {
    remove();
  }
}

export const statusCliBench: Bench = { key: 'status-cli', title: 'metainit status wall time', goal: `≤ ${GOAL_RATIO}× \`node -e 0\``, run: benchStatusCli };
