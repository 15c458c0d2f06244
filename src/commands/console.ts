// metainit console — see src/cli/spec.ts for its arguments and src/cli/client-commands.ts for what it does.
import { clientCommand } from '../cli/oclif.js';

export default clientCommand('console');
