// Reads a tar or tar.gz archive's entries one at a time through tar's Parser, with back-pressure and the meter's
// check on the decompressed stream.

import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import type { Meter } from './limits.js';
import { ArchiveError, corrupt, entryMsg } from './messages.js';
import type { RawEntry } from './types.js';
import { KiB } from './units.js';

async function startsWithGzipMagic(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function tarEntryToRaw(e: ReadEntry, data: () => AsyncIterable<Buffer>): RawEntry {
  const name = e.path;
  switch (e.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return {
        kind: 'file',
        name,
        size: e.size,
        mode: e.mode ?? 0o644,
        data,
      };
    case 'Directory':
      return { kind: 'directory', name };
    case 'SymbolicLink':
      return { kind: 'symlink', name, target: e.linkpath ?? '' };
    case 'Link':
      return { kind: 'hardlink', name, target: e.linkpath ?? '' };
    case 'CharacterDevice':
      throw entryMsg(name, 'is a character device, which is not allowed');
    case 'BlockDevice':
      throw entryMsg(name, 'is a block device, which is not allowed');
    case 'FIFO':
      throw entryMsg(name, 'is a FIFO, which is not allowed');
    default:
      throw entryMsg(name, `has an unsupported type (${e.type}), which is not allowed`);
  }
}

/**
 * Streams a tar (optionally gzip-compressed; detected by magic bytes) through
 * tar's Parser, yielding one entry at a time. The consumer must finish with an
 * entry (its data is drained afterwards if it did not read it) before the next
 * one is parsed; input is fed with back-pressure.
 */
export async function* readTar(file: string, kind: 'tar' | 'tar.gz', meter: Meter): AsyncGenerator<RawEntry> {
  const gz = await startsWithGzipMagic(file);
  const rs = createReadStream(file);
  const source: Readable = gz ? pipeline(rs, zlib.createGunzip({ chunkSize: 64 * KiB }), () => undefined) : rs;
  // strict: every parser warning (bad checksum, truncation, ...) is an error.
  // We decompress ourselves; keep the parser from sniffing zstd/brotli.
  const parser = new Parser({ strict: true, brotli: false, zstd: false });

  type Item = { t: 'entry'; e: ReadEntry } | { t: 'done' };
  const queue: Item[] = [];
  let wake: (() => void) | null = null;
  let drainWaiter: (() => void) | null = null;
  let failure: Error | null = null;
  let stopped = false;
  // Pending waits that must end when the archive fails.
  const waiters = new Set<(err: Error) => void>();
  const untilFailure = <T>(p: Promise<T>): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      waiters.add(reject);
      p.then(
        (v) => {
          waiters.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          waiters.delete(reject);
          reject(err);
        },
      );
    });
  };

  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    source.destroy();
    rs.destroy();
    const d = drainWaiter;
    drainWaiter = null;
    d?.();
  };
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    stop();
    for (const w of waiters) w(err);
    waiters.clear();
    poke();
  };

  parser.on('entry', (e: ReadEntry) => {
    if (stopped) {
      e.resume();
      return;
    }
    queue.push({ t: 'entry', e });
    poke();
  });
  parser.on('ignoredEntry', (e: ReadEntry) => {
    fail(entryMsg(e.path, `has an unsupported type (${e.type}), which is not allowed`));
  });
  parser.on('error', (err: Error) => fail(corrupt(kind, err)));
  parser.on('eof', () => {
    // End-of-archive marker: ignore whatever follows it.
    queue.push({ t: 'done' });
    stop();
    poke();
  });
  parser.on('end', () => {
    queue.push({ t: 'done' });
    poke();
  });
  parser.on('drain', () => {
    const d = drainWaiter;
    drainWaiter = null;
    d?.();
  });

  const pump = async () => {
    let first = true;
    let streamBytes = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (stopped) return;
      if (first && gz && chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
        throw new ArchiveError(`archive is not a valid ${kind} file: it is compressed more than once`);
      }
      first = false;
      streamBytes += chunk.length;
      meter.checkStream(streamBytes);
      if (!parser.write(chunk) && !stopped) {
        await new Promise<void>((resolve) => {
          drainWaiter = resolve;
        });
      }
      if (stopped) return;
    }
    if (!stopped) parser.end();
  };
  pump().catch((err: unknown) => {
    if (!stopped) fail(corrupt(kind, err));
  });

  const nextItem = async (): Promise<Item> => {
    for (;;) {
      if (failure) throw failure;
      const item = queue.shift();
      if (item) return item;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  // An entry's data, which stops with the failure if the archive turns out
  // to be broken (or a limit trips) while the entry is being read.
  async function* entryData(e: ReadEntry): AsyncGenerator<Buffer> {
    const it = (e as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (failure) throw failure;
        const r = await untilFailure(it.next());
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }

  const drainEntry = async (e: ReadEntry) => {
    if (e.emittedEnd) return;
    const ended = new Promise<void>((resolve, reject) => {
      e.once('end', () => resolve());
      e.once('error', (err: Error) => reject(err));
    });
    e.resume();
    await untilFailure(ended);
  };

  try {
    for (;;) {
      const item = await nextItem();
      if (item.t === 'done') {
        if (failure) throw failure;
        return;
      }
      const e = item.e;
      yield tarEntryToRaw(e, () => entryData(e));
      if (failure) throw failure;
      await drainEntry(e);
    }
  } finally {
    stop();
  }
}
