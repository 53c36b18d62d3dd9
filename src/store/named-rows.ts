import type { Kysely } from 'kysely';
import type { DefinedTags, Tags } from './records.js';

/**
 * The columns OCI Identity's named resources share (compartments, users, groups, policies, dynamic groups): each
 * table adds its own (a parent, an email, statements, a matching rule) beside these.
 */
export interface NamedRow {
  id: string;
  name: string;
  description: string;
  lifecycle_state: string;
  time_created: string;
  freeform_tags: string;
  defined_tags: string;
  version: number;
}

/** The same columns as a record's fields; `S` is the resource's set of lifecycle states. */
export interface Named<S extends string> {
  id: string;
  name: string;
  description: string;
  lifecycleState: S;
  timeCreated: string;
  freeformTags: Tags;
  definedTags: DefinedTags;
  version: number;
}

/** OCI Identity's list request: an optional exact name and state, sorted by TIMECREATED or NAME. */
export interface NamedListQuery {
  name?: string;
  lifecycleState?: string;
  sortBy: 'TIMECREATED' | 'NAME';
  sortOrder: 'ASC' | 'DESC';
  limit: number;
  page?: string;
}

/** What an update may change among the shared columns; undefined keeps a field as it is. */
export type NamedPatch<S extends string> = Partial<Pick<Named<S>, 'name' | 'description' | 'freeformTags' | 'definedTags' | 'lifecycleState'>>;

/** A new resource's shared fields: ACTIVE, at version 1, with the tags asked for (none by default). */
export function newNamed(
  id: string,
  name: string,
  description: string,
  now: string,
  tags: { freeformTags?: Tags | null; definedTags?: DefinedTags | null } = {},
): Named<'ACTIVE'> {
  return { id, name, description, lifecycleState: 'ACTIVE', timeCreated: now, freeformTags: tags.freeformTags ?? {}, definedTags: tags.definedTags ?? {}, version: 1 };
}

export const namedFromRow = <S extends string>(r: NamedRow): Named<S> => ({
  id: r.id,
  name: r.name,
  description: r.description,
  lifecycleState: r.lifecycle_state as S,
  timeCreated: r.time_created,
  freeformTags: JSON.parse(r.freeform_tags),
  definedTags: JSON.parse(r.defined_tags),
  version: r.version,
});

export const namedToRow = <S extends string>(n: Named<S>): NamedRow => ({
  id: n.id,
  name: n.name,
  description: n.description,
  lifecycle_state: n.lifecycleState,
  time_created: n.timeCreated,
  freeform_tags: JSON.stringify(n.freeformTags ?? {}),
  defined_tags: JSON.stringify(n.definedTags ?? {}),
  version: n.version,
});

/** The SET of a compare-and-set update of the shared columns: the version goes up by one. */
export function namedPatchRow<S extends string>(version: number, patch: NamedPatch<S>): Partial<NamedRow> {
  const set: Partial<NamedRow> = { version: version + 1 };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.freeformTags !== undefined) set.freeform_tags = JSON.stringify(patch.freeformTags);
  if (patch.definedTags !== undefined) set.defined_tags = JSON.stringify(patch.definedTags);
  if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
  return set;
}

/**
 * Compare-and-set on the version: writes `set` to the row `id` only if it is still at `version`, and returns the row
 * as it now is, or null when it changed (or went) since it was read.
 */
export async function updateAtVersion<R>(
  tx: Kysely<any>,
  table: string,
  id: string,
  version: number,
  set: Record<string, unknown>,
  fromRow: (r: any) => R,
): Promise<R | null> {
  const r = await tx.updateTable(table).set(set).where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst();
  return r ? fromRow(r) : null;
}
