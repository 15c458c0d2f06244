// metainit roles — see src/cli/spec.ts for its arguments and src/cli/client-commands.ts for what it does.
import { tableCommand } from '../cli/oclif.js';

export default tableCommand('roles');
