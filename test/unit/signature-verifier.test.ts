/**
 * Signature verification batched off the event loop (api/signature-verifier.ts): every answer belongs to its own
 * request (a tampered one amid good ones is refused, a good one amid tampered ones accepted), keys are told to the
 * worker once and told apart, a lone request on an idle verifier is verified in place (one while a batch is out goes
 * to the worker), closing answers what is in flight, a batch is moved to the worker, not copied, and nextAnswer()
 * tells when the requests of the batch out have their answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPairSync, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createSignatureVerifier } from '../../src/api/signature-verifier.js';

const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** A signing string and its signature (base64), as authentication.ts hands them over. */
const signed = (i: number, key = a.privateKey, text = `date: ${i}\n(request-target): post /20190101/jobRuns`) => {
  return { data: text, sig: sign('sha256', Buffer.from(text), key).toString('base64') };
};

test('a batch: each request gets its own answer, with each request its own key', async () => {
  const v = createSignatureVerifier();
  try {
    const asked = Array.from({ length: 40 }, (_, i) => {
      const { data, sig } = signed(i, i % 3 === 0 ? b.privateKey : a.privateKey);
      const key = i % 3 === 0 ? b.publicKey : a.publicKey;
      // Every 7th is tampered (its data changed after signing), every 11th verified with the other key.
      const tampered = i % 7 === 0;
      const wrongKey = i % 11 === 0 && !tampered;
      const want = !tampered && !wrongKey;
      const useKey = wrongKey ? (key === a.publicKey ? b.publicKey : a.publicKey) : key;
      return { want, got: v.verify(tampered ? `${data}x` : data, useKey, sig) };
    });
    const got = await Promise.all(asked.map((x) => x.got));
    assert.deepEqual(got, asked.map((x) => x.want));
    // A second batch with the same keys (told to the worker before) still answers right.
    const again = await Promise.all([signed(1), signed(2)].map(({ data, sig }) => v.verify(data, a.publicKey, sig)));
    assert.deepEqual(again, [true, true]);
    assert.deepEqual(await Promise.all([v.verify('other', a.publicKey, signed(3).sig), v.verify(signed(4).data, a.publicKey, signed(4).sig)]), [false, true]);
  } finally {
    await v.close();
  }
});

test('a lone request, a garbage signature, and a close with requests asked', async () => {
  const v = createSignatureVerifier();
  const { data, sig } = signed(9);
  assert.equal(await v.verify(data, a.publicKey, sig), true);
  assert.equal(await v.verify(data, a.publicKey, 'not a signature'), false);
  assert.equal(await v.verify(data, a.publicKey, ''), false);
  const pending = [v.verify(data, a.publicKey, sig), v.verify(data, b.publicKey, sig)];
  await v.close();
  assert.deepEqual(await Promise.all(pending), [true, false]);
});

test('a batch is handed over as one transferred buffer: no byte of it is structured-cloned', async (t) => {
  // Cloning a Buffer copies the whole ArrayBuffer under it, and a small Buffer is a slice of Node's shared 8 KB pool:
  // ~20 us of the event loop per request in benchmark 3a. Every buffer in a batch's message must be in its transfer
  // list (then it is detached here once sent); only a key's DER goes by copy, once per key.
  const sent: { message: unknown; transfer: readonly unknown[] }[] = [];
  const original = Worker.prototype.postMessage;
  t.mock.method(Worker.prototype, 'postMessage', function (this: Worker, message: unknown, transfer?: readonly unknown[]) {
    sent.push({ message, transfer: transfer ?? [] });
    return original.call(this, message, transfer as never);
  });
  const v = createSignatureVerifier();
  try {
    const items = Array.from({ length: 5 }, (_, i) => signed(i));
    assert.deepEqual(await Promise.all(items.map(({ data, sig }) => v.verify(data, a.publicKey, sig))), [true, true, true, true, true]);
    assert.equal(sent.length, 1, 'one message for the batch');
    const cloned: string[] = [];
    const walk = (value: unknown, where: string, keys: boolean): void => {
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const buffer = value instanceof ArrayBuffer ? value : value.buffer;
        if (!keys && buffer.byteLength > 0) cloned.push(`${where} (${buffer.byteLength} bytes)`);
        return;
      }
      if (value && typeof value === 'object') for (const [k, inner] of Object.entries(value)) walk(inner, `${where}.${k}`, keys || k === 'keys');
    };
    walk(sent[0].message, 'message', false);
    assert.deepEqual(cloned, []);
  } finally {
    await v.close();
  }
});

test('a lone request while a batch is out goes to the worker too (the event loop is busy: not 45 us of it in place)', async (t) => {
  let messages = 0;
  const original = Worker.prototype.postMessage;
  t.mock.method(Worker.prototype, 'postMessage', function (this: Worker, message: unknown, transfer?: readonly unknown[]) {
    messages++;
    return original.call(this, message, transfer as never);
  });
  const v = createSignatureVerifier();
  try {
    // A batch of 20 starts the worker (tens of ms) and is out until it has verified them all.
    const batch = Array.from({ length: 20 }, (_, i) => signed(i)).map(({ data, sig }) => v.verify(data, a.publicKey, sig));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(messages, 1);
    const { data, sig } = signed(99);
    const lone = v.verify(data, a.publicKey, sig);
    assert.deepEqual(await Promise.all([...batch, lone]), Array(21).fill(true));
    assert.equal(messages, 2, 'the lone request went to the worker as a batch of its own');
  } finally {
    await v.close();
  }
});

test('signing strings beyond ASCII, and signatures of any length, are packed by their bytes', async () => {
  const v = createSignatureVerifier();
  try {
    // Header values the HTTP parser gave as latin1 text are signed by their UTF-8 bytes (Buffer.from's default).
    const texts = ['date: x\nx-name: caf\u00e9', 'host: \u00ff\u00fe', 'plain'];
    const items = texts.map((text, i) => signed(i, a.privateKey, text));
    const short = { data: 'plain', sig: 'AAAA' };
    const got = await Promise.all([...items.map(({ data, sig }) => v.verify(data, a.publicKey, sig)), v.verify(short.data, a.publicKey, short.sig), v.verify(items[0].data, a.publicKey, items[1].sig)]);
    assert.deepEqual(got, [true, true, true, false, false]);
  } finally {
    await v.close();
  }
});

test('nextAnswer(): null with no batch out; once a batch is out, it resolves after that batch has its answers', async () => {
  const v = createSignatureVerifier();
  try {
    assert.equal(v.nextAnswer(), null);
    const answered: boolean[] = [];
    const batch = Array.from({ length: 6 }, (_, i) => signed(i)).map(({ data, sig }) => v.verify(data, a.publicKey, sig).then((ok) => answered.push(ok)));
    // The batch goes out at the end of this turn (setImmediate).
    assert.equal(v.nextAnswer(), null);
    await new Promise((resolve) => setImmediate(resolve));
    const next = v.nextAnswer();
    assert.ok(next, 'a batch is out');
    assert.equal(v.nextAnswer(), next, 'one promise for everyone waiting on the same answer');
    await next;
    assert.equal(answered.length, 6, 'every request of the batch had its answer before');
    await Promise.all(batch);
    assert.equal(v.nextAnswer(), null);
    // Closing settles a promise given out for a batch still out.
    const more = Array.from({ length: 4 }, (_, i) => signed(i)).map(({ data, sig }) => v.verify(data, a.publicKey, sig));
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = v.nextAnswer();
    assert.ok(waiting);
    await v.close();
    await waiting;
    assert.deepEqual(await Promise.all(more), [true, true, true, true]);
  } finally {
    await v.close();
  }
});
