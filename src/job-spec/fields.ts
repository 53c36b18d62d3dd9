import { envNameProblem } from '../domain/env-policy.js';
import { isOcid } from '../domain/ocid.js';
import { JobSpecError, parseDuration, Ctx, type Obj, asObj, describe, fail, join } from './plumbing.js';

/** Keys of one mapping, matched against the known ones. */
export class Fields {
  private constructor(
    readonly at: string,
    private readonly found: Map<string, { key: string; value: unknown }>,
  ) {}

  /**
   * ADS mode: keys match case-insensitively and ignoring `_` (ADS accepts snake_case aliases and `outputURI`);
   * unknown keys become warnings.
   */
  static ads(obj: Obj, at: string, known: readonly string[], ctx: Ctx, silent: readonly string[] = []): Fields {
    const norm = (k: string) => k.replace(/_/g, '').toLowerCase();
    const byNorm = new Map(known.map((k) => [norm(k), k]));
    const found = new Map<string, { key: string; value: unknown }>();
    for (const [key, value] of Object.entries(obj)) {
      const canon = byNorm.get(norm(key));
      if (!canon) {
        if (!silent.includes(key)) ctx.warnings.push(`${join(at, key)}: unknown key, ignored`);
        continue;
      }
      const prev = found.get(canon);
      if (prev) {
        ctx.warnings.push(`${join(at, key)}: same key as ${join(at, prev.key)}, ignored`);
        continue;
      }
      found.set(canon, { key, value });
    }
    return new Fields(at, found);
  }

  /** Native mode: exact keys; an unknown key is an error. */
  static strict(obj: Obj, at: string, known: readonly string[]): Fields {
    const found = new Map<string, { key: string; value: unknown }>();
    for (const [key, value] of Object.entries(obj)) {
      if (!known.includes(key)) {
        const hint = suggest(key, known);
        fail(join(at, key), `unknown key${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${known.join(', ')}`);
      }
      found.set(key, { key, value });
    }
    return new Fields(at, found);
  }

  /** The value, with null treated as absent. */
  get(canon: string): unknown {
    const v = this.found.get(canon)?.value;
    return v === null ? undefined : v;
  }

  has(canon: string): boolean {
    return this.get(canon) !== undefined;
  }

  /** Field path for messages, spelled as the spec spells the key. */
  path(canon: string): string {
    return join(this.at, this.found.get(canon)?.key ?? canon);
  }
}

export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(k.toLowerCase(), key.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  return bestDist <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

export function str(v: unknown, field: string, opts: { allowEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') fail(field, `expected a string, got ${describe(v)}`);
  if (!opts.allowEmpty && v.trim() === '') fail(field, 'must not be empty');
  return v;
}

/** A number; with `lenient`, numeric strings too (the OCI CLI sample sends blockStorageSizeInGBs as "100"). */
export function num(v: unknown, field: string, opts: { integer?: boolean; lenient?: boolean } = {}): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (opts.lenient && typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v)) n = Number(v);
  else fail(field, `expected a ${opts.integer ? 'whole number' : 'number'}, got ${describe(v)}`);
  if (!Number.isFinite(n) || n <= 0) fail(field, `must be greater than zero, got ${n}`);
  if (opts.integer && !Number.isInteger(n)) fail(field, `expected a whole number, got ${n}`);
  return n;
}

export function duration(v: unknown, field: string): number {
  if (typeof v !== 'number' && typeof v !== 'string') fail(field, `expected minutes or a duration like 30m, got ${describe(v)}`);
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof JobSpecError) fail(field, err.message);
    throw err;
  }
}

// `<compartment_ocid>`, `ocid1.log.oc1.iad.<unique_id>`, `{{ compartment_id }}` (Jinja), and the
// `'{Provide a compartment OCID}'` strings `ads opctl init` writes.
export function isPlaceholder(s: string): boolean {
  const t = s.trim();
  return /<[^<>]*>/.test(t) || /\{\{.*\}\}/.test(t) || /^\{[^{}]*\}$/.test(t);
}

export function ocidField(v: unknown, field: string, ctx: Ctx): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') fail(field, `expected an OCID, got ${describe(v)}`);
  if (isPlaceholder(v)) {
    ctx.ignored.push(`${field} ('${v}' is a template placeholder; the CLI's default is used)`);
    return undefined;
  }
  if (!isOcid(v)) fail(field, `'${v}' is not an OCID (expected ocid1.<type>.<realm>.<region>.<id>)`);
  return v;
}

/** The server's rule for variable names (src/domain/env-policy.ts), so a spec fails here, naming its field. */
export function envName(v: unknown, field: string): string {
  if (typeof v !== 'string') fail(field, `expected a variable name, got ${describe(v)} (quote it in the YAML)`);
  const problem = envNameProblem(v);
  if (problem) fail(field, `'${v}' is not a valid environment variable name: ${problem}`);
  return v;
}

export function tagsField(v: unknown, field: string): Record<string, string> {
  const obj = asObj(v, field);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else if (val === null) out[k] = '';
    else fail(join(field, k), `tag values must be strings, got ${describe(val)}`);
  }
  return out;
}

export function definedTagsField(v: unknown, field: string): Record<string, Record<string, unknown>> {
  const obj = asObj(v, field);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ns, keys] of Object.entries(obj)) {
    out[ns] = { ...asObj(keys, join(field, ns)) };
  }
  return out;
}
