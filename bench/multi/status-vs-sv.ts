/**
 * status-vs-sv.ts — M2: `metainit status` over ~100 services of three instances against runit's
 * own `sv status` over the 40 runit ones, on the booted hundred case (case.ts).
 *
 * hyperfine (-N: no shell in between) times, against the same running machine:
 *   node bin/run.js status --socket SOCK              all services (host side, as typed)
 *   node bin/run.js status --socket SOCK --json
 *   node bin/run.js status runit/X --socket SOCK      one service: the per-service part is the difference
 *   nsenter -t P -m -p chroot ROOT sv status D1 … D40  inside the namespace's root; Dn = the links
 *                                                      of metainit's runit scan dir
 *   nsenter -t P -m -p chroot ROOT true               what entering costs ("net" = sv − this)
 *   nsenter … chroot ROOT sh -c '100 × sv status …'   sv alone, per call, without entering each time
 *   node -e 0                                         what starting node costs
 * Ratios use medians: the sub-millisecond difference between sv and the baseline drowns in the
 * means' outliers on a shared machine. Besides, PID 1's side alone: 300 `status` requests over
 * one API connection, to show how much of the CLI's time is the answer and how much is node.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_IN_NS } from '../../test/ns/testbed-root.js';
import { cleanEnv, fmt, quantile, RUN_JS, table, type HyperfineRun } from '../util.js';
import { epochNow, RUNIT_SCAN_IN_ROOT, type Booted } from './case.js';
import type { MultiResult } from './report.js';


const RUNS = 40;
const API_CALLS = 300;
const LOOP = 100;

/** Run argv, throw with its output unless it exits 0. */
function run(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: cleanEnv(), encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench multi: unable to run ${argv.slice(0, 8).join(' ')} …: exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return r.stdout;
}

export async function statusVsSv(b: Booted, runitNames: string[], total: number, workDir: string): Promise<MultiResult> {
  const enter = ['nsenter', '-t', String(b.ns.pid1), '-m', '-p', 'chroot', ROOT_IN_NS];
  const sv = [...enter, 'sv', 'status', ...runitNames.map((n) => `${RUNIT_SCAN_IN_ROOT}/${n}`)];
  const svLoop = [...enter, 'sh', '-c', `seq ${LOOP} | while read i; do sv status ${RUNIT_SCAN_IN_ROOT}/* >/dev/null || exit 1; done`];
  const status = ['node', RUN_JS, 'status', '--socket', b.ns.sock];
  const one = ['node', RUN_JS, 'status', `runit/${runitNames[0]}`, '--socket', b.ns.sock];

  // first, that each command does what it is timed for
  const svOut = run(sv);
  const svRunning = svOut.split('\n').filter((l) => l.startsWith('run: ')).length;
  if (svRunning !== runitNames.length) throw new Error(`bench multi: unable to time sv status: ${svRunning} of ${runitNames.length} services running:\n${svOut}`);
  const rows = run(status)
    .split('\n')
    .filter((l) => /^(runit|s6|native)\/\S+\s+running\s/.test(l)).length;
  if (rows !== total) throw new Error(`bench multi: unable to time metainit status: ${rows} of ${total} services shown running`);
  const jsonBytes = run([...status, '--json']).length;
  run(svLoop);
  if (!run(one).includes(`runit/${runitNames[0]}`)) throw new Error(`bench multi: unable to time metainit status runit/${runitNames[0]}: not in its output`);

  // PID 1's side: the same request without starting node
  const lat: number[] = [];
  for (let i = 0; i < API_CALLS + 30; i++) {
    const t = epochNow();
    await b.client.call('status', {});
    if (i >= 30) lat.push(epochNow() - t);
  }

  const out = join(workDir, 'hyperfine-status.json');
  const commands = [status, [...status, '--json'], one, sv, [...enter, 'true'], svLoop, ['node', '-e', '0']].map((argv) => argv.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '));
  const args = ['-N', '--warmup', '3', '--runs', String(RUNS), '--export-json', out, ...commands];
  const r = spawnSync('hyperfine', args, { env: cleanEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hyperfine: unable to time the commands: exit ${r.status ?? r.signal}: ${r.stderr}`);
  const warnings = [...new Set(r.stderr.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('Warning:')))];
  const res = (JSON.parse(readFileSync(out, 'utf8')) as { results: HyperfineRun[] }).results;
  const [st, stJson, stOne, svRun, base, loop, node] = res as [HyperfineRun, HyperfineRun, HyperfineRun, HyperfineRun, HyperfineRun, HyperfineRun, HyperfineRun];

  const ms = (x: number): string => fmt(x * 1000, 1);
  const svNet = svRun.median - base.median;
  const svPerCall = (loop.median - base.median) / LOOP;
  const ratioRaw = st.median / svRun.median;
  const ratioCall = st.median / svPerCall;
  const p50 = quantile(lat, 0.5);
  const perService = (st.median - stOne.median) / (total - 1);
  const row = (name: string, h: HyperfineRun): Array<string | number> => [name, ms(h.median), `${ms(h.mean)} ± ${ms(h.stddev)}`, `${ms(h.min)} … ${ms(h.max)}`];
  // as shown: SOCK, P (host pid of PID 1), ROOT, and the 40 directories elided
  const shownCmd = (c: string): string =>
    c
      .replace(new RegExp(`( ${RUNIT_SCAN_IN_ROOT}/${runitNames[0]}).*( ${RUNIT_SCAN_IN_ROOT}/${runitNames.at(-1)})`), '$1 …$2')
      .replace(b.ns.sock, 'SOCK')
      .replace(` -t ${b.ns.pid1} `, ' -t P ')
      .replace(ROOT_IN_NS, 'ROOT');

  return {
    key: 'status',
    title: `metainit status with ${total} services vs sv status`,
    measured: `${fmt(ratioRaw, 1)}× raw, ${fmt(ratioCall, 0)}× net (${ms(st.median)} ms vs ${ms(svRun.median)} ms / ${ms(svPerCall)} ms per sv call)`,
    verdict: `sv is ${fmt(ratioCall, 0)}× faster net; metainit's time is node's start, not its ${total} services`,
    why: [
      `\`metainit status\` lists all ${total} services (${runitNames.length} runit, the rest s6 and native) in ${ms(st.median)} ms (medians; \`--json\`: ${ms(stJson.median)} ms for ${fmt(jsonBytes / 1024, 0)} KiB), while \`sv status\` over the ${runitNames.length} runit services takes ${ms(svRun.median)} ms including \`nsenter\` + \`chroot\` (${ms(base.median)} ms alone): ${ms(svNet)} ms net by subtraction, ${ms(svPerCall)} ms per call when ${LOOP} calls run in a row inside the root (a fork + exec of sv each).`,
      `metainit's time is node, not the services: \`node -e 0\` alone takes ${ms(node.median)} ms and \`status\` of one service ${ms(stOne.median)} ms${Math.abs(st.median - stOne.median) < Math.min(st.stddev, stOne.stddev) ? `, within the noise (σ ≥ ${ms(Math.min(st.stddev, stOne.stddev))} ms) of the full listing` : `, so each of the ${total} services adds ≈ ${fmt(perService * 1e6, 0)} µs to the command`}. PID 1 answers the ${total}-service \`status\` request in ${fmt(p50, 2)} ms (p50 of ${API_CALLS} over one connection, p99 ${fmt(quantile(lat, 0.99), 2)} ms) from memory — no process per service and no file read per request: runit and s6 states are kept current by the adapter's read of supervise/status once a second, which is also why they can be up to a second old (M1, M3).`,
      `No node CLI can match a small C program reading ${runitNames.length} status files; what is left to win is the ≈ ${ms(st.median - node.median)} ms beyond \`node -e 0\` (module loading and the table, see issue 2's benchmark 2).`,
    ],
    method:
      `the hundred case (bench/multi/case.ts): ${total} services — ${runitNames.length} runit, the s6 and native rest, each \`exec sleep 100000\` — in one metainit booted as in M1, all running. hyperfine \`-N --warmup 3 --runs ${RUNS}\`; P is the host pid of the namespace's PID 1, ROOT = ${ROOT_IN_NS}. The sv directories are the links of metainit's runit scan dir (${RUNIT_SCAN_IN_ROOT}/*), as runsvdir sees them. Ratios and "net" use medians (net = sv − the nsenter + chroot baseline; per call = (${LOOP} in a row − baseline) / ${LOOP}).`,
    details: [
      ...table(['command', 'median ms', 'mean ± σ ms', 'min … max ms'], [
        row(`\`metainit status\` (${total} services)`, st),
        row('`metainit status --json`', stJson),
        row('`metainit status` of one service', stOne),
        row(`\`sv status\` × ${runitNames.length} via nsenter + chroot`, svRun),
        row('`nsenter … chroot ROOT true` (baseline)', base),
        row(`${LOOP} × \`sv status\` × ${runitNames.length} in one nsenter + chroot`, loop),
        row('`node -e 0`', node),
      ]),
      '',
      `PID 1 answering \`status\` (${total} services, one connection): p50 ${fmt(p50, 3)} ms, p90 ${fmt(quantile(lat, 0.9), 3)} ms, p99 ${fmt(quantile(lat, 0.99), 3)} ms.`,
      ...(warnings.length ? ['', ...warnings.map((w) => `hyperfine said: *${w}*`)] : []),
    ],
    commands: [`env -u NODE_EXTRA_CA_CERTS hyperfine -N --warmup 3 --runs ${RUNS} --export-json OUT.json \\`, ...commands.map((c, i) => `  "${shownCmd(c)}"${i < commands.length - 1 ? ' \\' : ''}`)],
  };
}
