/**
 * split.test.ts — command lines split like sh would, without expansion.
 * Each quoting expectation was checked against /bin/sh (`for a in LINE; do printf '[%s]' "$a"; done`).
 * One deliberate difference: a newline is a blank here, where sh would end the command.
 */
import { expect } from 'chai';
import { SplitError, splitCommand } from '../../../src/config/split.js';

describe('splitCommand', () => {
  const cases: Array<[string, string[]]> = [
    ['/usr/bin/redis-server --port 7777', ['/usr/bin/redis-server', '--port', '7777']],
    ['  a \t b\n c  ', ['a', 'b', 'c']],
    ['', []],
    ['   ', []],
    [`echo 'a  b' "c  d"`, ['echo', 'a  b', 'c  d']],
    [`a'b c'd`, ['ab cd']],
    [`x "" y ''`, ['x', '', 'y', '']],
    [`'it'"'"'s'`, ["it's"]],
    [`"a \\" b"`, ['a " b']],
    [`"back\\\\slash"`, ['back\\slash']],
    [`"\\$HOME"`, ['$HOME']],
    [`"\\n stays"`, ['\\n stays']],
    [`'no \\ escape'`, ['no \\ escape']],
    [`a\\ b`, ['a b']],
    [`\\'quoted\\'`, ["'quoted'"]],
    ['one \\\ntwo', ['one', 'two']],
    ['"one\\\ntwo"', ['onetwo']],
  ];
  for (const [line, argv] of cases) {
    it(`splits ${JSON.stringify(line)}`, () => {
      expect(splitCommand(line)).to.deep.equal(argv);
    });
  }

  it('expands nothing: variables, globs, tildes, operators and # reach the program as written', () => {
    expect(splitCommand('echo $HOME ~ *.log | grep x > out; # not a comment && true')).to.deep.equal([
      'echo', '$HOME', '~', '*.log', '|', 'grep', 'x', '>', 'out;', '#', 'not', 'a', 'comment', '&&', 'true',
    ]);
  });

  for (const bad of [`echo 'oops`, `echo "oops`, `"a \\"`, `'`]) {
    it(`refuses the unterminated quote in ${JSON.stringify(bad)}`, () => {
      expect(() => splitCommand(bad)).to.throw(SplitError, 'exec: unable to split command line: unterminated quote');
    });
  }

  it('refuses a trailing backslash', () => {
    expect(() => splitCommand('echo \\')).to.throw(SplitError, 'unable to split command line: trailing backslash');
  });
});
