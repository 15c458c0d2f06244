/**
 * insserv-oracle.test.ts — the sysv start order, checked against insserv itself.
 *
 * The oracle: the test bed's insserv (Debian's) orders a tree of real init scripts — the test
 * bed's own /etc/init.d and the package headers of test/fixtures/lsb/debian — with the test bed's
 * /etc/insserv.conf and the fixture's insserv.conf.d, and writes its edges (.depend.start) and
 * rc links. metainit plans runlevel 2 of the same tree (lsb-plan.ts, reading the links insserv
 * made and the same facility files). Every edge insserv has must hold in metainit's plan, every
 * ordering metainit adds must be one insserv's order implies, and there is no cycle.
 * Scripts metainit runs itself (mountall, killprocs …: roles/lsb-facilities.ts) are left out of
 * both sides, as the sysv adapter leaves them out of its plan.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFacilities } from '../../src/adapters/sysv/insserv-conf.js';
import { readInitDir, readRcLinks } from '../../src/adapters/sysv/lsb.js';
import { planRunlevel } from '../../src/adapters/sysv/lsb-plan.js';
import { roleOfService } from '../../src/roles/known-services.js';
import { metainitOwner } from '../../src/roles/lsb-facilities.js';
import { DepGraph } from '../../src/supervisor/graph.js';
import { REPO } from './harness.js';
import { TESTBED, whyNot } from './testbed-root.js';

const FIXTURE = join(REPO, 'test/fixtures/lsb/debian');

/** `a` → every script `a` starts after (transitively), from `target: deps` lines */
function closure(edges: ReadonlyMap<string, readonly string[]>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const visit = (n: string, seen: Set<string>): Set<string> => {
    if (out.has(n)) return out.get(n)!;
    const acc = new Set<string>();
    for (const d of edges.get(n) ?? []) {
      if (seen.has(d)) continue;
      acc.add(d);
      for (const x of visit(d, new Set([...seen, d]))) acc.add(x);
    }
    out.set(n, acc);
    return acc;
  };
  for (const n of edges.keys()) visit(n, new Set([n]));
  return out;
}

describe('sysv: start order against insserv (the oracle)', function () {
  this.timeout(60_000);
  let tmp: string;
  const insservEdges = new Map<string, string[]>();
  let targets: string[] = [];

  before(function () {
    const why = whyNot(['sbin/insserv', 'etc/insserv.conf', 'etc/init.d/cron']);
    if (why) this.skip();
    tmp = mkdtempSync(join(tmpdir(), 'metainit-insserv-'));
    const initd = join(tmp, 'etc/init.d');
    mkdirSync(initd, { recursive: true });
    for (const name of readdirSync(join(TESTBED, 'etc/init.d'))) {
      const text = readFileSync(join(TESTBED, 'etc/init.d', name), 'utf8');
      if (/^#!\s*\S*openrc-run/.test(text)) continue; // OpenRC's, not insserv's
      cpSync(join(TESTBED, 'etc/init.d', name), join(initd, name));
    }
    cpSync(join(FIXTURE, 'init.d'), initd, { recursive: true });
    cpSync(join(TESTBED, 'etc/insserv.conf'), join(tmp, 'etc/insserv.conf'));
    cpSync(join(FIXTURE, 'insserv.conf.d'), join(tmp, 'etc/insserv.conf.d'), { recursive: true });
    mkdirSync(join(tmp, 'dep'));
    // -f: the test bed lacks scripts some headers require (checkfs …); -d: their Default-Start
    try {
      execFileSync(join(TESTBED, 'sbin/insserv'), ['-f', '-d', '-p', initd, '-c', join(tmp, 'etc/insserv.conf'), '-o', join(tmp, 'overrides'), '-i', join(tmp, 'dep'), ...readdirSync(initd)], { cwd: initd, stdio: 'pipe' });
    } catch {
      /* insserv exits non-zero for the missing scripts -f forgave; its files are written */
    }
    for (const line of readFileSync(join(tmp, 'dep/.depend.start'), 'utf8').split('\n')) {
      const m = /^([^:=\s]+):\s*(.*)$/.exec(line);
      if (m) insservEdges.set(m[1]!, m[2]!.split(/\s+/).filter(Boolean));
      const t = /^TARGETS = (.*)$/.exec(line);
      if (t) targets = t[1]!.split(/\s+/).filter((n) => n && !metainitOwner(n));
    }
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('holds every edge insserv has, adds none its order lacks, and has no cycle', () => {
    expect(targets, 'insserv ordered the runlevel-2 scripts').to.include.members(['cron', 'chrony', 'webapp', 'syslog-ng', 'nis-client']);
    const scripts = readInitDir(tmp).scripts.filter((s) => !s.openrc && !metainitOwner(s.name));
    const plan = planRunlevel({ scripts, links: readRcLinks(tmp), runlevel: '2', roleOf: roleOfService, facilities: readFacilities(tmp) });
    expect(plan.wanted.filter((n) => targets.includes(n)).sort()).to.deep.equal([...targets].sort());
    expect(plan.warnings.filter((w) => /unknown LSB facility|cycle/.test(w)), 'warnings').to.deep.equal([]);

    const graph = new DepGraph(plan.startNodes.filter((n) => targets.includes(n.id)).map((n) => ({ id: n.id, after: n.after.filter((a) => targets.includes(a)) })));
    expect(graph.levels().cyclic, 'no cycle').to.deep.equal([]);
    const ours = closure(new Map(plan.startNodes.map((n) => [n.id, n.after])));
    const theirs = closure(insservEdges);
    const missing: string[] = [];
    for (const [t, ds] of insservEdges) for (const d of ds) if (targets.includes(t) && targets.includes(d) && !ours.get(t)?.has(d)) missing.push(`${t} after ${d}`);
    expect(missing, 'insserv edges metainit does not hold').to.deep.equal([]);
    const extra: string[] = [];
    for (const n of plan.startNodes) for (const d of n.after) if (targets.includes(n.id) && targets.includes(d) && !theirs.get(n.id)?.has(d)) extra.push(`${n.id} after ${d}`);
    expect(extra, 'orderings metainit adds that insserv does not have').to.deep.equal([]);
  });

  it('resolves the cases insserv resolves: $time is not the NTP daemon, package facilities, X-Start-Before, $all', () => {
    const scripts = readInitDir(tmp).scripts.filter((s) => !s.openrc && !metainitOwner(s.name));
    const plan = planRunlevel({ scripts, links: readRcLinks(tmp), runlevel: '2', roleOf: roleOfService, facilities: readFacilities(tmp) });
    const after = (id: string): readonly string[] => plan.startNodes.find((n) => n.id === id)!.after;
    expect(after('chrony')).to.not.include('chrony');
    expect(plan.deps.get('chrony')!.roles.has('time-sync'), 'chrony does not wait for itself').to.equal(false);
    expect(after('inetutils-syslogd'), '$time is hwclock (run by metainit): no wait for ntpsec').to.not.include('ntpsec');
    expect(after('webapp')).to.include.members(['postgresql', 'bind9', 'unbound']);
    expect(after('nis-client'), '$portmap is rpcbind (insserv.conf.d)').to.include('rpcbind');
    expect(after('syslog-ng'), 'X-Start-Before: $syslog').to.include('log-hook');
    expect(after('everything-last')).to.include.members(['cron', 'webapp', 'ssh']);
  });
});
