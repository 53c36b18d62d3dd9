/**
 * LogView (src/logs/log-view.ts): a run's log.ndjson read a page at a time forward and backward from byte positions,
 * and bisected by time, over lines longer than a read step and a last line still being written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogView } from '../../src/logs/log-view.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const timeOf = (i: number) => new Date(T0 + Math.floor(i / 3) * 1000).toISOString();

/** `n` records, three per second; every 50th is 600 KiB long (longer than a read step). */
function writeLog(file: string, n: number): void {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const message = i % 50 === 0 ? `long ${i} ` + 'x'.repeat(600 * 1024) : `line ${i}`;
    lines.push(JSON.stringify({ seq: i, time: timeOf(i), stream: 'stdout', message }) + '\n');
  }
  writeFileSync(file, lines.join(''));
}

function withLog(n: number, fn: (file: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-logview-'));
  try {
    const file = path.join(dir, 'log.ndjson');
    writeLog(file, n);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('forward and backward pages cover every record once, in order, across lines longer than a read step', () => {
  withLog(400, (file) => {
    const v = LogView.open(file)!;
    try {
      const fwd: number[] = [];
      for (let pos = 0; ; ) {
        const p = v.forward(pos, 7);
        if (p.records.length === 0) break;
        fwd.push(...p.records.map((r) => r.seq));
        pos = p.next;
      }
      assert.deepEqual(fwd, Array.from({ length: 400 }, (_, i) => i + 1));
      const back: number[] = [];
      for (let end = v.size; ; ) {
        const p = v.backward(end, 9);
        if (p.records.length === 0) break;
        back.push(...p.records.map((r) => r.seq));
        end = p.next;
      }
      assert.deepEqual(back, fwd.slice().reverse());
    } finally {
      v.close();
    }
  });
});

test('seek finds the first record at or after a time, before the first and past the last', () => {
  withLog(400, (file) => {
    const v = LogView.open(file)!;
    try {
      for (const i of [1, 2, 3, 4, 149, 150, 151, 300, 399]) {
        const first = Math.floor(i / 3) * 3 || 1; // the first record with i's time
        const at = v.seek(timeOf(i));
        assert.equal(v.forward(at, 1).records[0].seq, first, `record ${i}`);
      }
      assert.equal(v.seek('2000-01-01T00:00:00.000Z'), 0);
      assert.equal(v.seek('2100-01-01T00:00:00.000Z'), v.size);
    } finally {
      v.close();
    }
  });
});

test('a last line without its newline (being appended) is not read', () => {
  withLog(10, (file) => {
    appendFileSync(file, '{"seq":11,"time":"2026-12-01T00:00:09.000Z","stream":"stdout","mess');
    const v = LogView.open(file)!;
    try {
      assert.deepEqual(v.forward(0, 100).records.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(v.seek('2100-01-01T00:00:00.000Z') <= v.size, true);
    } finally {
      v.close();
    }
  });
});

test('a run without a log file has no view', () => {
  assert.equal(LogView.open('/nonexistent/log.ndjson'), null);
});
