import type { Kysely } from 'kysely';
import type { Db } from './group-commit.js';
import { fromJson, toJson } from './json-columns.js';
import { listPage } from './paging.js';
import type { ListQuery, Page, ProjectRecord } from './records.js';
import type { Database, ProjectTable } from './schema.js';

function projectFromRow(r: ProjectTable): ProjectRecord {
  return {
    id: r.id,
    compartmentId: r.compartment_id,
    displayName: r.display_name ?? '',
    description: r.description,
    lifecycleState: r.lifecycle_state as ProjectRecord['lifecycleState'],
    timeCreated: r.time_created,
    createdBy: r.created_by,
    freeformTags: fromJson(r.freeform_tags) ?? {},
    definedTags: fromJson(r.defined_tags) ?? {},
    version: r.version,
  };
}

/** Table `projects`. */
export class ProjectStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tx: Db, p: ProjectRecord): Promise<void> {
    await tx
      .insertInto('projects')
      .values({
        id: p.id,
        compartment_id: p.compartmentId,
        display_name: p.displayName,
        description: p.description,
        lifecycle_state: p.lifecycleState,
        time_created: p.timeCreated,
        created_by: p.createdBy,
        freeform_tags: toJson(p.freeformTags),
        defined_tags: toJson(p.definedTags),
        version: p.version,
      })
      .execute();
  }

  async get(id: string, tx: Db = this.db): Promise<ProjectRecord | null> {
    const r = await tx.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? projectFromRow(r) : null;
  }

  list(q: ListQuery): Promise<Page<ProjectRecord>> {
    return listPage(this.db, 'projects', 'time_created', { compartment_id: q.compartmentId, ...q.filters }, q, projectFromRow);
  }

  /** Compare-and-set on version: returns null when the project changed (or vanished) meanwhile. */
  async update(
    tx: Db,
    id: string,
    version: number,
    patch: Partial<Pick<ProjectRecord, 'displayName' | 'description' | 'freeformTags' | 'definedTags' | 'lifecycleState' | 'compartmentId'>>,
  ): Promise<ProjectRecord | null> {
    const set: Partial<ProjectTable> = { version: version + 1 };
    if (patch.compartmentId !== undefined) set.compartment_id = patch.compartmentId;
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.freeformTags !== undefined) set.freeform_tags = toJson(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = toJson(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    const r = await tx
      .updateTable('projects')
      .set(set)
      .where('id', '=', id)
      .where('version', '=', version)
      .returningAll()
      .executeTakeFirst();
    return r ? projectFromRow(r) : null;
  }

  /** The jobs of a project that are not DELETED (a project with jobs cannot be deleted). */
  async countJobs(projectId: string): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .where('lifecycle_state', 'not in', ['DELETED'])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
