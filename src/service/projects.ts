import { ReadCache } from './read-cache.js';
import { DsError, invalid, notFound } from '../domain/errors.js';
import { isOcid, newOcid, RESOURCE_TYPES } from '../domain/ids.js';
import type { Store, Tx } from '../store/store.js';
import { WorkRequestsService } from './work-requests.js';
import type { DefinedTags, ListQuery, Page, ProjectRecord, Tags } from '../store/records.js';
import { EVENT_TYPES, projectEvent } from '../events/types.js';
import { bodyHash, checkIfMatch, defaultName, iso, type Clock, type ServerIdentity } from './common.js';

export interface CreateProjectInput {
  compartmentId: string;
  displayName?: string;
  description?: string;
  freeformTags?: Tags;
  definedTags?: DefinedTags;
}

export function checkCompartment(id: unknown, field = 'compartmentId'): string {
  if (!isOcid(id)) throw invalid(field, 'must be an OCID (ocid1.<type>.<realm>.<region>.<unique>)');
  return id;
}

/** What the API's lists of automation resources take: a compartment, a page token and a page size. */
export interface ListPage {
  compartmentId?: string;
  page?: string;
  limit: number;
}

/** A list's compartmentId filter, when given, is a compartment id: a typo gets a 400 naming it, not an empty list. */
export function checkListCompartment(q: { compartmentId?: string }): void {
  if (q.compartmentId !== undefined) checkCompartment(q.compartmentId);
}

export class ProjectsService {
  constructor(
    private readonly store: Store,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
  ) {}

  private workRequestsOnce?: WorkRequestsService;
  /** Deletes are recorded as OCI work requests, written in the delete's transaction. */
  private get workRequests(): WorkRequestsService {
    return (this.workRequestsOnce ??= new WorkRequestsService(this.store, this.identity, this.clock));
  }

  /** `createdBy`: who asks (a user's or a run's OCID); default: the server's administrator (authentication off). */
  async create(input: CreateProjectInput, retryToken?: string, createdBy?: string): Promise<ProjectRecord> {
    checkCompartment(input.compartmentId);
    const now = this.clock.now();
    const { id } = await this.store.idempotent('createProject', retryToken, bodyHash(input), async (tx) => {
      const rec: ProjectRecord = {
        id: newOcid(RESOURCE_TYPES.project, this.identity.region),
        compartmentId: input.compartmentId,
        displayName: input.displayName ?? defaultName('project', now),
        description: input.description ?? null,
        lifecycleState: 'ACTIVE',
        timeCreated: iso(now),
        createdBy: createdBy ?? this.identity.userId,
        freeformTags: input.freeformTags ?? {},
        definedTags: input.definedTags ?? {},
        version: 1,
      };
      await this.store.insertProject(tx, rec);
      await this.store.insertEvent(tx, projectEvent(EVENT_TYPES.projectCreated, rec));
      return rec.id;
    });
    return this.get(id);
  }

  /**
   * Projects are read on every authorized create that names one (the caller must be able to read it) and written
   * rarely, so they are cached like jobs: a read outside a transaction waits for the group commit in flight, and that
   * wait was half of the cost of authentication on CreateJobRun (benchmark 3a).
   */
  private readonly cache = new ReadCache<ProjectRecord>();

  private invalidate(id: string): void {
    this.cache.invalidate(id);
  }

  /** A project changed outside this service (ChangeProjectCompartment, compartment-moves.ts): its record is stale. */
  changedElsewhere(id: string): void {
    this.invalidate(id);
  }

  /** Every cached project may have changed elsewhere (another replica on the same database): forget them all. */
  forgetCached(): void {
    this.cache.clear();
  }

  async get(id: string): Promise<ProjectRecord> {
    const p = await this.cache.get(id, (i) => this.store.getProject(i));
    if (!p) throw notFound('Project', id);
    return p;
  }

  list(q: ListQuery): Promise<Page<ProjectRecord>> {
    checkListCompartment(q);
    return this.store.listProjects(q);
  }

  async update(
    id: string,
    patch: { displayName?: string; description?: string; freeformTags?: Tags; definedTags?: DefinedTags },
    ifMatch?: string,
  ): Promise<ProjectRecord> {
    const p = await this.get(id);
    checkIfMatch(ifMatch, p.id, p.version);
    if (p.lifecycleState !== 'ACTIVE') throw new DsError('IncorrectState', `Project ${id} is ${p.lifecycleState}`);
    this.invalidate(id);
    const updated = await this.store.transaction(async (tx) => {
      const r = await this.store.updateProject(tx, id, p.version, patch);
      if (r) {
        await this.store.insertEvent(tx, projectEvent(EVENT_TYPES.projectUpdated, r));
      }
      return r;
    });
    this.invalidate(id); // again: a read that overlapped the write must not stay cached
    if (!updated) throw new DsError('Conflict', `Project ${id} was changed concurrently; retry`);
    return updated;
  }

  /** Deletes the project; returns the id of the PROJECT_DELETE work request that records it. */
  async delete(id: string, ifMatch?: string): Promise<string> {
    const p = await this.get(id);
    checkIfMatch(ifMatch, p.id, p.version);
    const workRequest = (tx: Tx, log: string) =>
      this.workRequests.begin(tx, {
        operationType: 'PROJECT_DELETE',
        compartmentId: p.compartmentId,
        resources: [{ actionType: 'DELETED', entityType: 'project', identifier: id, entityUri: `/projects/${id}` }],
        log,
        done: true,
      });
    if (p.lifecycleState === 'DELETED') return (await this.store.transaction((tx) => workRequest(tx, `Project ${id} was already deleted`))).id;
    const jobs = await this.store.countJobsInProject(id);
    if (jobs > 0) {
      throw new DsError('IncorrectState', `Project ${id} still has ${jobs} job(s); delete them first`);
    }
    this.invalidate(id);
    return this.store
      .transaction(async (tx) => {
        const r = await this.store.updateProject(tx, id, p.version, { lifecycleState: 'DELETED' });
        if (!r) throw new DsError('Conflict', `Project ${id} was changed concurrently; retry`);
        // OCI's delete is two events (begin, end); here the deletion is immediate, so both are written with it.
        await this.store.insertEvent(tx, projectEvent(EVENT_TYPES.projectDeleteBegin, { ...r, lifecycleState: 'DELETING' }));
        await this.store.insertEvent(tx, projectEvent(EVENT_TYPES.projectDeleteEnd, r));
        return (await workRequest(tx, `Project ${id} deleted`)).id;
      })
      .finally(() => this.invalidate(id)); // again: a read that overlapped the write must not stay cached
  }
}
