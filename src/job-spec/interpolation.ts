import { fail, isObj } from './plumbing.js';
import { PyFloat } from './py-float.js';

// Python's configparser.MAX_INTERPOLATION_DEPTH.
export const MAX_INTERPOLATION_DEPTH = 10;

/**
 * ADS's EnvVarInterpolation (ExtendedInterpolation with errors ignored): `$$` is `$`, `${NAME}` and
 * `${envs:NAME}` are other entries (recursively), an undefined reference is left as written together with
 * everything after it (ADS appends the raw rest and stops), and any other `$` is literal.
 */
export function interpolateAdsEnv(name: string, raw: Map<string, string>, field: string): string {
  const accum: string[] = [];
  const walk = (rest: string, depth: number) => {
    if (depth > MAX_INTERPOLATION_DEPTH) fail(field, `references nest more than ${MAX_INTERPOLATION_DEPTH} deep (is a variable referring to itself?)`);
    while (rest) {
      const p = rest.indexOf('$');
      if (p < 0) {
        accum.push(rest);
        return;
      }
      if (p > 0) {
        accum.push(rest.slice(0, p));
        rest = rest.slice(p);
      }
      const c = rest.slice(1, 2);
      if (c === '$') {
        accum.push('$');
        rest = rest.slice(2);
      } else if (c === '{') {
        const m = /^\$\{([^}]+)\}/.exec(rest);
        if (!m) fail(field, `bad variable reference '${rest}' (write $$ for a literal $)`);
        const parts = m[1].split(':');
        let v: string | undefined;
        if (parts.length === 1) v = raw.get(parts[0]);
        else if (parts.length === 2) v = parts[0] === 'envs' ? raw.get(parts[1]) : undefined;
        else fail(field, `bad variable reference '${m[0]}': more than one ':'`);
        if (v === undefined) {
          accum.push(rest);
          return;
        }
        rest = rest.slice(m[0].length);
        if (v.includes('$')) walk(v, depth + 1);
        else accum.push(v);
      } else {
        accum.push('$');
        rest = rest.slice(1);
      }
    }
  };
  walk(raw.get(name) ?? '', 1);
  return accum.join('');
}

/** Python's string.Template(s).safe_substitute(vars). */
export function templateSafeSubstitute(s: string, vars: Record<string, string>): string {
  return s.replace(/\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\})/g, (m, esc, named, braced) => {
    if (esc) return '$';
    const k = (named ?? braced) as string;
    return Object.prototype.hasOwnProperty.call(vars, k) ? vars[k] : m;
  });
}

/** Python json.dumps with its defaults: ", " and ": " separators, ensure_ascii. */
export function pyJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) {
    if (Number.isNaN(v.value)) return 'NaN';
    if (!Number.isFinite(v.value)) return v.value > 0 ? 'Infinity' : '-Infinity';
    return v.toString();
  }
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(v) ? String(v) : new PyFloat(v).toString();
  }
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return '[' + v.map(pyJsonDumps).join(', ') + ']';
  if (v instanceof Set) return pyJsonDumps([...v]);
  if (v instanceof Map) return pyJsonDumps(Object.fromEntries(v));
  if (isObj(v)) return '{' + Object.entries(v).map(([k, x]) => `${pyJsonString(k)}: ${pyJsonDumps(x)}`).join(', ') + '}';
  return pyJsonString(String(v));
}

export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const code = s.charCodeAt(i);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += c;
  }
  return out + '"';
}
