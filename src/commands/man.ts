// metainit man — see src/cli/spec.ts and src/cli/docs-gen.ts (generated from the command table).
import { tableCommand } from '../cli/oclif.js';

export default tableCommand('man');
