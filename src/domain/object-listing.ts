/** ListObjects' query: OCI's prefix, start (inclusive), end (exclusive), delimiter ("/" only) and limit. */
export interface ListObjectsQuery {
  prefix?: string;
  start?: string;
  end?: string;
  delimiter?: string;
  limit: number;
}

export interface Listing<T = { name: string }> {
  objects: T[];
  prefixes: string[];
  /** Where the next page starts (its `start`); absent on the last page. */
  nextStartWith?: string;
}

/** Rows are read in batches of this many; a page of 1,000 names rolled up under few prefixes reads few batches. */
const BATCH = 1000;

/**
 * The least string greater than every string that starts with `p` (p ends with the one-character delimiter): its
 * last character moved up by one. Listing continues there after a rolled-up prefix, so the objects under it are
 * skipped by the index instead of read.
 */
export const afterPrefix = (p: string): string => p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);

/**
 * One page of ListObjects, as OCI answers it: names in bytewise order; with a delimiter, names with the delimiter
 * after the prefix are rolled up into `prefixes` (each once per listing), and objects and prefixes together count
 * toward `limit`. `scan` reads objects by name (from, inclusive; below, exclusive; prefix).
 */
export async function nextListing<T extends { name: string }>(
  q: ListObjectsQuery,
  scan: (o: { from?: string; below?: string; prefix?: string; limit: number }) => Promise<T[]>,
): Promise<Listing<T>> {
  const prefix = q.prefix ?? '';
  const objects: T[] = [];
  const prefixes: string[] = [];
  let from = q.start !== undefined && q.start > prefix ? q.start : prefix || q.start;
  for (;;) {
    const rows = await scan({ from, below: q.end, prefix, limit: BATCH });
    if (rows.length === 0) return { objects, prefixes };
    let jumped = false;
    for (const row of rows) {
      if (objects.length + prefixes.length >= q.limit) return { objects, prefixes, nextStartWith: row.name };
      const cut = q.delimiter ? row.name.indexOf(q.delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const p = row.name.slice(0, cut + q.delimiter!.length);
        prefixes.push(p);
        from = afterPrefix(p);
        jumped = true;
        break;
      }
      objects.push(row);
    }
    if (!jumped) {
      if (rows.length < BATCH) return { objects, prefixes };
      from = rows[rows.length - 1].name + '\0';
    }
  }
}
