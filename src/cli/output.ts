/** CLI output: tables for people, JSON for scripts, errors on stderr. The only place that writes to the console. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => fmt(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

export interface Column {
  /** The row's field. */
  key: string;
  header: string;
  /** Shrinkable columns give up width (their text cut with …) down to `min` until the table fits. */
  min?: number;
}

/** Width a table is fitted to: the terminal's when there is one, else 100 columns. */
export function terminalWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 100;
}

/**
 * A table no wider than `width` (null: as wide as its content): the widest shrinkable column gives up one
 * character at a time, so a long name or lifecycleDetails is cut before anything else is.
 */
export function fitTable(rows: Record<string, unknown>[], columns: Column[], width: number | null): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => fmt(r[c.key])));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1);
  while (width !== null && total() > width) {
    let widest = -1;
    columns.forEach((c, i) => {
      if (c.min !== undefined && widths[i] > Math.max(c.min, c.header.length) && (widest < 0 || widths[i] > widths[widest])) widest = i;
    });
    if (widest < 0) break;
    widths[widest]--;
  }
  const cut = (v: string, w: number) => (v.length > w ? v.slice(0, w - 1) + '…' : v);
  const line = (vals: string[]) => vals.map((v, i) => cut(v, widths[i]).padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** The end of an OCID, enough to tell resources apart and to type back (the CLI takes a unique suffix). */
export function shortId(id: string | undefined | null): string | undefined {
  if (!id) return undefined;
  return id.length > 8 ? `…${id.slice(-8)}` : id;
}

/** 2026-12-06T12:33:04.306Z as 12-06 12:33:04 (UTC), for tables. */
export function shortTime(iso: string | undefined | null): string | undefined {
  if (!iso) return undefined;
  const m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Key: value lines for one resource. Nested objects and lists are spelled out below their key, indented, one field
 * or item a line; absent, null and empty fields are left out (--json shows the resource as it is).
 */
export function details(obj: Record<string, unknown>): string {
  return detailLines(obj, '').join('\n');
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.values(v).every(isEmpty));
}

function detailLines(obj: Record<string, unknown>, indent: string): string[] {
  const entries = Object.entries(obj).filter(([, v]) => !isEmpty(v));
  const scalars = entries.filter(([, v]) => typeof v !== 'object' || v === null);
  const width = Math.max(0, ...scalars.map(([k]) => k.length));
  const out: string[] = [];
  for (const [k, v] of entries) {
    if (Array.isArray(v)) {
      out.push(`${indent}${k}`);
      for (const item of v) {
        if (isPlainObject(item)) {
          const inner = detailLines(item, `${indent}    `);
          if (inner.length) out.push(`${indent}  - ${inner[0].trimStart()}`, ...inner.slice(1));
        } else out.push(`${indent}  - ${fmt(item)}`);
      }
    } else if (isPlainObject(v)) {
      out.push(`${indent}${k}`, ...detailLines(v, `${indent}  `));
    } else out.push(`${indent}${k.padEnd(width)}  ${fmt(v)}`);
  }
  return out;
}

export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
export const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');
