/**
 * Benchmark 1's baseline, run as its own `node` process with nothing else loaded: Node spawning and reaping
 * `sh -c true` with `concurrency` in flight, `total` times (bounded by `maxSeconds`). Prints one JSON line.
 *
 * Plain JavaScript on purpose (no tsx, no module but the import-free closed-loop.mjs): spawn() forks the calling process, and its cost grows with
 * that process's memory. Measured inside the benchmark process (~180 MB resident with every benchmark's modules
 * loaded) the same loop ran at about half this rate, which would have made the baseline easier to beat than what
 * "Node itself" does.
 *
 * usage: node spawn-baseline.mjs TOTAL CONCURRENCY MAX_SECONDS
 */
import { spawn } from 'node:child_process';
import { closedLoop } from './closed-loop.mjs';

export async function spawnLoop(total, concurrency, maxSeconds) {
  let inSpawn = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      const c = spawn('sh', ['-c', 'true'], { stdio: 'ignore' });
      inSpawn += performance.now() - t;
      c.once('error', reject);
      c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sh -c true exited ${code}`))));
    });
  const { started, done, seconds } = await closedLoop(one, total, concurrency, maxSeconds);
  // spawn() is synchronous (fork + wait for exec): the time the event loop spends blocked in it.
  return { rate: done / seconds, n: done, seconds, spawnCallMs: inSpawn / Math.max(1, started), rssMb: process.memoryUsage().rss / 1024 ** 2 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [total, concurrency, maxSeconds] = process.argv.slice(2).map(Number);
  if (![total, concurrency, maxSeconds].every((n) => Number.isFinite(n) && n > 0)) {
    console.error('usage: node spawn-baseline.mjs TOTAL CONCURRENCY MAX_SECONDS');
    process.exit(2);
  }
  console.log(JSON.stringify(await spawnLoop(total, concurrency, maxSeconds)));
}
