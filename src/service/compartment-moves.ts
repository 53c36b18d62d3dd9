import { DsError } from '../domain/errors.js';
import { EVENT_TYPES, jobEvent, projectEvent, runEvent } from '../events/types.js';
import type { JobRecord, ProjectRecord, RunRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { checkIfMatch } from './common.js';
import { checkCompartment } from './projects.js';

/**
 * OCI's ChangeProjectCompartment, ChangeJobCompartment and ChangeJobRunCompartment. As OCI documents, each moves the
 * one resource: a project's jobs and runs, and a job's runs, stay where they are (each has its own compartment and
 * is moved by its own operation). A move is a compare-and-set on the resource's version with its event, in one
 * transaction. Moving to the compartment it is in changes nothing and answers the same success, as OCI does.
 * Authorization (manage in both compartments) is the API's (authorization.ts).
 */
export class CompartmentMoves {
  constructor(
    private readonly store: Store,
    private readonly read: {
      project(id: string): Promise<ProjectRecord>;
      job(id: string): Promise<JobRecord>;
      run(id: string): Promise<RunRecord>;
    },
    private readonly told: {
      /** After a project moved: what keeps a project's compartment (the runs service's cache) forgets it. */
      onProjectMoved(projectId: string): void;
      /** After a job moved: the jobs service's cached record of it is stale. */
      onJobMoved(jobId: string): void;
    },
  ) {}

  async moveProject(id: string, compartmentId: string, ifMatch?: string): Promise<void> {
    checkCompartment(compartmentId);
    const p = await this.read.project(id);
    checkIfMatch(ifMatch, p.id, p.version);
    if (p.lifecycleState !== 'ACTIVE') throw new DsError('IncorrectState', `Project ${id} is ${p.lifecycleState}; only an ACTIVE project can be moved`);
    if (p.compartmentId === compartmentId) return;
    await this.store.transaction(async (tx) => {
      const r = await this.store.updateProject(tx, id, p.version, { compartmentId });
      if (!r) throw new DsError('Conflict', `Project ${id} changed while it was being moved; get it again and retry`);
      await this.store.insertEvent(tx, projectEvent(EVENT_TYPES.projectMoved, r));
    });
    this.told.onProjectMoved(id);
  }

  async moveJob(id: string, compartmentId: string, ifMatch?: string): Promise<void> {
    checkCompartment(compartmentId);
    const j = await this.read.job(id);
    checkIfMatch(ifMatch, j.id, j.version);
    if (j.lifecycleState !== 'ACTIVE' && j.lifecycleState !== 'CREATING') {
      throw new DsError('IncorrectState', `Job ${id} is ${j.lifecycleState}; only a CREATING or ACTIVE job can be moved`);
    }
    if (j.compartmentId === compartmentId) return;
    await this.store.transaction(async (tx) => {
      const r = await this.store.updateJob(tx, id, j.version, { compartmentId });
      if (!r) throw new DsError('Conflict', `Job ${id} changed while it was being moved; get it again and retry`);
      await this.store.insertEvent(tx, jobEvent(EVENT_TYPES.jobMoved, r));
    });
    this.told.onJobMoved(id);
  }

  async moveRun(id: string, compartmentId: string, ifMatch?: string): Promise<void> {
    checkCompartment(compartmentId);
    const r = await this.read.run(id);
    checkIfMatch(ifMatch, r.id, r.version);
    if (r.lifecycleState === 'DELETED') throw new DsError('IncorrectState', `Job run ${id} is DELETED`);
    if (r.compartmentId === compartmentId) return;
    // Any state but DELETED: the run keeps running where it runs; only where it is listed and authorized changes.
    const moved = await this.store.transitionRun(id, [r.lifecycleState], null, { compartmentId }, runEvent(EVENT_TYPES.runMoved), { version: r.version });
    if (!moved) throw new DsError('Conflict', `Job run ${id} changed while it was being moved; get it again and retry`);
  }
}
