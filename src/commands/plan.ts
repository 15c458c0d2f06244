// metainit plan — offline; see src/cli/offline.ts.
import { Command } from '@oclif/core';
import { COMMANDS } from '../cli/spec.js';
import { oclifFlags } from '../cli/oclif.js';
import { runPlan } from '../cli/offline.js';

const spec = COMMANDS.plan!;

export default class Plan extends Command {
  static override summary = spec.summary;
  static override flags = oclifFlags(spec);

  async run(): Promise<void> {
    const { flags } = await this.parse(Plan);
    process.exitCode = await runPlan(String(flags['config-dir']), flags.json === true);
  }
}
