// metainit completion — see src/cli/spec.ts and src/cli/docs-gen.ts (generated from the command table).
import { fastCommand } from '../cli/oclif.js';

export default fastCommand('completion');
