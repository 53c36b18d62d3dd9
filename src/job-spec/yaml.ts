import { Scalar, parse as parseYaml, type ScalarTag, type Tags } from 'yaml';
import { JobSpecError, type Obj, asObj, isObj } from './plumbing.js';
import { PyFloat } from './py-float.js';

// PyYAML (what ADS uses) resolves YAML 1.1 scalars, but not exactly as the `yaml` package's 1.1 schema does:
// only yes/no/true/false/on/off are booleans (not y/n), decimal ints have no leading zero (`08` is a string),
// floats need a dot and a signed exponent (`1e3` is a string), and timestamps are left as strings here
// because ADS would str() them back anyway. Floats come back as PyFloat so that env values and args can be
// printed the way Python prints them (`1.0`, not `1`); see loadAdsYaml.
export const PY_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
export const PY_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
export const PY_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;
export const PY_FLOAT_EXP = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+][0-9]+$/;


export function pyYamlTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const t of tags) {
    if (typeof t !== 'object') {
      out.push(t);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:bool' || t.tag === 'tag:yaml.org,2002:timestamp') continue;
    const scalar = t as ScalarTag;
    if (scalar.tag === 'tag:yaml.org,2002:int' && scalar.format === undefined && scalar.test?.source === '^[-+]?[0-9][0-9_]*$') {
      out.push({ ...scalar, test: PY_INT });
      continue;
    }
    if (scalar.tag === 'tag:yaml.org,2002:float') {
      const resolve = scalar.resolve;
      out.push({
        ...scalar,
        test: scalar.format === 'EXP' ? PY_FLOAT_EXP : scalar.test,
        resolve: (...args: Parameters<ScalarTag['resolve']>) => {
          const r = resolve(...args);
          return new PyFloat(Number(r instanceof Scalar ? r.value : r));
        },
      });
      continue;
    }
    out.push(t);
  }
  const boolTag = (value: boolean, test: RegExp): ScalarTag => ({
    identify: (v) => v === value,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test,
    resolve: () => value,
    stringify: () => String(value),
  });
  out.push(boolTag(true, PY_TRUE), boolTag(false, PY_FALSE));
  return out;
}

export function loadYaml(text: string, pyyaml: boolean): unknown {
  try {
    return pyyaml ? parseYaml(text, { version: '1.1', customTags: pyYamlTags }) : parseYaml(text);
  } catch (err) {
    throw new JobSpecError(`invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Reads an ADS document with PyYAML's scalar rules. Floats stay PyFloat only inside the runtime's `env` and
 * `args`, which ADS turns into strings with Python's rules; everywhere else they are plain numbers.
 */
export function loadAdsYaml(text: string, kind: 'job' | 'runtime'): Obj {
  const doc = asObj(loadYaml(text, true), '');
  const norm = (k: string) => k.replace(/_/g, '').toLowerCase();
  const pick = (o: unknown, key: string): unknown =>
    isObj(o) ? Object.entries(o).find(([k]) => norm(k) === norm(key))?.[1] : undefined;
  const runtimeSpec = kind === 'runtime' ? pick(doc, 'spec') : pick(pick(pick(doc, 'spec'), 'runtime'), 'spec');
  const keep = new Set<unknown>([pick(runtimeSpec, 'env'), pick(runtimeSpec, 'args')].filter((v) => v !== null && typeof v === 'object'));
  const unwrap = (v: unknown): unknown => {
    if (v instanceof PyFloat) return v.value;
    if (keep.has(v)) return v;
    if (Array.isArray(v)) return v.map(unwrap);
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
    return v;
  };
  return unwrap(doc) as Obj;
}
