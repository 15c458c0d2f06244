/**
 * docs-gen.test.ts — completion and man page come from the command table: bash itself completes
 * every command and every visible flag, and the man page names them all (and renders cleanly
 * with groff, when it is installed).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { bashCompletion, manPage, zshCompletion } from '../../../src/cli/docs-gen.js';
import { COMMANDS } from '../../../src/cli/spec.js';

/** what bash completes for the words (the last one being typed) */
function complete(words: string[]): string[] {
  const script = `${bashCompletion()}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _metainit; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return r.stdout.split('\n').filter(Boolean);
}

describe('cli: completion and man page from the command table', () => {
  it('bash completes every command, and each command\'s visible flags', () => {
    expect(complete(['metainit', ''])).to.include.members([...Object.keys(COMMANDS), 'help', '--']);
    expect(complete(['metainit', 'sta'])).to.deep.equal(['start', 'status']);
    for (const [cmd, spec] of Object.entries(COMMANDS)) {
      const flags = Object.entries(spec.flags).filter(([, f]) => !f.hidden).map(([n]) => `--${n}`);
      if (flags.length) expect(complete(['metainit', cmd, '--']), cmd).to.include.members(flags);
    }
    expect(complete(['metainit', 'logs', '--fo'])).to.deep.equal(['--follow']);
  });

  it('zsh gets every command with its summary', () => {
    const z = zshCompletion();
    for (const cmd of Object.keys(COMMANDS)) expect(z).to.match(new RegExp(`'${cmd}:`));
    expect(z.startsWith('#compdef metainit')).to.equal(true);
  });

  it('the man page names every command and visible flag, and groff renders it without a warning', () => {
    const man = manPage('1.2.3');
    for (const [cmd, spec] of Object.entries(COMMANDS)) {
      expect(man).to.include(`.B ${cmd}`);
      for (const [flag, f] of Object.entries(spec.flags)) if (!f.hidden) expect(man, `${cmd} --${flag}`).to.include(`\\-\\-${flag}`);
    }
    const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: man, encoding: 'utf8' });
    if (groff.error) return; // no groff here: the text checks above still hold
    expect(groff.stderr).to.equal('');
  });
});
