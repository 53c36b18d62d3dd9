import type { Kysely, SelectQueryBuilder } from 'kysely';
import { invalid } from '../domain/errors.js';
import type { ListQuery, Page } from './records.js';

/** An opaque page token (opc-next-page), base64url JSON: the sort value and id of the last row given. */
interface PageToken {
  v: string;
  id: string;
}

function decodePage(page: string | undefined): PageToken | null {
  if (!page) return null;
  try {
    const t = JSON.parse(Buffer.from(page, 'base64url').toString('utf8'));
    if (typeof t?.v === 'string' && typeof t?.id === 'string') return t;
  } catch {
    /* fall through */
  }
  throw invalid('page', 'is not a page token returned by this server (opc-next-page)');
}
const encodePage = (t: PageToken) => Buffer.from(JSON.stringify(t)).toString('base64url');

/**
 * One page of `query` in (`column`, id) order, from the position a page token names: keyset paging, so a page costs
 * the same however deep it is and rows added meanwhile neither repeat nor go missing. `nextPage` (opc-next-page)
 * names the last row; null on the last page. A token that is not one of ours is a 400 naming `page`.
 */
export async function keysetPage<R>(
  query: SelectQueryBuilder<any, any, any>,
  o: { column: string; desc: boolean; page?: string; limit: number },
  map: (row: any) => R,
): Promise<Page<R>> {
  const token = decodePage(o.page);
  const op = o.desc ? '<' : '>';
  if (token) query = query.where((eb: any) => eb.or([eb(o.column, op, token.v), eb.and([eb(o.column, '=', token.v), eb('id', op, token.id)])]));
  const dir = o.desc ? 'desc' : 'asc';
  const rows = await query.orderBy(o.column, dir).orderBy('id', dir).limit(o.limit + 1).execute();
  const more = rows.length > o.limit;
  const page = more ? rows.slice(0, o.limit) : rows;
  const last = page[page.length - 1];
  return { items: page.map(map), nextPage: more && last ? encodePage({ v: String(last[o.column]), id: last.id }) : null };
}

/**
 * A list request of the API (`ListQuery`: compartment, filters, sortBy, sortOrder, page, limit) over `table`:
 * the rows whose columns equal every given filter, by display name or by `timeColumn`, one keyset page.
 */
export function listPage<R>(
  db: Kysely<any>,
  table: string,
  timeColumn: string,
  filters: Record<string, string | undefined>,
  q: ListQuery,
  map: (row: any) => R,
): Promise<Page<R>> {
  const column = q.sortBy === 'displayName' ? 'display_name' : timeColumn;
  let query = db.selectFrom(table).selectAll();
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined) query = query.where(name, '=', value);
  }
  return keysetPage(query, { column, desc: q.sortOrder === 'DESC', page: q.page, limit: q.limit }, map);
}
