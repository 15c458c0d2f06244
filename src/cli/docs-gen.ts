/**
 * docs-gen.ts — shell completion (bash, zsh) and the man page, generated from the one command
 * table (spec.ts), so that they never drift from what the CLI accepts. Service names are
 * completed from the running metainit (`metainit status --json`), quietly nothing when it is
 * not reachable.
 */
import { COMMANDS, type CommandSpec } from './spec.js';

const visible = (spec: CommandSpec): string[] =>
  Object.entries(spec.flags)
    .filter(([, f]) => !f.hidden)
    .flatMap(([name, f]) => [`--${name}`, ...(f.char ? [`-${f.char}`] : [])]);

/** commands whose first argument is a service name */
const takesName = (spec: CommandSpec): boolean => spec.args[0]?.name === 'name';

const NAMES_CMD = `metainit status --json 2>/dev/null | sed -n 's/^ *"id": "\\\\([^"]*\\\\)".*/\\\\1/p'`;

export function bashCompletion(): string {
  const cmds = Object.keys(COMMANDS).concat(['help']).sort();
  const cases = Object.entries(COMMANDS)
    .map(([cmd, spec]) => `    ${cmd}) flags="${visible(spec).join(' ')}"; names=${takesName(spec) ? 1 : 0} ;;`)
    .join('\n');
  return `# bash completion for metainit — generated from its command table (metainit completion bash)
_metainit() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} flags names=0
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${cmds.join(' ')} --" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    help) COMPREPLY=( $(compgen -W "${Object.keys(COMMANDS).sort().join(' ')}" -- "$cur") ); return ;;
    --) COMPREPLY=( $(compgen -c -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$names" = 1 ]; then
    COMPREPLY=( $(compgen -W "$(${NAMES_CMD})" -- "$cur") )
  fi
}
complete -F _metainit metainit
`;
}

const zshQuote = (s: string): string => s.replace(/'/g, `'\\''`).replace(/[[\]:]/g, '\\$&');

export function zshCompletion(): string {
  const cmds = Object.entries(COMMANDS)
    .map(([cmd, spec]) => `    '${cmd}:${zshQuote(spec.summary)}'`)
    .join('\n');
  const cases = Object.entries(COMMANDS)
    .map(([cmd, spec]) => {
      const flags = Object.entries(spec.flags)
        .filter(([, f]) => !f.hidden)
        .map(([name, f]) => `'--${name}[${zshQuote(f.description)}]${f.type === 'boolean' ? '' : ':value:'}'`);
      const arg = takesName(spec) ? ` '*:service:_metainit_services'` : '';
      return `    ${cmd}) _arguments ${flags.join(' ')}${arg} ;;`;
    })
    .join('\n');
  return `#compdef metainit
# zsh completion for metainit — generated from its command table (metainit completion zsh)
_metainit_services() {
  local -a names
  names=( \${(f)"$(${NAMES_CMD})"} )
  _describe 'service' names
}
_metainit() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
_metainit "$@"
`;
}

const roff = (s: string): string =>
  s
    .replace(/\\/g, '\\e')
    .replace(/^\./gm, '\\&.')
    .replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);

/** metainit(1) in roff: `metainit man | man -l -` */
export function manPage(version: string): string {
  const out = [
    `.TH METAINIT 1 "" "metainit ${version}" "User Commands"`,
    '.SH NAME',
    'metainit \\- a PID 1 that runs systemd, sysvinit scripts, runit, s6, OpenRC and its own services side by side',
    '.SH SYNOPSIS',
    '.B metainit',
    '.I command',
    '[\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.br',
    '.B metainit \\-\\-',
    '.I CMD',
    '[\\fIARGS\\fR...]',
    '.SH DESCRIPTION',
    roff('As PID 1 (init=/sbin/metainit, or a container entrypoint) metainit does the early set-up, runs every configured init through an adapter and arbitrates the shared system roles. The other commands talk to the running metainit over its control socket (--socket, METAINIT_SOCKET) or read a configuration directory offline.'),
    '.SH COMMANDS',
  ];
  for (const [cmd, spec] of Object.entries(COMMANDS)) {
    const args = spec.args.map((a) => (a.required ? `\\fI${a.name.toUpperCase()}\\fR` : `[\\fI${a.name.toUpperCase()}\\fR${a.variadic ? '...' : ''}]`)).join(' ');
    out.push('.TP', `.B ${cmd}${args ? ` ${args}` : ''}`, roff(spec.summary));
    for (const [name, f] of Object.entries(spec.flags)) {
      if (f.hidden) continue;
      out.push('.RS', '.TP', `.B ${f.char ? `\\-${f.char}, ` : ''}\\-\\-${name}${f.type === 'boolean' ? '' : ' \\fIvalue\\fR'}`, roff(f.description + (f.default !== undefined ? ` (default: ${String(f.default)})` : '') + (f.env ? ` (env ${f.env})` : '')), '.RE');
    }
    for (const ex of spec.examples ?? []) out.push('.RS', '.nf', roff(ex), '.fi', '.RE');
  }
  out.push(
    '.SH EXIT STATUS',
    roff('0 done; 1 failed; 2 usage; 69 metainit not reachable. status NAME and is-active: 0 active, 3 not running, 4 no such service. metainit -- CMD: the exit status of CMD, 128+n when it was killed by signal n, 127 when it was not found, 126 when it could not be executed.'),
    '.SH FILES',
    '.TP', '.I /etc/metainit/metainit.yaml', 'global configuration',
    '.TP', '.I /etc/metainit/adapters.d/NAME.yaml', 'one instance of an init',
    '.TP', '.I /etc/metainit/services.d/NAME.yaml', 'native services',
    '.TP', '.I /run/metainit/control.sock', 'control socket',
    '.SH SEE ALSO',
    'systemctl(1), sv(8), s6\\-svc(8), rc\\-service(8), tini(1)',
  );
  return out.join('\n') + '\n';
}
