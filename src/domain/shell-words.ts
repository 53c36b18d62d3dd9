// POSIX-shell word splitting and quoting, without any expansion.
//
// `commandLineArguments` on the OCI wire is one string. ADS builds it with
// `" ".join(shlex.quote(a) for a in args)` and reads it back with `shlex.split`,
// so this module follows Python's shlex in POSIX mode, with the POSIX shell's
// double-quote rules (`\$`, "\`" and backslash-newline are escapes there too;
// Python's shlex keeps those backslashes, a shell does not).
// Nothing is expanded: `$HOME`, `*`, `$(x)`, `;`, `|`, `#` and `~` are literal.

export class ShellWordsError extends Error {
  constructor(
    message: string,
    /** 0-based index in the input of the quote or backslash that was left open. */
    public readonly position: number,
  ) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

// Python's shlex.whitespace.
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);
// Characters a backslash escapes inside double quotes (POSIX XCU 2.2.3).
const DOUBLE_QUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

/**
 * Splits a command line into words like `shlex.split(s)` (POSIX mode, no comments).
 * Throws ShellWordsError on an unterminated quote or a trailing backslash.
 */
export function splitShellWords(input: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once any part of it was seen, so `''` yields an empty word.
  let inWord = false;
  let i = 0;
  const n = input.length;

  while (i < n) {
    const ch = input[i];
    if (WHITESPACE.has(ch)) {
      if (inWord) {
        words.push(word);
        word = '';
        inWord = false;
      }
      i++;
    } else if (ch === '\\') {
      if (i + 1 >= n) throw new ShellWordsError(`trailing backslash at position ${i}`, i);
      const next = input[i + 1];
      if (next === '\n') {
        // Line continuation: both characters vanish and do not start a word.
        i += 2;
        continue;
      }
      word += next;
      inWord = true;
      i += 2;
    } else if (ch === "'") {
      const close = input.indexOf("'", i + 1);
      if (close < 0) throw new ShellWordsError(`unterminated single quote at position ${i}`, i);
      word += input.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (ch === '"') {
      const open = i;
      i++;
      inWord = true;
      let closed = false;
      while (i < n) {
        const c = input[i];
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\' && i + 1 < n && DOUBLE_QUOTE_ESCAPABLE.has(input[i + 1])) {
          if (input[i + 1] !== '\n') word += input[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      if (!closed) throw new ShellWordsError(`unterminated double quote at position ${open}`, open);
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// Same safe set as Python's shlex.quote: `[\w@%+=:,./-]` with re.ASCII.
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word so that a POSIX shell (and splitShellWords) reads it back unchanged; like shlex.quote. */
export function quoteShellWord(word: string): string {
  if (word === '') return "''";
  if (SAFE_WORD.test(word)) return word;
  return "'" + word.replace(/'/g, `'"'"'`) + "'";
}

/** Joins words into one command line; `splitShellWords(joinShellWords(w))` equals `w`. Like shlex.join. */
export function joinShellWords(words: readonly string[]): string {
  return words.map(quoteShellWord).join(' ');
}
