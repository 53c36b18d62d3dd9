import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MASK, MIN_MASK_BYTES, SecretMasker, maskForms } from '../../src/logs/masker.js';
import { RunLogIngester, LOG_FILE, MAX_LINE_BYTES } from '../../src/logs/run-log.js';
import { LogService } from '../../src/logs/log-service.js';

const masker = (...values: (string | Buffer)[]) => {
  const m = new SecretMasker();
  m.add(values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v)));
  return m;
};
/** The text with every match masked (the whole string as one line). */
const masked = (m: SecretMasker, text: string | Buffer): string => {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  return (m.mask(b, 0, b.length) ?? b).toString('latin1');
};

test('the value itself: every occurrence, at the start, the end, alone; other text untouched', () => {
  const m = masker('hunter2!');
  assert.equal(masked(m, 'hunter2!'), MASK);
  assert.equal(masked(m, 'pw=hunter2! and again hunter2!'), `pw=${MASK} and again ${MASK}`);
  assert.equal(masked(m, 'hunter2!hunter2!'), MASK, 'touching matches are one marker');
  assert.equal(masked(m, 'hunter2 is not it'), 'hunter2 is not it');
  assert.equal(m.mask(Buffer.from('nothing here'), 0, 12), null, 'no match: null, the bytes are used as they are');
});

test('overlapping secrets, and one inside another, become one marker: no part of either shows', () => {
  const m = masker('abcdef12', 'ef12ghij', 'cdef');
  assert.equal(masked(m, 'x abcdef12ghij y'), `x ${MASK} y`);
  assert.equal(masked(m, 'xcdefx'), `x${MASK}x`);
  // Overlapping occurrences of one value (aaaa in aaaaaa) are all covered.
  assert.equal(masked(masker('aaaa'), 'baaaaaab'), `b${MASK}b`);
});

test('values shorter than MIN_MASK_BYTES are not masked; masking never makes a line longer', () => {
  assert.equal(MIN_MASK_BYTES, 4);
  const m = masker('abc');
  assert.equal(m.size, 0);
  assert.equal(masked(m, 'abcabc'), 'abcabc');
  // Random lines over a small alphabet, full of overlapping matches: the output is never longer than the input.
  const mm = masker('abab', 'baab', 'aaaa');
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    let line = '';
    for (let k = 0; k < 30; k++) line += 'ab'[(seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 2];
    const out = masked(mm, line);
    assert.ok(out.length <= line.length, `${line} -> ${out}`);
    for (const v of ['abab', 'baab', 'aaaa']) assert.ok(!out.includes(v), `${v} left in ${out}`);
  }
});

test('Base64 of the value: standard, unpadded and URL-safe', () => {
  // 0xfb 0xff in the value: its standard Base64 has + and /, its base64url - and _.
  const value = Buffer.from([0x73, 0x65, 0x63, 0xfb, 0xff, 0xbf, 0x72, 0x65, 0x74]);
  const m = masker(value);
  const std = value.toString('base64');
  assert.match(std, /[+/]/);
  assert.equal(masked(m, `token: ${std}`), `token: ${MASK}`);
  assert.equal(masked(m, `url: ${value.toString('base64url')}`), `url: ${MASK}`);
  const padded = Buffer.from('p4ssw0rd-x'); // 10 bytes: '==' padding
  assert.equal(masked(masker(padded), `${padded.toString('base64')}.`), `${MASK}.`);
  assert.equal(masked(masker(padded), `${padded.toString('base64').replace(/=+$/, '')}.`), `${MASK}.`);
});

test('Base64 of a larger string holding the value, at each offset mod 3: what encodes the value alone is masked', () => {
  const value = Buffer.from('S3cr3t-Value-0123456789');
  const m = masker(value);
  for (const prefix of ['', 'a', 'ab', 'abc', 'user:', 'Authorization: Basic ']) {
    for (const suffix of ['', 'z', '\n', 'trailing bytes']) {
      const whole = Buffer.concat([Buffer.from(prefix), value, Buffer.from(suffix)]);
      for (const enc of ['base64', 'base64url'] as const) {
        const encoded = whole.toString(enc);
        const out = masked(m, encoded);
        assert.ok(out.includes(MASK), `${prefix}|${suffix} ${enc}: ${encoded} not masked`);
        // Every character that encodes the value's bits alone is masked: one marker covers at least
        // [ceil(8p/6), floor(8(p+n)/6)) of the encoding (p: the prefix's length, n: the value's). What stays is the
        // text around it, with at most the one character at each end that mixes the value's bits with its
        // neighbours' (a whole-value form, at the start or the end of the encoding, may cover that one too).
        const first = Math.ceil((8 * prefix.length) / 6);
        const end = Math.floor((8 * (prefix.length + value.length)) / 6);
        const parts = out.split(MASK);
        assert.equal(parts.length, 2, out);
        assert.ok(encoded.slice(0, first).startsWith(parts[0]) && parts[0].length >= Math.floor((8 * prefix.length) / 6), `${prefix}|${suffix} ${enc}: ${out}`);
        assert.ok(encoded.slice(end).endsWith(parts[1]) && parts[1].length >= encoded.length - Math.ceil((8 * (prefix.length + value.length)) / 6) - 2, `${prefix}|${suffix} ${enc}: ${out}`);
      }
    }
  }
});

test('URL-encoded forms: encodeURIComponent, RFC 3986, form encoding (+ for space), lower-case hex', () => {
  const value = 'p@ss word/with&chars=é!';
  const m = masker(value);
  const forms = [
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  ];
  for (const f of forms) {
    assert.notEqual(f, value);
    assert.equal(masked(m, `https://x/?q=${f}&n=1`), `https://x/?q=${MASK}&n=1`, f);
  }
});

test('a multi-line value: each of its lines is masked (the log stores a record per line)', () => {
  const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\r\n-----END KEY-----';
  const m = masker(pem);
  for (const line of pem.split(/\r?\n/)) assert.equal(masked(m, line), MASK, line);
  assert.equal(masked(m, pem), MASK);
});

test('maskForms: no form shorter than the minimum, no duplicates', () => {
  for (const v of ['abcd', 'abcdefgh', 'x'.repeat(100), 'with space', '\u00ff\u00fe\u00fd\u00fc']) {
    const forms = maskForms(Buffer.from(v, 'latin1')).map((f) => f.toString('latin1'));
    assert.ok(forms.every((f) => f.length >= MIN_MASK_BYTES));
    assert.equal(new Set(forms).size, forms.length);
    assert.ok(forms.includes(v));
  }
});

test('safeCut: a cut never falls inside a match', () => {
  const m = masker('SECRETVALUE');
  const line = Buffer.from(`${'x'.repeat(20)}SECRETVALUE${'y'.repeat(20)}`);
  // At 25, inside the match (20..31): moved back to its start.
  assert.equal(m.safeCut(line, 0, 25, line.length), 20);
  // Outside: unchanged.
  assert.equal(m.safeCut(line, 0, 10, line.length), 10);
  assert.equal(m.safeCut(line, 0, 31, line.length), 31);
  // A match that starts the line: cut after it (the record is a little longer than the cap, never split).
  assert.equal(m.safeCut(line, 20, 25, line.length), 31);
  // A chain of overlapping matches starting far before the cut is not split either.
  const chain = masker('abababab');
  const c = Buffer.from(`-${'ab'.repeat(20)}-`);
  assert.equal(chain.safeCut(c, 0, 30, c.length), 1);
});

// ---- The ingester: what reaches log.ndjson.

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-mask-'));
  const files = { stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log') };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  return { dir, files };
}
const stored = (dir: string) => readFileSync(path.join(dir, LOG_FILE), 'utf8');
const messages = (dir: string) =>
  stored(dir)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).message as string);

const SECRET = 'tok_5b8e1f0c9a7d4e2b';

test('ingester: a value written in two pieces (two writes, two passes) is masked; Base64 and URL forms too', async () => {
  const { dir, files } = setup();
  const m = masker(SECRET);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { masker: () => m });
  appendFileSync(files.stdout, `key=${SECRET.slice(0, 7)}`);
  ing.pump();
  appendFileSync(files.stdout, `${SECRET.slice(7)} done\n`);
  ing.pump();
  appendFileSync(files.stderr, `b64 ${Buffer.from(SECRET).toString('base64')}\nurl ${encodeURIComponent(`x=${SECRET}`)}\n`);
  appendFileSync(files.stdout, `last ${SECRET}`); // no newline: the run's last line
  await ing.finish();
  assert.deepEqual(messages(dir).sort(), [`b64 ${MASK}`, `key=${MASK} done`, `last ${MASK}`, `url x%3D${MASK}`].sort());
  assert.ok(!stored(dir).includes(SECRET));
  rmSync(dir, { recursive: true, force: true });
});

test('ingester: a line longer than the cap is cut beside a value, never through it', async () => {
  const { dir, files } = setup();
  const m = masker(SECRET);
  // The value straddles the 64 KiB cut point of a line with no newline for a while.
  const pre = 'p'.repeat(MAX_LINE_BYTES - 5);
  appendFileSync(files.stdout, `${pre}${SECRET}${'q'.repeat(MAX_LINE_BYTES)}\n`);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { masker: () => m });
  await ing.finish();
  const msgs = messages(dir);
  assert.ok(!stored(dir).includes(SECRET.slice(0, 5)) || !stored(dir).includes(SECRET.slice(5)), 'the halves of the value are not both stored');
  assert.ok(!stored(dir).includes(SECRET));
  assert.equal(msgs.join(''), `${pre}${MASK}${'q'.repeat(MAX_LINE_BYTES)}`);
  rmSync(dir, { recursive: true, force: true });
});

test('ingester: a partial line over the cap with a value near its end is not cut until the value can be seen whole', async () => {
  const { dir, files } = setup();
  const m = masker(SECRET);
  const ing = new RunLogIngester(dir, files, new EventEmitter(), 'r', { masker: () => m });
  const pre = 'p'.repeat(MAX_LINE_BYTES - 3);
  appendFileSync(files.stdout, `${pre}${SECRET.slice(0, 6)}`);
  ing.pump();
  appendFileSync(files.stdout, `${SECRET.slice(6)}\n`);
  await ing.finish();
  assert.equal(messages(dir).join(''), `${pre}${MASK}`);
  rmSync(dir, { recursive: true, force: true });
});

test('ingester: masking stores no more than the output itself (the quota arithmetic holds)', async () => {
  const plain = setup();
  const withMask = setup();
  const out = Array.from({ length: 500 }, (_, i) => `line ${i} ${SECRET} ${i % 7 === 0 ? Buffer.from(SECRET).toString('base64') : ''}`).join('\n') + '\n';
  for (const s of [plain, withMask]) appendFileSync(s.files.stdout, out);
  const m = masker(SECRET);
  await new RunLogIngester(plain.dir, plain.files, new EventEmitter(), 'r').finish();
  await new RunLogIngester(withMask.dir, withMask.files, new EventEmitter(), 'r', { masker: () => m }).finish();
  assert.ok(stored(withMask.dir).length < stored(plain.dir).length);
  assert.ok(!stored(withMask.dir).includes(SECRET));
  for (const s of [plain, withMask]) rmSync(s.dir, { recursive: true, force: true });
});

test('LogService: masks added while a run is captured apply from then on; a new service (a restart) given them again re-ingests masked', async () => {
  const runsDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-mask-svc-'));
  const runDir = path.join(runsDir, 'run1');
  const files = { stdout: path.join(runsDir, 'run1-stdout.log'), stderr: path.join(runsDir, 'run1-stderr.log') };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  const logs = new LogService(runsDir);
  logs.attach('run1', files);
  logs.addMasks('run1', [Buffer.from(SECRET)]);
  appendFileSync(files.stdout, `first ${SECRET}\n`);
  // The server stops before this line is captured; the next one re-reads from the checkpoint.
  logs.close();
  const again = new LogService(runsDir);
  again.addMasks('run1', [Buffer.from(SECRET)]);
  again.attach('run1', files);
  appendFileSync(files.stdout, `second ${SECRET}\n`);
  await again.finish('run1');
  assert.deepEqual(messages(runDir), [`first ${MASK}`, `second ${MASK}`]);
  // A sealed log takes no more masks (nothing more is captured for it).
  again.addMasks('run1', [Buffer.from('another value')]);
  rmSync(runsDir, { recursive: true, force: true });
});
