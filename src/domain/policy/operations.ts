import type { Verb } from './resource-types.js';

/** What an API operation needs: the least verb on one individual resource type, in the target's compartment. */
export interface OperationRequirement {
  resourceType: string;
  verb: Verb;
}

const r = (resourceType: string, verb: Verb): OperationRequirement => ({ resourceType, verb });

/**
 * The one table from API operation (OCI's operation names, which are our routes' operationIds) to what it needs.
 * It follows OCI's Data Science, Identity, Object Storage, Vault/Secrets and Logging policy references: list
 * operations need inspect, gets read, updates use, creates and deletes manage. Where dsjobs departs from OCI it is
 * said on the line. Operations served without a signature (PUBLIC_OPERATIONS) are not here; an operation missing
 * from the table is denied.
 */
export const OPERATIONS: Readonly<Record<string, OperationRequirement>> = {
  // ---- Data Science: projects
  ListProjects: r('data-science-projects', 'inspect'),
  GetProject: r('data-science-projects', 'read'),
  UpdateProject: r('data-science-projects', 'use'),
  CreateProject: r('data-science-projects', 'manage'),
  DeleteProject: r('data-science-projects', 'manage'),
  ChangeProjectCompartment: r('data-science-projects', 'manage'),
  // ---- jobs (job shapes are what jobs may run on: listing them is inspecting jobs)
  ListJobs: r('data-science-jobs', 'inspect'),
  ListJobShapes: r('data-science-jobs', 'inspect'),
  ListFastLaunchJobConfigs: r('data-science-jobs', 'inspect'),
  GetJob: r('data-science-jobs', 'read'),
  HeadJobArtifact: r('data-science-jobs', 'read'),
  GetJobArtifactContent: r('data-science-jobs', 'read'),
  UpdateJob: r('data-science-jobs', 'use'),
  CreateJob: r('data-science-jobs', 'manage'),
  CreateJobArtifact: r('data-science-jobs', 'manage'),
  DeleteJob: r('data-science-jobs', 'manage'),
  ChangeJobCompartment: r('data-science-jobs', 'manage'),
  // dsjobs' own: the container engine's images, the whole host's (decided in the tenancy, api/authorization.ts).
  ListContainerImages: r('data-science-jobs', 'inspect'),
  LoadContainerImage: r('data-science-jobs', 'manage'),
  // Work requests: the asynchronous side of deletes (OCI's data-science-work-requests).
  ListWorkRequests: r('data-science-work-requests', 'inspect'),
  GetWorkRequest: r('data-science-work-requests', 'read'),
  ListWorkRequestErrors: r('data-science-work-requests', 'read'),
  ListWorkRequestLogs: r('data-science-work-requests', 'read'),
  CancelWorkRequest: r('data-science-work-requests', 'manage'),
  // ---- job runs. OCI asks manage (DATA_SCIENCE_JOB_RUN_CREATE) to start a run; dsjobs asks use, so that `use`
  // means "work with the jobs that exist: start, watch, cancel" and manage adds deleting.
  ListJobRuns: r('data-science-job-runs', 'inspect'),
  GetJobRun: r('data-science-job-runs', 'read'),
  GetJobRunLogs: r('data-science-job-runs', 'read'),
  GetJobRunMetrics: r('data-science-job-runs', 'read'),
  GetJobRunNotebook: r('data-science-job-runs', 'read'),
  UpdateJobRun: r('data-science-job-runs', 'use'),
  CancelJobRun: r('data-science-job-runs', 'use'),
  CreateJobRun: r('data-science-job-runs', 'use'),
  DeleteJobRun: r('data-science-job-runs', 'manage'),
  ChangeJobRunCompartment: r('data-science-job-runs', 'manage'),
  // ---- dsjobs' own: events (the feed carries whole resources, so reading it is read), webhooks, automation
  ListEvents: r('data-science-events', 'read'),
  ListWebhookSubscriptions: r('data-science-webhooks', 'inspect'),
  GetWebhookSubscription: r('data-science-webhooks', 'read'),
  ListWebhookDeliveries: r('data-science-webhooks', 'read'),
  UpdateWebhookSubscription: r('data-science-webhooks', 'use'),
  PauseWebhookSubscription: r('data-science-webhooks', 'use'),
  ResumeWebhookSubscription: r('data-science-webhooks', 'use'),
  TestWebhookSubscription: r('data-science-webhooks', 'use'),
  RedeliverWebhookDelivery: r('data-science-webhooks', 'use'),
  CreateWebhookSubscription: r('data-science-webhooks', 'manage'),
  DeleteWebhookSubscription: r('data-science-webhooks', 'manage'),
  ListTriggerRules: r('data-science-trigger-rules', 'inspect'),
  GetTriggerRule: r('data-science-trigger-rules', 'read'),
  UpdateTriggerRule: r('data-science-trigger-rules', 'use'),
  ActivateTriggerRule: r('data-science-trigger-rules', 'use'),
  DeactivateTriggerRule: r('data-science-trigger-rules', 'use'),
  FireTriggerRule: r('data-science-trigger-rules', 'use'),
  CreateTriggerRule: r('data-science-trigger-rules', 'manage'),
  DeleteTriggerRule: r('data-science-trigger-rules', 'manage'),
  ListSchedules: r('data-science-schedules', 'inspect'),
  GetSchedule: r('data-science-schedules', 'read'),
  UpdateSchedule: r('data-science-schedules', 'use'),
  ActivateSchedule: r('data-science-schedules', 'use'),
  DeactivateSchedule: r('data-science-schedules', 'use'),
  CreateSchedule: r('data-science-schedules', 'manage'),
  DeleteSchedule: r('data-science-schedules', 'manage'),
  ListSweeps: r('data-science-sweeps', 'inspect'),
  GetSweep: r('data-science-sweeps', 'read'),
  ListSweepTrials: r('data-science-sweeps', 'read'),
  CancelSweep: r('data-science-sweeps', 'use'),
  CreateSweep: r('data-science-sweeps', 'manage'),
  DeleteSweep: r('data-science-sweeps', 'manage'),
  // ---- Identity (/20160918). OCI gets compartments, users, groups, policies and dynamic groups with inspect.
  ListCompartments: r('compartments', 'inspect'),
  GetCompartment: r('compartments', 'inspect'),
  // The tenancy is the root compartment: seeing it is inspecting compartments, as GetCompartment is.
  GetTenancy: r('compartments', 'inspect'),
  UpdateCompartment: r('compartments', 'use'),
  CreateCompartment: r('compartments', 'manage'),
  DeleteCompartment: r('compartments', 'manage'),
  ListUsers: r('users', 'inspect'),
  GetUser: r('users', 'inspect'),
  ListApiKeys: r('users', 'read'),
  UpdateUser: r('users', 'use'),
  CreateUser: r('users', 'manage'),
  DeleteUser: r('users', 'manage'),
  UploadApiKey: r('users', 'manage'),
  DeleteApiKey: r('users', 'manage'),
  CreateOrResetUIPassword: r('users', 'manage'),
  // Blocking or unblocking a user (OCI's USER_UNBLOCK permission, granted by manage users).
  UpdateUserState: r('users', 'manage'),
  ListGroups: r('groups', 'inspect'),
  GetGroup: r('groups', 'inspect'),
  ListUserGroupMemberships: r('groups', 'inspect'),
  GetUserGroupMembership: r('groups', 'inspect'),
  UpdateGroup: r('groups', 'use'),
  AddUserToGroup: r('groups', 'use'),
  RemoveUserFromGroup: r('groups', 'use'),
  CreateGroup: r('groups', 'manage'),
  DeleteGroup: r('groups', 'manage'),
  ListPolicies: r('policies', 'inspect'),
  GetPolicy: r('policies', 'inspect'),
  CreatePolicy: r('policies', 'manage'),
  UpdatePolicy: r('policies', 'manage'),
  DeletePolicy: r('policies', 'manage'),
  ListDynamicGroups: r('dynamic-groups', 'inspect'),
  GetDynamicGroup: r('dynamic-groups', 'inspect'),
  // A matching rule decides which runs get a dynamic group's grants, as a statement does: changing it is manage.
  UpdateDynamicGroup: r('dynamic-groups', 'manage'),
  CreateDynamicGroup: r('dynamic-groups', 'manage'),
  DeleteDynamicGroup: r('dynamic-groups', 'manage'),
  // ---- Audit (OCI's operation is ListEvents on /20190901; named apart from the Data Science event feed here)
  ListAuditEvents: r('audit-events', 'read'),
  // ---- Object Storage. The namespace is no compartment's: any signed request gets it, as in OCI.
  GetNamespace: r('buckets', 'inspect'),
  GetNamespaceMetadata: r('buckets', 'inspect'),
  ListBuckets: r('buckets', 'inspect'),
  GetBucket: r('buckets', 'read'),
  HeadBucket: r('buckets', 'read'),
  UpdateBucket: r('buckets', 'use'),
  CreateBucket: r('buckets', 'manage'),
  DeleteBucket: r('buckets', 'manage'),
  ListObjects: r('objects', 'inspect'),
  GetObject: r('objects', 'read'),
  // Object Storage's work requests (CopyObject's), decided in the source bucket's compartment.
  GetObjectStorageWorkRequest: r('objects', 'read'),
  HeadObject: r('objects', 'read'),
  PutObject: r('objects', 'manage'),
  DeleteObject: r('objects', 'manage'),
  // OCI: OBJECT_CREATE + OBJECT_DELETE (rename), OBJECT_READ + OBJECT_CREATE (copy): manage objects covers both.
  RenameObject: r('objects', 'manage'),
  CopyObject: r('objects', 'manage'),
  // Multipart uploads: OCI's OBJECT_CREATE (manage) to make and use them, OBJECT_INSPECT to list them.
  CreateMultipartUpload: r('objects', 'manage'),
  UploadPart: r('objects', 'manage'),
  CommitMultipartUpload: r('objects', 'manage'),
  AbortMultipartUpload: r('objects', 'manage'),
  ListMultipartUploads: r('objects', 'inspect'),
  ListMultipartUploadParts: r('objects', 'inspect'),
  // Pre-authenticated requests: OCI's PAR_MANAGE is in manage buckets; listing and getting them is inspect/read.
  ListPreauthenticatedRequests: r('buckets', 'inspect'),
  GetPreauthenticatedRequest: r('buckets', 'read'),
  CreatePreauthenticatedRequest: r('buckets', 'manage'),
  DeletePreauthenticatedRequest: r('buckets', 'manage'),
  // ---- Vault secrets (management, /20180608) and Secrets (retrieval, /20190301)
  ListSecrets: r('secrets', 'inspect'),
  ListSecretVersions: r('secrets', 'inspect'),
  // OCI's SECRET_VERSION_INSPECT: a version's number, name and stages, never its contents.
  GetSecretVersion: r('secrets', 'inspect'),
  GetSecret: r('secrets', 'read'),
  CreateSecret: r('secrets', 'manage'),
  UpdateSecret: r('secrets', 'manage'),
  ScheduleSecretDeletion: r('secrets', 'manage'),
  CancelSecretDeletion: r('secrets', 'manage'),
  ListSecretBundleVersions: r('secret-bundles', 'inspect'),
  GetSecretBundle: r('secret-bundles', 'read'),
  GetSecretBundleByName: r('secret-bundles', 'read'),
  // ---- Logging (management /20200531, search /20190909, ingestion /20200831)
  ListLogGroups: r('log-groups', 'inspect'),
  ListLogs: r('log-groups', 'inspect'),
  GetLogGroup: r('log-groups', 'read'),
  GetLog: r('log-groups', 'read'),
  UpdateLogGroup: r('log-groups', 'use'),
  CreateLog: r('log-groups', 'use'),
  UpdateLog: r('log-groups', 'use'),
  DeleteLog: r('log-groups', 'use'),
  CreateLogGroup: r('log-groups', 'manage'),
  DeleteLogGroup: r('log-groups', 'manage'),
  SearchLogs: r('log-content', 'read'),
  PutLogs: r('log-content', 'use'),
  // Logging's own work request API (/20200531/workRequests): its work requests are about log groups and logs.
  GetLoggingWorkRequest: r('log-groups', 'read'),
  ListLoggingWorkRequests: r('log-groups', 'inspect'),
};

/**
 * Operations no policy governs: served without a signature. Server info says how to reach and sign for the server;
 * the web console's login, session and logout check a password or the session cookie themselves, and what a logged-in
 * console user does next goes through the operations above like any signed request.
 */
export const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set([
  'GetServerInfo',
  'ConsoleLogin',
  'GetConsoleSession',
  'ConsoleLogout',
  // Object Storage through a pre-authenticated request's URL: its secret is the credential, its access type the grant.
  'GetObjectWithPar',
  'HeadObjectWithPar',
  'PutObjectWithPar',
]);

export const requirementOf = (operation: string): OperationRequirement | undefined =>
  Object.prototype.hasOwnProperty.call(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;

/** The get operation of each kind of resource an event is about, by the resource type in its OCID. */
const READ_OPERATION_BY_OCID_TYPE: Readonly<Record<string, string>> = {
  datascienceproject: 'GetProject',
  datasciencejob: 'GetJob',
  datasciencejobrun: 'GetJobRun',
};

/**
 * The operation a principal must be allowed, in the resource's compartment, to see an event (in the event feed or
 * a webhook delivery) about the resource with this OCID: reading the event is reading the resource it carries.
 * Undefined for OCIDs of other kinds.
 */
export function readOperationForOcid(ocid: string): string | undefined {
  const type = ocid.split('.')[1];
  return type !== undefined && Object.prototype.hasOwnProperty.call(READ_OPERATION_BY_OCID_TYPE, type) ? READ_OPERATION_BY_OCID_TYPE[type] : undefined;
}
