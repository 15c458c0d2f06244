#!/usr/bin/env node
// metainit CLI entry. `boot` and the everyday client commands take the fast path (no oclif, no
// zod); `check`, `plan` and --help go through oclif. As PID 1 (init=/sbin/metainit) the kernel may
// pass no arguments or its own leftovers: that means `boot`.
process.on('SIGUSR1', () => {}); // as PID 1, never let SIGUSR1 start Node's inspector
delete process.env.NODE_EXTRA_CA_CERTS;

// A reader that goes away (`metainit status | head -1`) ends the output, not with a stack trace:
// stop quietly, as other Unix tools do. (PID 1 writes its log elsewhere: see base/log.ts.)
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE' && process.pid !== 1) process.exit(process.exitCode ?? 0);
    if (e.code !== 'EPIPE') throw e;
  });
}

let argv = process.argv.slice(2);
const fast = await import('../dist/src/cli/fast.js');
// `metainit -- CMD [ARGS…]`: the container entrypoint, as `metainit run -- CMD` (tini style)
if (argv[0] === '--') argv = ['run', ...argv];
if (process.pid === 1 && !fast.isKnownCommand(argv[0])) argv = ['boot'];
// `metainit help CMD` is `metainit CMD --help`
if (argv[0] === 'help' && argv[1] !== undefined && fast.isKnownCommand(argv[1])) argv = [argv[1], '--help'];
// a mistyped command word ("stauts"): one line with the command meant, exit 2 (oclif would say "command not found")
if (argv[0] !== undefined && !argv[0].startsWith('-') && !fast.isKnownCommand(argv[0]) && !['help', 'autocomplete', 'commands', 'version'].includes(argv[0])) {
  process.stderr.write(fast.unknownCommand(argv[0]) + '\n');
  process.exit(2);
}
if (fast.isFastCommand(argv)) {
  process.exitCode = await fast.runFast(argv);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url, args: argv });
}
