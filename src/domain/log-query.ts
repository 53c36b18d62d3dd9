import { invalid } from './errors.js';

/** What a search may be scoped to: one log, or every log of a group. */
export interface LogScope {
  compartmentId: string;
  logGroupId: string;
  logId?: string;
}

/** A `field = 'value'` condition; `*` in the value matches any characters. */
export interface LogCondition {
  field: 'source' | 'subject' | 'type';
  value: string;
}

export interface LogQuery {
  scopes: LogScope[];
  where: LogCondition[];
  order: 'asc' | 'desc';
}

export const SUPPORTED_QUERIES =
  `search "<compartmentId>/<logGroupId>/<logId>" (or "<compartmentId>/<logGroupId>"; several scopes separated by commas), ` +
  `then optionally | where <source|subject|type> = '<value>' (a * in the value matches any characters; conditions joined with and), ` +
  `then optionally | sort by datetime asc|desc (default desc)`;

const unsupported = (why: string) => invalid('searchQuery', `${why}; the queries supported are: ${SUPPORTED_QUERIES}`);

/**
 * Parses the subset of OCI Logging's query language that this server answers (the queries ADS sends to read a job
 * run's log: `search "<c>/<g>/<l>" | where source = '*<jobRunOcid>' | sort by datetime desc`). Keywords are case
 * insensitive, as in OCI. Anything else is refused with what is supported.
 */
export function parseLogQuery(text: string): LogQuery {
  const stages = splitStages(text.trim());
  const head = stages.shift()!;
  const m = /^search\s+(.+)$/is.exec(head);
  if (!m) throw unsupported('a query starts with search "<scope>"');
  const scopes = m[1].split(',').map((part) => {
    const q = /^\s*"([^"]*)"\s*$/.exec(part);
    if (!q) throw unsupported(`${JSON.stringify(part.trim().slice(0, 80))} is not a quoted scope`);
    const ids = q[1].split('/');
    if (ids.length < 2 || ids.length > 3 || ids.some((x) => x === '')) {
      throw unsupported(`scope "${q[1].slice(0, 200)}" is not "<compartmentId>/<logGroupId>" or "<compartmentId>/<logGroupId>/<logId>"`);
    }
    return { compartmentId: ids[0], logGroupId: ids[1], ...(ids[2] ? { logId: ids[2] } : {}) };
  });
  const where: LogCondition[] = [];
  let order: 'asc' | 'desc' = 'desc';
  let sorted = false;
  for (const stage of stages) {
    const w = /^where\s+(.+)$/is.exec(stage);
    if (w && !sorted) {
      for (const cond of w[1].split(/\s+and\s+/i)) {
        const c = /^\s*(source|subject|type)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$/i.exec(cond);
        if (!c) throw unsupported(`condition ${JSON.stringify(cond.trim().slice(0, 120))} is not supported`);
        where.push({ field: c[1].toLowerCase() as LogCondition['field'], value: c[2].replace(/\\(.)/g, '$1') });
      }
      continue;
    }
    const s = /^sort\s+by\s+datetime(?:\s+(asc|desc))?\s*$/i.exec(stage);
    if (s && !sorted) {
      order = (s[1]?.toLowerCase() as 'asc' | 'desc' | undefined) ?? 'desc';
      sorted = true;
      continue;
    }
    throw unsupported(`stage ${JSON.stringify(stage.slice(0, 120))} is not supported`);
  }
  return { scopes, where, order };
}

/** Splits on | outside quotes. */
function splitStages(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      cur += ch;
      if (ch === '\\' && i + 1 < text.length) cur += text[++i];
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === '|') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (quote) throw unsupported('a quote is not closed');
  out.push(cur.trim());
  if (out.some((s) => s === '')) throw unsupported('a stage between | is empty');
  return out;
}

/** Whether `value` matches a condition's pattern (`*` matches any characters, everything else literally). */
export function matchesPattern(pattern: string, value: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return re.test(value);
}
