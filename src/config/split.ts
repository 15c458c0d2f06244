/**
 * split.ts — split a command line into argv the way a POSIX shell would, without running one.
 *
 * Model: the word-splitting and quote-removal steps of the shell grammar, and nothing else.
 *   - unquoted blanks (space, tab, newline) separate words; runs of blanks count once;
 *   - `'…'` keeps every character literally (no escape inside single quotes);
 *   - `"…"` keeps characters literally except that a backslash escapes `"`, `\`, `$`, `` ` ``
 *     and newline (a backslash before anything else stays a backslash);
 *   - an unquoted backslash makes the next character literal; backslash-newline is removed;
 *   - quotes join with adjacent text into one word (`a"b c"d` → `ab cd`), and `''` is an
 *     empty word.
 * There is deliberately no expansion of any kind: `$HOME`, `*`, `~`, `|`, `;`, `>` and `#` are
 * ordinary characters handed to the program as written (`shell: true` runs /bin/sh instead).
 * YAML already strips `# comments` from an unquoted value, so `#` needs no special meaning here.
 */

/** The line could not be split; `reason` is the part after "unable to split command line: ". */
export class SplitError extends Error {
  constructor(readonly reason: string) {
    super(`exec: unable to split command line: ${reason}`);
    this.name = 'SplitError';
  }
}

const BLANK = new Set([' ', '\t', '\n', '\r']);
/** characters a backslash escapes inside double quotes */
const DQ_ESCAPABLE = new Set(['"', '\\', '$', '`', '\n']);

/** Split `line` into words; throws SplitError on an unterminated quote or a trailing backslash. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  /** a word has started, even if it is still empty (`''` makes an empty word) */
  let inWord = false;
  let i = 0;
  const n = line.length;

  while (i < n) {
    const c = line[i]!;
    if (BLANK.has(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new SplitError('unterminated quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= n) throw new SplitError('unterminated quote');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < n && DQ_ESCAPABLE.has(line[i + 1]!)) {
          if (line[i + 1] !== '\n') word += line[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= n) throw new SplitError('trailing backslash');
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
