/** A failed run's own reason (src/logs/failure-note.ts): its last DSJOBS_FAILURE line near the end of its log. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { failureNote } from '../../src/logs/failure-note.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'failure-note-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function log(name: string, messages: string[]): string {
  const file = path.join(dir, name);
  const time = '2026-01-01T00:00:00.000Z';
  writeFileSync(file, messages.map((message, seq) => JSON.stringify({ seq, time, stream: 'stderr', message }) + '\n').join(''));
  return file;
}

describe('failureNote', () => {
  it('is the last DSJOBS_FAILURE line', () => {
    assert.equal(failureNote(log('a', ['x', 'DSJOBS_FAILURE: first', 'y', 'DSJOBS_FAILURE: gitPython: branch x not found', 'tail'])), 'gitPython: branch x not found');
  });

  it('is null without one, with an empty one, or without a log', () => {
    assert.equal(failureNote(log('b', ['Traceback', 'ValueError'])), null);
    assert.equal(failureNote(log('c', ['DSJOBS_FAILURE:   '])), null);
    assert.equal(failureNote(path.join(dir, 'absent')), null);
  });

  it('looks only at the last 200 records, and keeps a note to 400 characters', () => {
    assert.equal(failureNote(log('d', ['DSJOBS_FAILURE: too early', ...Array.from({ length: 200 }, (_, i) => `line ${i}`)])), null);
    const note = failureNote(log('e', [`DSJOBS_FAILURE: ${'z'.repeat(1000)}`]));
    assert.equal(note?.length, 400);
    assert.ok(note?.endsWith('…'));
  });
});
