// metainit check — offline; see src/cli/offline.ts.
import { Command } from '@oclif/core';
import { COMMANDS } from '../cli/spec.js';
import { oclifFlags } from '../cli/oclif.js';
import { runCheck } from '../cli/offline.js';

const spec = COMMANDS.check!;

export default class Check extends Command {
  static override summary = spec.summary;
  static override flags = oclifFlags(spec);

  async run(): Promise<void> {
    const { flags } = await this.parse(Check);
    process.exitCode = await runCheck(String(flags['config-dir']), flags.json === true);
  }
}
