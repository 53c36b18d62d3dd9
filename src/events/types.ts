import type { JobRecord, ProjectRecord, RunRecord } from '../store/records.js';
import type { EventInput } from '../store/store.js';
import { jobWire, projectWire, runWire } from './wire.js';

/** OCI Data Science's event type prefix: used wherever OCI has a name for the change. */
export const OCI_PREFIX = 'com.oraclecloud.datascience';
/** Ours, for changes OCI has no event for (docs/events.md lists them all). */
export const DSJOBS_PREFIX = 'io.dsjobs';

/** Every event type dsjobs records. docs/events.md is the readable list; keep both in step. */
export const EVENT_TYPES = {
  projectCreated: `${OCI_PREFIX}.createproject`,
  projectUpdated: `${OCI_PREFIX}.updateproject`,
  projectDeleteBegin: `${OCI_PREFIX}.deleteproject.begin`,
  projectDeleteEnd: `${OCI_PREFIX}.deleteproject.end`,
  projectMoved: `${OCI_PREFIX}.changeprojectcompartment`,
  jobMoved: `${OCI_PREFIX}.changejobcompartment`,
  runMoved: `${OCI_PREFIX}.changejobruncompartment`,
  jobCreated: `${OCI_PREFIX}.createjob`,
  jobUpdated: `${OCI_PREFIX}.updatejob`,
  jobArtifactCreated: `${DSJOBS_PREFIX}.createjobartifact`,
  jobDeleteBegin: `${OCI_PREFIX}.deletejob.begin`,
  jobDeleteEnd: `${OCI_PREFIX}.deletejob.end`,
  runAccepted: `${OCI_PREFIX}.createjobrun.begin`,
  runStarted: `${OCI_PREFIX}.createjobrun.end`,
  runSucceeded: `${OCI_PREFIX}.succeededjobrun`,
  runFailed: `${OCI_PREFIX}.failedjobrun`,
  runTimeout: `${OCI_PREFIX}.timeoutjobrun`,
  runCancelBegin: `${OCI_PREFIX}.canceljobrun.begin`,
  runCancelEnd: `${OCI_PREFIX}.canceljobrun.end`,
  runNeedsAttention: `${DSJOBS_PREFIX}.needsattentionjobrun`,
  runUpdated: `${OCI_PREFIX}.updatejobrun`,
  runDeleted: `${OCI_PREFIX}.deletejobrun`,
  triggerChainLimit: `${DSJOBS_PREFIX}.triggerchainlimitreached`,
  triggerFailed: `${DSJOBS_PREFIX}.triggerfailed`,
  scheduleMissed: `${DSJOBS_PREFIX}.schedulemissed`,
  scheduleFailed: `${DSJOBS_PREFIX}.schedulefailed`,
  sweepCreated: `${DSJOBS_PREFIX}.createsweep`,
  sweepSucceeded: `${DSJOBS_PREFIX}.succeededsweep`,
  sweepFailed: `${DSJOBS_PREFIX}.failedsweep`,
  sweepCanceled: `${DSJOBS_PREFIX}.canceledsweep`,
} as const;

export const ALL_EVENT_TYPES: readonly string[] = Object.values(EVENT_TYPES);

export const projectEvent = (type: string, p: ProjectRecord): EventInput => ({
  type,
  resourceId: p.id,
  compartmentId: p.compartmentId,
  projectId: p.id,
  jobId: null,
  state: p.lifecycleState,
  data: projectWire(p),
});

export const jobEvent = (type: string, j: JobRecord): EventInput => ({
  type,
  resourceId: j.id,
  compartmentId: j.compartmentId,
  projectId: j.projectId,
  jobId: j.id,
  state: j.lifecycleState,
  data: jobWire(j),
});

export const runEvent =
  (type: string) =>
  (r: RunRecord): EventInput => ({
    type,
    resourceId: r.id,
    compartmentId: r.compartmentId,
    projectId: r.projectId,
    jobId: r.jobId,
    state: r.lifecycleState,
    data: runWire(r),
  });

/** The events of run transitions, by what happened. */
export const RUN_EVENTS = {
  accepted: runEvent(EVENT_TYPES.runAccepted),
  started: runEvent(EVENT_TYPES.runStarted),
  succeeded: runEvent(EVENT_TYPES.runSucceeded),
  failed: runEvent(EVENT_TYPES.runFailed),
  timeout: runEvent(EVENT_TYPES.runTimeout),
  cancelBegin: runEvent(EVENT_TYPES.runCancelBegin),
  cancelEnd: runEvent(EVENT_TYPES.runCancelEnd),
  needsAttention: runEvent(EVENT_TYPES.runNeedsAttention),
  updated: runEvent(EVENT_TYPES.runUpdated),
  deleted: runEvent(EVENT_TYPES.runDeleted),
};
