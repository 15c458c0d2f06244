// metainit boot — run the manager in the foreground; this is what PID 1 runs. bin/run.js normally
// takes the fast path for it (PID 1 must not carry oclif); this class gives it help and flags.
import { Command } from '@oclif/core';
import { COMMANDS } from '../cli/spec.js';
import { oclifFlags } from '../cli/oclif.js';
import { runFast } from '../cli/fast.js';

const spec = COMMANDS.boot!;

export default class Boot extends Command {
  static override summary = spec.summary;
  static override description = 'As PID 1 with no arguments it reads /etc/metainit. In a PID namespace other than the initial one it runs in container mode.';
  static override flags = oclifFlags(spec);
  static override examples = spec.examples ?? [];

  async run(): Promise<void> {
    await this.parse(Boot);
    process.exitCode = await runFast(['boot', ...this.argv]);
  }
}
