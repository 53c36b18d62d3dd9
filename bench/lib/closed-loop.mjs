/**
 * The closed loop both of benchmark 1's baselines drive: `one()` with `concurrency` in flight, each worker starting
 * the next as its last ends, until `total` have started or `maxSeconds` have passed. Plain JavaScript with no imports,
 * so the baselines that load it stay as small as they must be (see spawn-baseline.mjs).
 */
export async function closedLoop(one, total, concurrency, maxSeconds) {
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + maxSeconds * 1000;
  const worker = async () => {
    while (started < total && performance.now() < deadline) {
      started++;
      await one();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { started, done, seconds: (performance.now() - t0) / 1000 };
}
