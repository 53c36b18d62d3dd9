/**
 * Counting the synchronous node:fs calls a piece of server code makes: what tells that it keeps its file-system work
 * off the event loop (a synchronous call blocks every request while the kernel works).
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** Runs `f` with node:fs's synchronous calls counted by name (the modules' named imports see the wrappers too). */
export async function countingSyncCalls<T>(f: () => Promise<T>): Promise<{ value: T; calls: string[] }> {
  const calls: string[] = [];
  const mod = fs as unknown as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  for (const k of Object.keys(mod)) {
    const orig = mod[k];
    if (!k.endsWith('Sync') || typeof orig !== 'function') continue;
    originals.set(k, orig);
    mod[k] = function (this: unknown, ...a: unknown[]) {
      calls.push(k);
      return (orig as (...x: unknown[]) => unknown).apply(this, a);
    };
  }
  syncBuiltinESMExports();
  try {
    return { value: await f(), calls };
  } finally {
    for (const [k, orig] of originals) mod[k] = orig;
    syncBuiltinESMExports();
  }
}
