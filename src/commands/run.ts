// metainit run -- CMD — the container entrypoint. bin/run.js takes the fast path for it (PID 1
// must not carry oclif); this class gives it help and flags. Options stop at `--` or at the first
// word that is not one (src/cli/run-args.ts).
import { Command } from '@oclif/core';
import { COMMANDS } from '../cli/spec.js';
import { oclifFlags } from '../cli/oclif.js';
import { runFast } from '../cli/fast.js';

const spec = COMMANDS.run!;

export default class Run extends Command {
  static override summary = spec.summary;
  static override description =
    'Also written metainit -- CMD [ARGS…]. As PID 1 it reaps every orphan; not PID 1 it makes itself a child subreaper. Signals are forwarded to CMD except the stop signals; the exit status is CMD\'s (128+n when killed by signal n, 127/126 when it cannot be executed).';
  static override strict = false;
  static override flags = oclifFlags(spec);
  static override examples = spec.examples ?? [];

  async run(): Promise<void> {
    process.exitCode = await runFast(['run', ...this.argv]);
  }
}
