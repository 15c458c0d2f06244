// metainit man — see src/cli/spec.ts and src/cli/docs-gen.ts (generated from the command table).
import { Args, Command } from '@oclif/core';
import { COMMANDS } from '../cli/spec.js';
import { runFast } from '../cli/fast.js';

const spec = COMMANDS['man']!;

export default class extends Command {
  static override summary = spec.summary;
  static override args = Object.fromEntries(spec.args.map((a) => [a.name, Args.string({ description: a.description, required: a.required })]));
  static override examples = spec.examples ?? [];

  async run(): Promise<void> {
    process.exitCode = await runFast(['man', ...this.argv]);
  }
}
