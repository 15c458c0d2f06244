/**
 * offline.ts — `metainit check` and `metainit plan`: read a configuration directory without a
 * running metainit and report what booting it would do. Printing only; the analysis is
 * src/config/plan.ts.
 */
import { checkConfigAndRoles, planConfig } from '../config/plan.js';
import { paint, useColor } from './format.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

/** Returns the exit code: 0 clean (warnings allowed), 1 errors. */
export async function runCheck(dir: string, json: boolean): Promise<number> {
  const c = await checkConfigAndRoles(dir);
  if (json) {
    out(JSON.stringify({ ok: c.ok, errors: c.errors, warnings: c.warnings, cycles: c.plan.cycles }, null, 2));
    return c.ok ? 0 : 1;
  }
  const color = useColor();
  for (const d of c.errors) out(`${paint('error', 'red', color)}: ${d.message}`);
  for (const d of c.warnings) out(`${paint('warning', 'yellow', color)}: ${d.message}`);
  const services = c.plan.levels.flat().length + c.plan.blocked.length;
  out(
    `${c.plan.dir}: ${c.plan.instances.length} instance(s), ${services} native service(s), ` +
      `${c.errors.length} error(s), ${c.warnings.length} warning(s)`,
  );
  return c.ok ? 0 : 1;
}

export function runPlan(dir: string, json: boolean): number {
  const p = planConfig(dir);
  if (json) {
    out(JSON.stringify({ instanceLevels: p.instanceLevels, levels: p.levels, cycles: p.cycles, blocked: p.blocked }, null, 2));
    return 0;
  }
  const color = useColor();
  out(paint('instances', 'bold', color));
  p.instanceLevels.forEach((lvl, i) => out(`  level ${i}: ${lvl.join(' ')}`));
  out(paint('native services (each level starts together; a service starts as soon as its own dependencies are ready)', 'bold', color));
  p.levels.forEach((lvl, i) => out(`  level ${i}: ${lvl.join(' ')}`));
  for (const c of p.cycles) out(`  ${paint('cycle', 'red', color)}: ${[...c, c[0]].join(' → ')} (not started)`);
  const inCycle = new Set(p.cycles.flat());
  const blocked = p.blocked.filter((b) => !inCycle.has(b));
  if (blocked.length) out(`  ${paint('blocked', 'yellow', color)} by a cycle: ${blocked.join(' ')}`);
  return 0;
}
