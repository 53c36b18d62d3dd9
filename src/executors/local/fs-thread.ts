import { promises as fsp } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * Small file-system operations run as one batch on a thread of their own. A run's cgroups are made with ~4 mkdirs and
 * ~5 limit writes and removed with ~5 more calls; each through libuv's thread pool cost 40-80 us of CPU in wake-ups
 * and hand-overs on top of the call itself (mkdir + two writes + rmdir of a cgroup: 50-62 us of CPU synchronously,
 * 206-421 us through the pool, measured here), ~1 ms per run. Synchronous on the event loop they are cheap but a
 * cgroup mkdir or rmdir waits for the kernel's cgroup lock (up to 10.8 ms seen). One round trip to this thread per
 * batch keeps them off the event loop for about the price of one.
 */
export type FsOp =
  /** `exists`: a directory already there counts as made. */
  | { op: 'mkdir'; path: string; exists?: boolean }
  | { op: 'write'; path: string; data: string; flag?: string }
  | { op: 'rmdir'; path: string };

export interface FsOpResult {
  ok: boolean;
  /** The error's code and message, when it failed (as the synchronous call would have thrown them). */
  code?: string;
  message?: string;
}

/** The thread's code, inline (eval) so that it runs the same from dist/ and under tsx. */
const THREAD_CODE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', ({ id, ops, keepGoing }) => {
  const results = [];
  for (const o of ops) {
    try {
      if (o.op === 'mkdir') {
        try { fs.mkdirSync(o.path); } catch (e) { if (!(o.exists && e.code === 'EEXIST')) throw e; }
      } else if (o.op === 'write') fs.writeFileSync(o.path, o.data, o.flag ? { flag: o.flag } : undefined);
      else if (o.op === 'rmdir') fs.rmdirSync(o.path);
      results.push({ ok: true });
    } catch (e) {
      results.push({ ok: false, code: e.code, message: e.message });
      if (!keepGoing) break;
    }
  }
  parentPort.postMessage({ id, results });
});
`;

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, { ops: FsOp[]; keepGoing: boolean; resolve: (r: FsOpResult[]) => void }>();

function thread(): Worker | null {
  if (worker) return worker;
  try {
    // No execArgv: the code needs no loader (under tsx, its hooks would be set up in the thread too).
    const w = new Worker(THREAD_CODE, { eval: true, execArgv: [] });
    w.on('message', ({ id, results }: { id: number; results: FsOpResult[] }) => {
      pending.get(id)?.resolve(results);
      pending.delete(id);
      if (pending.size === 0) w.unref();
    });
    const lost = () => {
      if (worker !== w) return;
      worker = null;
      // What it still owed is done here instead (a fresh thread is started for the next batch).
      for (const p of pending.values()) void inPool(p.ops, p.keepGoing).then(p.resolve);
      pending.clear();
    };
    w.on('error', lost);
    w.on('exit', lost);
    // Holds the process open only while a batch is under way (after the listeners: adding one refs the thread).
    w.unref();
    worker = w;
    return w;
  } catch {
    return null;
  }
}

/** The same through libuv's thread pool, one call at a time: where no thread can be started. */
async function inPool(ops: FsOp[], keepGoing: boolean): Promise<FsOpResult[]> {
  const results: FsOpResult[] = [];
  for (const o of ops) {
    try {
      if (o.op === 'mkdir') await fsp.mkdir(o.path).catch((e: NodeJS.ErrnoException) => { if (!(o.exists && e.code === 'EEXIST')) throw e; });
      else if (o.op === 'write') await fsp.writeFile(o.path, o.data, o.flag ? { flag: o.flag } : undefined);
      else await fsp.rmdir(o.path);
      results.push({ ok: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      results.push({ ok: false, code: err.code, message: err.message });
      if (!keepGoing) break;
    }
  }
  return results;
}

/**
 * Runs `ops` in order and resolves with a result for each one tried: it stops at the first failure unless
 * `keepGoing`, so fewer results than operations means the last one failed and the rest were not tried.
 */
export function fsBatch(ops: FsOp[], opts: { keepGoing?: boolean } = {}): Promise<FsOpResult[]> {
  const keepGoing = opts.keepGoing ?? false;
  const w = thread();
  if (!w) return inPool(ops, keepGoing);
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, { ops, keepGoing, resolve });
    w.ref();
    w.postMessage({ id, ops, keepGoing });
  });
}

/** The error a failed operation threw, as an Error with its code. */
export function fsError(r: FsOpResult): NodeJS.ErrnoException {
  return Object.assign(new Error(r.message ?? 'file system operation failed'), { code: r.code });
}
