import { verify, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * RSA-SHA256 verification of request signatures, off the event loop in batches. An RSA-2048 verify costs ~45 us on
 * the event loop inside the server (benchmark 3a: most of what authentication adds to a create, whose whole event-loop
 * cost is ~0.3 ms). One at a time on libuv's thread pool saved nothing (each completion is a wake-up of its own); here
 * the verifications asked for in one event-loop turn (every request read in one poll phase) go to a worker thread as
 * one message and come back as one, so the loop pays a copy of a few hundred bytes per request and one wake-up per
 * batch, and the verifying runs on another core. A turn with a single request while no batch is out (an idle server)
 * verifies it in place: a thread hop would only add latency there.
 */
export interface SignatureVerifier {
  /** Whether `signature` (base64) is `key`'s RSA-SHA256 signature of `data` (its UTF-8 bytes). */
  verify(data: string, key: KeyObject, signature: string): Promise<boolean>;
  /**
   * Resolves once the next answer from the worker has been handed to its requests (they go on in the microtasks
   * queued then); null when no batch is out. What the store's group commit waits for before a batch (server.ts): the
   * requests being verified would otherwise commit in a batch of their own one turn later.
   */
  nextAnswer(): Promise<void> | null;
  close(): Promise<void>;
}

/**
 * The worker: keys arrive once each (DER), then batches packed into one ArrayBuffer (see pack) -> one byte each. The
 * batch is moved, not copied: structured clone of a Buffer copies the whole ArrayBuffer under it, and a small Buffer
 * is a view of Node's shared 8 KB pool, so handing over each request's signing string and signature as Buffers cost
 * the event loop ~20 us per request (benchmark 3a's profile: postMessage, 21 of authentication's ~65 us).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  for (const [n, der] of m.keys) keys.set(n, createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }));
  const b = Buffer.from(m.packed);
  const out = new Uint8Array(m.count);
  let at = 0;
  for (let i = 0; i < m.count; i++) {
    const key = keys.get(b.readUInt32LE(at));
    const dataLength = b.readUInt32LE(at + 4);
    const sigLength = b.readUInt32LE(at + 8);
    at += 12;
    const data = b.subarray(at, at + dataLength);
    const sig = b.subarray(at + dataLength, at + dataLength + sigLength);
    at += dataLength + sigLength;
    try {
      out[i] = verify('sha256', data, key, sig) ? 1 : 0;
    } catch {
      out[i] = 0;
    }
  }
  parentPort.postMessage({ batch: m.batch, out }, [out.buffer]);
});
`;

/** Per item: key number, data length, signature length (u32 LE each), the data, the signature. */
const ITEM_HEADER = 12;

interface Pending {
  data: string;
  key: KeyObject;
  /** Base64, as the Authorization header carries it: decoded straight into the batch's buffer. */
  signature: string;
  resolve(ok: boolean): void;
}

export function createSignatureVerifier(): SignatureVerifier {
  let worker: Worker | null = null;
  let failed = false;
  const keyNumbers = new WeakMap<KeyObject, number>();
  let nextKey = 1;
  let nextBatch = 1;
  const inFlight = new Map<number, Pending[]>();
  let queue: Pending[] = [];
  let scheduled = false;
  /** What nextAnswer() gave out, settled at the next answer (or when the worker fails or closes). */
  let answer: { promise: Promise<void>; resolve(): void } | null = null;
  const answered = () => {
    const a = answer;
    answer = null;
    a?.resolve();
  };

  const inPlace = (p: Pending) => p.resolve(verifyHere(p));
  const start = (): Worker | null => {
    if (worker || failed) return worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true });
    } catch {
      failed = true;
      return null;
    }
    worker.unref();
    worker.on('message', (m: { batch: number; out: Uint8Array }) => {
      const batch = inFlight.get(m.batch);
      inFlight.delete(m.batch);
      batch?.forEach((p, i) => p.resolve(m.out[i] === 1));
      answered();
    });
    worker.on('error', () => {
      // A worker that died answers nothing more: what it held is verified here, and so is everything after.
      failed = true;
      worker = null;
      for (const batch of inFlight.values()) batch.forEach(inPlace);
      inFlight.clear();
      answered();
    });
    return worker;
  };

  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    // A lone request is verified in place only while the worker has nothing in hand (an idle server). With a batch
    // out, the server is busy: there it would cost the event loop a whole verification (~45 us), and its answer
    // comes with the batch's wake-up anyway.
    const w = batch.length > 1 || inFlight.size > 0 ? start() : null;
    if (!w) return batch.forEach(inPlace);
    const keys: [number, Buffer][] = [];
    // The strings are written into the batch's buffer as they are: no Buffer of their own per request. A signature's
    // bytes are at most 3/4 of its base64 length; its header says how many were written.
    const dataLengths = batch.map((p) => Buffer.byteLength(p.data));
    let size = 0;
    for (let i = 0; i < batch.length; i++) size += ITEM_HEADER + dataLengths[i] + Math.ceil((batch[i].signature.length * 3) / 4);
    // Its own ArrayBuffer (not a pool slice), so that it can be transferred.
    const packed = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      let n = keyNumbers.get(p.key);
      if (n === undefined) {
        n = nextKey++;
        keyNumbers.set(p.key, n);
        keys.push([n, p.key.export({ format: 'der', type: 'spki' })]);
      }
      const head = at;
      at += ITEM_HEADER;
      at += packed.write(p.data, at, 'utf8');
      const sigLength = packed.write(p.signature, at, 'base64');
      at += sigLength;
      packed.writeUInt32LE(n, head);
      packed.writeUInt32LE(dataLengths[i], head + 4);
      packed.writeUInt32LE(sigLength, head + 8);
    }
    const id = nextBatch++;
    inFlight.set(id, batch);
    w.postMessage({ batch: id, keys, count: batch.length, packed: packed.buffer }, [packed.buffer]);
  };

  return {
    verify(data, key, signature) {
      return new Promise<boolean>((resolve) => {
        queue.push({ data, key, signature, resolve });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    nextAnswer() {
      if (inFlight.size === 0) return null;
      if (!answer) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        answer = { promise, resolve };
      }
      return answer.promise;
    },
    async close() {
      const w = worker;
      worker = null;
      failed = true;
      if (w) await w.terminate();
      for (const batch of inFlight.values()) batch.forEach(inPlace);
      inFlight.clear();
      answered();
    },
  };
}

function verifyHere(p: Pending): boolean {
  try {
    return verify('sha256', Buffer.from(p.data), p.key, Buffer.from(p.signature, 'base64'));
  } catch {
    return false;
  }
}
