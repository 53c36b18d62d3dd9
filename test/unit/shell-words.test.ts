import { describe, it } from 'node:test';
import { prng } from '../../src/domain/prng.js';
import assert from 'node:assert/strict';

import {
  ShellWordsError,
  joinShellWords,
  quoteShellWord,
  splitShellWords,
} from '../../src/domain/shell-words.js';

describe('splitShellWords', () => {
  const cases: Array<[string, string[]]> = [
    ['', []],
    ['   \t\n ', []],
    ['a b  c', ['a', 'b', 'c']],
    ['  lead and trail  ', ['lead', 'and', 'trail']],
    ['a\tb\nc\rd', ['a', 'b', 'c', 'd']],
    ["'hello world'", ['hello world']],
    ['"hello world"', ['hello world']],
    [`a"b c"d`, ['ab cd']],
    [`a'b c'd`, ['ab cd']],
    [`'a'"b"c`, ['abc']],
    ["''", ['']],
    ['""', ['']],
    [`a '' b`, ['a', '', 'b']],
    [`'' ""`, ['', '']],
    ['x=""', ['x=']],
    // single quotes are fully literal, backslashes included
    [String.raw`'a\b\'`, ['a\\b\\']],
    [String.raw`'$HOME "x"'`, ['$HOME "x"']],
    // backslash outside quotes escapes any character
    [String.raw`a\ b`, ['a b']],
    [String.raw`\'x\'`, ["'x'"]],
    [String.raw`\"`, ['"']],
    [String.raw`\\`, ['\\']],
    [String.raw`\a\b`, ['ab']],
    // backslash inside double quotes escapes only \ " $ ` and newline
    [String.raw`"a\"b"`, ['a"b']],
    [String.raw`"a\\b"`, ['a\\b']],
    [String.raw`"\$HOME"`, ['$HOME']],
    ['"\\`x\\`"', ['`x`']],
    [String.raw`"\n\t\a"`, [String.raw`\n\t\a`]],
    [String.raw`"it's"`, ["it's"]],
    // backslash-newline is a line continuation
    ['a\\\nb', ['ab']],
    ['"a\\\nb"', ['ab']],
    ['a \\\n b', ['a', 'b']],
    // no expansion of any kind
    ['$HOME ${X} $(whoami) `id`', ['$HOME', '${X}', '$(whoami)', '`id`']],
    ['*.py ~ a;b c|d e&&f >out <in # not a comment', ['*.py', '~', 'a;b', 'c|d', 'e&&f', '>out', '<in', '#', 'not', 'a', 'comment']],
    // ADS example: args ['100 linux "hi there"'] is sent as one quoted word
    [`'100 linux "hi there"'`, ['100 linux "hi there"']],
    ['--greeting \'Good morning\'', ['--greeting', 'Good morning']],
    ['日本 "ü ö"', ['日本', 'ü ö']],
  ];
  for (const [input, expected] of cases) {
    it(`splits ${JSON.stringify(input)}`, () => {
      assert.deepEqual(splitShellWords(input), expected);
    });
  }

  it('throws on an unterminated double quote with its position', () => {
    const err = assertThrowsShell(() => splitShellWords('run --name "abc def'));
    assert.equal(err.position, 11);
    assert.match(err.message, /unterminated double quote at position 11/);
  });

  it('throws on an unterminated single quote', () => {
    const err = assertThrowsShell(() => splitShellWords("a 'b"));
    assert.equal(err.position, 2);
    assert.match(err.message, /unterminated single quote at position 2/);
  });

  it('throws on a trailing backslash', () => {
    const err = assertThrowsShell(() => splitShellWords('abc \\'));
    assert.equal(err.position, 4);
    assert.match(err.message, /trailing backslash at position 4/);
  });

  it('a double quote escaped at the end is still unterminated', () => {
    assertThrowsShell(() => splitShellWords('"abc\\"'));
  });

  it('ShellWordsError is an Error', () => {
    const err = assertThrowsShell(() => splitShellWords('"'));
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ShellWordsError');
  });
});

describe('quoteShellWord / joinShellWords', () => {
  it('leaves safe words alone, like shlex.quote', () => {
    for (const w of ['abc', 'a-b_c', '--key=value', '/usr/bin/x', 'a,b:c', 'user@host', '50%', '+1', 'file.py']) {
      assert.equal(quoteShellWord(w), w);
    }
  });

  it('quotes everything else with single quotes, like shlex.quote', () => {
    assert.equal(quoteShellWord(''), "''");
    assert.equal(quoteShellWord('Good morning'), "'Good morning'");
    assert.equal(quoteShellWord('$HOME'), "'$HOME'");
    assert.equal(quoteShellWord("it's"), `'it'"'"'s'`);
    assert.equal(quoteShellWord('100 linux "hi there"'), `'100 linux "hi there"'`);
    assert.equal(quoteShellWord('ü'), "'ü'");
    assert.equal(quoteShellWord('#x'), "'#x'");
  });

  it('joins like shlex.join', () => {
    assert.equal(joinShellWords(['--greeting', 'Good morning']), "--greeting 'Good morning'");
    assert.equal(joinShellWords(['arg1', '--key', 'arg2']), 'arg1 --key arg2');
    assert.equal(joinShellWords([]), '');
    assert.equal(joinShellWords(['', 'a']), "'' a");
  });
});

describe('round trip: splitShellWords(joinShellWords(words)) == words', () => {
  // A seeded PRNG, so failures are reproducible from the seed.
  const rng = prng;
  // Weighted towards the characters that matter to a shell.
  const SPECIAL = [' ', '\t', '\n', '\r', "'", '"', '\\', '$', '`', '*', '?', '#', ';', '|', '&', '(', ')', '{', '}', '<', '>', '~', '!', '=', '%', '@', ',', ':', '.', '/', '-', '_'];
  const ALNUM = 'abcXYZ019';
  const UNICODE = ['é', 'ü', '日', '😀', '\u0000', '\u007f', '\u2028'];

  function randomWord(r: () => number): string {
    const len = Math.floor(r() * 12);
    let s = '';
    for (let i = 0; i < len; i++) {
      const k = r();
      if (k < 0.45) s += SPECIAL[Math.floor(r() * SPECIAL.length)];
      else if (k < 0.9) s += ALNUM[Math.floor(r() * ALNUM.length)];
      else s += UNICODE[Math.floor(r() * UNICODE.length)];
    }
    return s;
  }

  it('holds for 5000 random word lists', () => {
    for (let seed = 1; seed <= 5000; seed++) {
      const r = rng(seed);
      const words = Array.from({ length: Math.floor(r() * 6) }, () => randomWord(r));
      const line = joinShellWords(words);
      assert.deepEqual(splitShellWords(line), words, `seed ${seed}: ${JSON.stringify(words)} -> ${JSON.stringify(line)}`);
    }
  });

  it('quoteShellWord always yields exactly one word', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const w = randomWord(rng(seed * 7919));
      assert.deepEqual(splitShellWords(quoteShellWord(w)), [w], `seed ${seed}`);
    }
  });

  it('split never throws on random strings without quotes or backslashes, and re-joining is stable', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const s = randomWord(rng(seed * 104729)).replace(/['"\\]/g, '');
      const words = splitShellWords(s);
      assert.deepEqual(splitShellWords(joinShellWords(words)), words, `seed ${seed}`);
    }
  });
});

function assertThrowsShell(fn: () => unknown): ShellWordsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ShellWordsError, `expected ShellWordsError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected ShellWordsError');
}
