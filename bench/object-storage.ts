/**
 * Benchmark 11: Object Storage through the official oci-objectstorage SDK (signed requests, authentication on):
 * put and get throughput of 1 MB and 100 MB objects beside `cp` of the same bytes on the same disk in the same run,
 * and 1 KB puts per second with 16 clients.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as common from 'oci-common';
import { ObjectStorageClient } from 'oci-objectstorage';
import { BenchServer } from './lib/server.js';
import { fmt, type Report } from './lib/report.js';

const MB = 1024 * 1024;

function client(s: BenchServer): ObjectStorageClient {
  const c = new ObjectStorageClient(
    { authenticationDetailsProvider: new common.ConfigFileAuthenticationDetailsProvider(path.join(s.dataDir, 'oci', 'config'), 'DEFAULT') },
    {
      retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1), backupBinaryBody: false },
      circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
    } as never,
  );
  c.endpoint = s.url;
  return c;
}

/** Seconds for `fn` run `times` times in a row (the best of the runs is not taken: the mean is reported). */
async function timed(times: number, fn: (i: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < times; i++) await fn(i);
  return (performance.now() - t0) / 1000;
}

export async function benchObjectStorage(report: Report, o: { quick: boolean; nodeArgs?: string[] }): Promise<void> {
  const s = await BenchServer.start({ env: { DSJOBS_AUTHENTICATION: 'on' }, nodeArgs: o.nodeArgs });
  // The files cp copies and the SDK uploads, on the disk the server's data dir is on.
  const work = mkdtempSync(path.join(path.dirname(s.dataDir), 'dsjobs-bench-os-'));
  try {
    const os = client(s);
    const ns = (await os.getNamespace({})).value;
    await os.createBucket({ namespaceName: ns, createBucketDetails: { name: 'bench', compartmentId: s.compartmentId } });

    for (const [sizeMb, times] of [
      [1, o.quick ? 20 : 100],
      [100, o.quick ? 2 : 5],
    ] as const) {
      const src = path.join(work, `src-${sizeMb}`);
      writeFileSync(src, randomBytes(sizeMb * MB));
      const bytes = statSync(src).size * times;
      // cp: the same bytes, file to file, same disk, same number of times (a fresh destination each time).
      const cpSecs = await timed(times, async (i) => void execFileSync('cp', [src, path.join(work, `cp-${sizeMb}-${i}`)]));
      const putSecs = await timed(times, async (i) => {
        await os.putObject({ namespaceName: ns, bucketName: 'bench', objectName: `o-${sizeMb}-${i}`, putObjectBody: createReadStream(src, { highWaterMark: MB }), contentLength: sizeMb * MB });
      });
      const getSecs = await timed(times, async (i) => {
        const r = await os.getObject({ namespaceName: ns, bucketName: 'bench', objectName: `o-${sizeMb}-${i}` });
        await pipeline(r.value as Readable, createWriteStream(path.join(work, `get-${sizeMb}-${i}`)));
      });
      const rate = (secs: number) => bytes / MB / secs;
      const cpRate = rate(cpSecs);
      for (const [what, secs] of [
        ['put', putSecs],
        ['get', getSecs],
      ] as const) {
        const ratio = rate(secs) / cpRate;
        report.add({
          figure: `14. object ${what} ${sizeMb} MB (SDK, ${times}x)`,
          value: `${fmt(rate(secs))} MB/s`,
          baseline: `cp ${fmt(cpRate)} MB/s`,
          target: `${fmt(ratio * 100, 0)}% of cp${sizeMb === 100 ? ' (target >= 50%)' : ''}`,
          pass: sizeMb === 100 ? ratio >= 0.5 : null,
        });
      }
      for (let i = 0; i < times; i++) for (const p of [`cp-${sizeMb}-${i}`, `get-${sizeMb}-${i}`]) rmSync(path.join(work, p), { force: true });
    }

    // 1 KB puts with 16 clients at once, each its own SDK client (own connections), for a fixed time.
    const clients = Array.from({ length: 16 }, () => client(s));
    const body = randomBytes(1024);
    const seconds = o.quick ? 3 : 10;
    let n = 0;
    // Warm-up: connections opened and the server's paths compiled before the clock starts.
    await Promise.all(clients.map((c, k) => c.putObject({ namespaceName: ns, bucketName: 'bench', objectName: `warm-${k}`, putObjectBody: body, contentLength: 1024 })));
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; performance.now() < until; i++) {
          await c.putObject({ namespaceName: ns, bucketName: 'bench', objectName: `small/${k}/${i}`, putObjectBody: body, contentLength: 1024 });
          n++;
        }
      }),
    );
    const perSec = n / ((performance.now() - t0) / 1000);
    report.add({ figure: '11. 1 KB puts/s, 16 clients (SDK)', value: `${fmt(perSec, 0)}/s`, baseline: '-', target: 'target >= 500/s', pass: perSec >= 500 });
    for (const c of [os, ...clients]) c.close();
  } finally {
    rmSync(work, { recursive: true, force: true });
    await s.stop();
  }
}
