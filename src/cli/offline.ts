/**
 * offline.ts — `metainit check`, `metainit plan` and `metainit roles --config-dir`: read a
 * configuration directory without a running metainit and report what booting it would do.
 * Printing only; the analysis is the stage-2 pipeline (src/manager/pipeline.ts, plan.ts), the
 * same one boot runs.
 */
import { checkConfig, planConfig } from '../manager/plan.js';
import { loadStage2, offlineEnv } from '../manager/pipeline.js';
import { roleTable, type RoleRow } from '../roles/registry.js';
import { paint, useColor } from './format.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

/** Returns the exit code: 0 clean (warnings allowed), 1 errors. */
export async function runCheck(dir: string, json: boolean): Promise<number> {
  const c = await checkConfig(dir);
  if (json) {
    out(JSON.stringify({ ok: c.ok, errors: c.errors, warnings: c.warnings, cycles: c.plan.cycles }, null, 2));
    return c.ok ? 0 : 1;
  }
  const color = useColor();
  for (const d of c.errors) out(`${paint('error', 'red', color)}: ${d.message}`);
  for (const d of c.warnings) out(`${paint('warning', 'yellow', color)}: ${d.message}`);
  const services = c.plan.levels.flat().length + c.plan.blocked.filter((b) => b.includes('/')).length;
  out(
    `${c.plan.dir}: ${c.plan.instances.length} instance(s), ${services} planned service(s), ` +
      `${c.errors.length} error(s), ${c.warnings.length} warning(s)`,
  );
  return c.ok ? 0 : 1;
}

export async function runPlan(dir: string, json: boolean): Promise<number> {
  const p = await planConfig(dir);
  if (json) {
    out(JSON.stringify({ instanceLevels: p.instanceLevels, levels: p.levels, summaries: p.summaries, cycles: p.cycles, blocked: p.blocked }, null, 2));
    return 0;
  }
  const color = useColor();
  out(paint('instances', 'bold', color));
  p.instanceLevels.forEach((lvl, i) => out(`  level ${i}: ${lvl.join(' ')}`));
  out(paint('services (each level starts together; a service starts as soon as its own dependencies are ready)', 'bold', color));
  p.levels.forEach((lvl, i) => out(`  level ${i}: ${lvl.join(' ')}`));
  for (const c of p.cycles) out(`  ${paint('cycle', 'red', color)}: ${[...c, c[0]].join(' → ')} (not started)`);
  const inCycle = new Set(p.cycles.flat());
  const blocked = p.blocked.filter((b) => !inCycle.has(b));
  if (blocked.length) out(`  ${paint('blocked', 'yellow', color)} by a cycle: ${blocked.join(' ')}`);
  for (const s of p.summaries) out(`  ${s.instance} (${s.adapter}): ${s.text}`);
  return 0;
}

/** The `metainit roles` rows booting `dir` would give (no state: nothing runs offline). */
export async function offlineRoles(dir: string): Promise<RoleRow[]> {
  const stage = await loadStage2(dir, offlineEnv());
  return roleTable(stage.roles, () => null);
}
