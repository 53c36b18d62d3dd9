import type { Kysely } from 'kysely';
import type { Db } from './group-commit.js';
import { fromJson, toJson } from './json-columns.js';
import { listPage } from './paging.js';
import type { JobRecord, ListQuery, Page } from './records.js';
import type { Database, JobTable } from './schema.js';

function jobFromRow(r: JobTable): JobRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    compartmentId: r.compartment_id,
    displayName: r.display_name ?? '',
    description: r.description,
    lifecycleState: r.lifecycle_state as JobRecord['lifecycleState'],
    lifecycleDetails: r.lifecycle_details,
    timeCreated: r.time_created,
    createdBy: r.created_by,
    jobConfigurationDetails: fromJson(r.configuration),
    jobInfrastructureConfigurationDetails: fromJson(r.infrastructure),
    jobEnvironmentConfigurationDetails: fromJson(r.environment_configuration),
    jobLogConfigurationDetails: fromJson(r.log_configuration),
    jobStorageMountConfigurationDetailsList: fromJson(r.storage_mounts),
    jobNodeConfigurationDetails: r.node_configuration == null ? null : fromJson(r.node_configuration),
    freeformTags: fromJson(r.freeform_tags) ?? {},
    definedTags: fromJson(r.defined_tags) ?? {},
    artifact:
      r.artifact_file_name == null
        ? null
        : {
            fileName: r.artifact_file_name,
            size: Number(r.artifact_size),
            md5: r.artifact_md5!,
            time: r.artifact_time!,
            contentDisposition: r.artifact_content_disposition ?? undefined,
            retryToken: r.artifact_retry_token ?? undefined,
          },
    version: r.version,
  };
}

/** Table `jobs`. */
export class JobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tx: Db, r: JobRecord): Promise<void> {
    await tx
      .insertInto('jobs')
      .values({
        id: r.id,
        project_id: r.projectId,
        compartment_id: r.compartmentId,
        display_name: r.displayName,
        description: r.description,
        lifecycle_state: r.lifecycleState,
        lifecycle_details: r.lifecycleDetails,
        time_created: r.timeCreated,
        created_by: r.createdBy,
        configuration: toJson(r.jobConfigurationDetails),
        infrastructure: toJson(r.jobInfrastructureConfigurationDetails),
        environment_configuration: toJson(r.jobEnvironmentConfigurationDetails),
        log_configuration: toJson(r.jobLogConfigurationDetails),
        storage_mounts: toJson(r.jobStorageMountConfigurationDetailsList),
        node_configuration: r.jobNodeConfigurationDetails == null ? null : toJson(r.jobNodeConfigurationDetails),
        freeform_tags: toJson(r.freeformTags),
        defined_tags: toJson(r.definedTags),
        artifact_file_name: null,
        artifact_size: null,
        artifact_md5: null,
        artifact_time: null,
        version: r.version,
      })
      .execute();
  }

  async get(id: string, tx: Db = this.db): Promise<JobRecord | null> {
    const r = await tx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? jobFromRow(r) : null;
  }

  list(q: ListQuery): Promise<Page<JobRecord>> {
    return listPage(this.db, 'jobs', 'time_created', { compartment_id: q.compartmentId, ...q.filters }, q, jobFromRow);
  }

  /** Compare-and-set on version: returns null when the job changed (or vanished) meanwhile. */
  async update(
    tx: Db,
    id: string,
    version: number,
    patch: Partial<
      Pick<
        JobRecord,
        | 'displayName'
        | 'description'
        | 'jobInfrastructureConfigurationDetails'
        | 'jobStorageMountConfigurationDetailsList'
        | 'freeformTags'
        | 'definedTags'
        | 'lifecycleState'
        | 'lifecycleDetails'
        | 'artifact'
        | 'compartmentId'
      >
    >,
  ): Promise<JobRecord | null> {
    const set: Partial<JobTable> = { version: version + 1 };
    if (patch.compartmentId !== undefined) set.compartment_id = patch.compartmentId;
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.jobInfrastructureConfigurationDetails !== undefined)
      set.infrastructure = toJson(patch.jobInfrastructureConfigurationDetails);
    if (patch.jobStorageMountConfigurationDetailsList !== undefined)
      set.storage_mounts = toJson(patch.jobStorageMountConfigurationDetailsList);
    if (patch.freeformTags !== undefined) set.freeform_tags = toJson(patch.freeformTags);
    if (patch.definedTags !== undefined) set.defined_tags = toJson(patch.definedTags);
    if (patch.lifecycleState !== undefined) set.lifecycle_state = patch.lifecycleState;
    if (patch.lifecycleDetails !== undefined) set.lifecycle_details = patch.lifecycleDetails;
    if (patch.artifact) {
      set.artifact_file_name = patch.artifact.fileName;
      set.artifact_size = patch.artifact.size;
      set.artifact_md5 = patch.artifact.md5;
      set.artifact_time = patch.artifact.time;
      set.artifact_content_disposition = patch.artifact.contentDisposition ?? null;
      set.artifact_retry_token = patch.artifact.retryToken ?? null;
    }
    const r = await tx
      .updateTable('jobs')
      .set(set)
      .where('id', '=', id)
      .where('version', '=', version)
      .returningAll()
      .executeTakeFirst();
    return r ? jobFromRow(r) : null;
  }
}
