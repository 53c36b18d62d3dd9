import { DurationError, parseDuration } from '../domain/duration.js';

export class UsageError extends Error {}

/** K=V pairs from repeated --env flags. */
export function parseEnvPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--env ${p}: expected NAME=VALUE`);
    env[p.slice(0, i)] = p.slice(i + 1);
  }
  return env;
}

/** --max-runtime 90 | 30m | 2h | 45s | 1h30m: whole minutes, rounded up, read as a YAML spec's runtime is. */
export function parseMaxRuntime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDuration(v);
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(`--max-runtime ${v}: ${e.message}`);
    throw e;
  }
}

export function parseNumber(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} ${v}: expected a number`);
  return n;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];
