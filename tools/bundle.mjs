// tools/bundle.mjs — `npm run build:bundle`: PID 1's image as one file.
//
// PID 1 (`metainit boot`) imports dist/src/pid1/main.bundle.js instead of the ≈150 modules tsc
// writes: one module record, one source, no ESM resolution per file. Measured (docs/benchmarks.md,
// "Where the time and memory go"): ≈ 7 MiB less idle RSS, and faster to load. The bundle sits
// next to main.js so that every path the code takes from import.meta.url (the addon under
// build/Release, ../logger/main.js, package.json) resolves the same. Identifiers are kept (no
// renaming): PID 1's stack traces in its log stay readable. Packages with native parts or
// loaded only on demand stay outside (node-pty, dbus-native, ws).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/pid1/main.js'],
  outfile: 'dist/src/pid1/main.bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['*.node', 'node-pty', '@homebridge/dbus-native', 'ws'],
  // CommonJS dependencies call require(): give the ESM bundle one
  banner: { js: "import { createRequire as __metainitRequire } from 'node:module'; const require = __metainitRequire(import.meta.url);" },
  logLevel: 'warning',
});
