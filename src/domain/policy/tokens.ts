import { PolicySyntaxError } from './syntax-error.js';

/**
 * Tokens of OCI's policy language: words (keywords, names, dotted variables, OCIDs, `a:b:c` compartment paths),
 * quoted strings ('...' or "..."), and the punctuation `,` `{` `}` `=` `!=`. Columns are 1-based, as users count.
 */
export interface Token {
  kind: 'word' | 'string' | 'punct' | 'end';
  text: string;
  column: number;
}

// What OCI names, OCIDs, variables and paths are made of (compartment names allow . - _; OCIDs also digits and ..).
const WORD_CHAR = /[A-Za-z0-9_.:\-/@+*]/;

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const column = i + 1;
    if (c === ',' || c === '{' || c === '}' || c === '=') {
      out.push({ kind: 'punct', text: c, column });
      i++;
    } else if (c === '!' && text[i + 1] === '=') {
      out.push({ kind: 'punct', text: '!=', column });
      i += 2;
    } else if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0) throw new PolicySyntaxError(`unterminated quoted value (no closing ${c})`, column);
      out.push({ kind: 'string', text: text.slice(i + 1, close), column });
      i = close + 1;
    } else if (WORD_CHAR.test(c)) {
      let j = i;
      while (j < text.length && WORD_CHAR.test(text[j])) j++;
      out.push({ kind: 'word', text: text.slice(i, j), column });
      i = j;
    } else {
      throw new PolicySyntaxError(`unexpected character '${c}'`, column);
    }
  }
  out.push({ kind: 'end', text: '', column: text.length + 1 });
  return out;
}

/** A cursor over tokens with the expectations the parsers share; every failure names the column and what was found. */
export class TokenCursor {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.at];
  }

  next(): Token {
    const t = this.tokens[this.at];
    if (t.kind !== 'end') this.at++;
    return t;
  }

  /** Whether the next token is the keyword `word` (case-insensitive, as OCI's keywords are); consumes it if so. */
  acceptWord(word: string): boolean {
    const t = this.peek();
    if (t.kind === 'word' && t.text.toLowerCase() === word) {
      this.at++;
      return true;
    }
    return false;
  }

  acceptPunct(p: string): boolean {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === p) {
      this.at++;
      return true;
    }
    return false;
  }

  expectWord(word: string): void {
    if (!this.acceptWord(word)) this.fail(`expected '${word}'`);
  }

  expectPunct(p: string): void {
    if (!this.acceptPunct(p)) this.fail(`expected '${p}'`);
  }

  /** A name or value: a word or a quoted string. */
  expectValue(what: string): Token {
    const t = this.peek();
    if (t.kind === 'word' || t.kind === 'string') return this.next();
    return this.fail(`expected ${what}`);
  }

  expectEnd(): void {
    if (this.peek().kind !== 'end') this.fail('expected the end of the statement');
  }

  fail(expected: string): never {
    const t = this.peek();
    throw new PolicySyntaxError(expected, t.column, t.kind === 'end' ? 'the end of the statement' : `'${t.text}'`);
  }
}
