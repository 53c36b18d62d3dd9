import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * Wire schemas of the API, written once: request validation, response serialization and the OpenAPI document all
 * come from these. Field names and discriminators are OCI Data Science's (reference §1.3, §2).
 */
/**
 * A scalar or null as one `type: [scalar, "null"]`, not anyOf: the validator coerces types (query strings need it),
 * and in anyOf [number > 0, null] the null branch coerced 0 to null, so `maximumRuntimeInMinutes: 0` was stored as
 * "no limit" instead of refused. With one type list a number stays a number and meets its own bounds.
 */
const Nullable = <T extends TSchema>(t: T) => {
  const scalar = typeof t.type === 'string' && ['number', 'integer', 'string', 'boolean'].includes(t.type);
  if (!scalar) return Type.Union([t, Type.Null()]);
  const plain = JSON.parse(JSON.stringify(t)) as Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...plain, type: [t.type, 'null'] });
};
const Opt = <T extends TSchema>(t: T) => Type.Optional(Nullable(t));

export const Ocid = Type.String({ minLength: 1, maxLength: 255, description: 'OCID' });

/**
 * Bounds on what a client may store. Tags follow OCI's "Limits on Tags" (Tagging overview,
 * https://docs.oracle.com/iaas/Content/Tagging/Concepts/taggingoverview.htm#Limits, the page OCI's SDKs link for
 * tag validation): 64 tags per resource, keys of at most 100 characters, values of at most 256. Unbounded tags let
 * 70 projects hold 9 MB, after which listing projects or events answered 500 and the server kept 2 GB.
 */
export const LIMITS = {
  tagsPerResource: 64,
  tagKeyChars: 100,
  tagValueChars: 256,
  displayNameChars: 255,
  descriptionChars: 400,
  /** jobLogConfigurationDetails and the other objects stored as they come, serialized. */
  looseObjectChars: 16_384,
} as const;

/** No control characters (OCI refuses them in names): U+0000-U+001F and U+007F. */
export const NO_CONTROL_CHARS = '^[^\\u0000-\\u001F\\u007F]*$';
/** Descriptions may hold tabs and line breaks, no other control character. */
export const NO_CONTROL_CHARS_BUT_LINES = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';

const DisplayName = (description?: string) =>
  Type.String({ maxLength: LIMITS.displayNameChars, pattern: NO_CONTROL_CHARS, ...(description ? { description } : {}) });
const Description = () => Type.String({ maxLength: LIMITS.descriptionChars, pattern: NO_CONTROL_CHARS_BUT_LINES });
/** A bounded single-line string: ids, names, paths and other fields stored as given. */
const Line = (maxLength: number, o: { minLength?: number; description?: string } = {}) =>
  Type.String({ ...o, maxLength, pattern: NO_CONTROL_CHARS });

const TagKey = { minLength: 1, maxLength: LIMITS.tagKeyChars, pattern: NO_CONTROL_CHARS };
export const FreeformTags = Type.Record(Type.String(), Line(LIMITS.tagValueChars), {
  maxProperties: LIMITS.tagsPerResource,
  propertyNames: TagKey,
});
/** Namespace -> key -> value; OCI's defined tag values are strings (numbers and booleans are taken too). */
export const DefinedTags = Type.Record(
  Type.String(),
  Type.Record(Type.String(), Type.Union([Line(LIMITS.tagValueChars), Type.Number(), Type.Boolean()]), {
    maxProperties: LIMITS.tagsPerResource,
    propertyNames: TagKey,
  }),
  { maxProperties: LIMITS.tagsPerResource, propertyNames: TagKey },
);

export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() }, { $id: 'Error' });

export const JobShapeConfigDetails = Type.Object(
  {
    ocpus: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memoryInGBs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    cpuBaseline: Type.Optional(Type.Union(['BASELINE_1_8', 'BASELINE_1_2', 'BASELINE_1_1'].map((v) => Type.Literal(v)))),
  },
  { title: 'JobShapeConfigDetails', additionalProperties: false },
);

export const JobConfigurationDetails = Type.Object(
  {
    jobType: Type.Union([Type.Literal('DEFAULT'), Type.Literal('EMPTY')]),
    environmentVariables: Opt(Type.Record(Type.String(), Type.String(), { maxProperties: 1_000 })),
    commandLineArguments: Opt(Type.String({ maxLength: 4_000 })),
    maximumRuntimeInMinutes: Opt(Type.Number({ exclusiveMinimum: 0 })),
    startupProbeDetails: Opt(Type.Object({}, { additionalProperties: true })),
  },
  { title: 'JobConfigurationDetails', additionalProperties: false },
);

export const JobInfrastructureConfigurationDetails = Type.Object(
  {
    jobInfrastructureType: Type.Union(
      (['STANDALONE', 'ME_STANDALONE', 'MULTI_NODE', 'EMPTY', 'MANAGED_COMPUTE_CLUSTER'] as const).map((v) => Type.Literal(v)),
    ),
    shapeName: Type.Optional(Line(255, { minLength: 1 })),
    subnetId: Opt(Line(255)),
    blockStorageSizeInGBs: Type.Optional(Type.Integer()),
    jobShapeConfigDetails: Opt(JobShapeConfigDetails),
    networking: Opt(
      Type.Union([Type.Literal('DEFAULT'), Type.Literal('NONE')], {
        description: 'dsjobs addition: NONE runs the job with no network (loopback only). Absent: DEFAULT.',
      }),
    ),
  },
  { title: 'JobInfrastructureConfigurationDetails', additionalProperties: false },
);

export const StorageMountConfigurationDetails = Type.Object(
  {
    storageType: Type.Union([Type.Literal('FILE_STORAGE'), Type.Literal('OBJECT_STORAGE')]),
    destinationDirectoryName: Line(255),
    destinationPath: Opt(Line(1024)),
    mountTargetId: Type.Optional(Line(255)),
    exportId: Type.Optional(Line(255)),
    namespace: Type.Optional(Line(255)),
    bucket: Type.Optional(Line(255)),
    prefix: Opt(Line(1024)),
  },
  { title: 'StorageMountConfigurationDetails', additionalProperties: false },
);

/** Objects stored as given (OCI's log and environment details): their size is checked when a request comes in. */
const Loose = Type.Object({}, { additionalProperties: true, maxProperties: 32 });

export const Project = Type.Object(
  {
    id: Ocid,
    timeCreated: Type.String({ format: 'date-time' }),
    displayName: Type.String(),
    description: Opt(Type.String()),
    compartmentId: Ocid,
    createdBy: Type.String(),
    lifecycleState: Type.String(),
    freeformTags: FreeformTags,
    definedTags: DefinedTags,
  },
  { $id: 'Project' },
);

export const CreateProjectDetails = Type.Object(
  {
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    description: Type.Optional(Description()),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'CreateProjectDetails', additionalProperties: false },
);

export const UpdateProjectDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    description: Type.Optional(Description()),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'UpdateProjectDetails', additionalProperties: false },
);

const jobCommon = {
  id: Ocid,
  timeCreated: Type.String({ format: 'date-time' }),
  createdBy: Type.String(),
  projectId: Ocid,
  compartmentId: Ocid,
  displayName: Type.String(),
  lifecycleState: Type.Union(['CREATING', 'ACTIVE', 'DELETING', 'FAILED', 'DELETED'].map((v) => Type.Literal(v))),
  freeformTags: FreeformTags,
  definedTags: DefinedTags,
};

export const JobSummary = Type.Object(
  {
    ...jobCommon,
    jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails,
  },
  { $id: 'JobSummary' },
);

export const Job = Type.Object(
  {
    ...jobCommon,
    description: Opt(Type.String()),
    lifecycleDetails: Opt(Type.String()),
    jobConfigurationDetails: JobConfigurationDetails,
    jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails,
    jobEnvironmentConfigurationDetails: Opt(Loose),
    jobLogConfigurationDetails: Opt(Loose),
    jobStorageMountConfigurationDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    jobNodeConfigurationDetails: Opt(Loose),
    artifactFileName: Opt(Type.String({ description: 'dsjobs: the uploaded artifact file name' })),
    artifactContentLength: Opt(Type.Integer({ description: 'dsjobs: artifact size in bytes' })),
    artifactContentMd5: Opt(Type.String({ description: 'dsjobs: base64 MD5 of the artifact' })),
  },
  { $id: 'Job' },
);

export const CreateJobDetails = Type.Object(
  {
    projectId: Ocid,
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    description: Type.Optional(Description()),
    jobConfigurationDetails: Type.Optional(JobConfigurationDetails),
    // Required but for a multi-node job, whose node groups carry their own (checked by the service, naming it).
    jobInfrastructureConfigurationDetails: Opt(JobInfrastructureConfigurationDetails),
    jobEnvironmentConfigurationDetails: Opt(Loose),
    jobLogConfigurationDetails: Opt(Loose),
    jobStorageMountConfigurationDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    jobNodeConfigurationDetails: Opt(Loose),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'CreateJobDetails', additionalProperties: false },
);

/** Only what OCI lets you change on a job; anything else is refused by name (additionalProperties: false). */
export const UpdateJobDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    description: Type.Optional(Description()),
    jobInfrastructureConfigurationDetails: Type.Optional(JobInfrastructureConfigurationDetails),
    jobStorageMountConfigurationDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'UpdateJobDetails', additionalProperties: false },
);

const runCommon = {
  id: Ocid,
  timeAccepted: Type.String({ format: 'date-time' }),
  timeStarted: Opt(Type.String({ format: 'date-time' })),
  timeFinished: Opt(Type.String({ format: 'date-time' })),
  createdBy: Type.String(),
  projectId: Ocid,
  compartmentId: Ocid,
  jobId: Ocid,
  displayName: Type.String(),
  lifecycleState: Type.Union(
    ['ACCEPTED', 'IN_PROGRESS', 'FAILED', 'SUCCEEDED', 'CANCELING', 'CANCELED', 'DELETED', 'NEEDS_ATTENTION'].map((v) =>
      Type.Literal(v),
    ),
  ),
  lifecycleDetails: Opt(Type.String()),
  freeformTags: FreeformTags,
  definedTags: DefinedTags,
  exitCode: Opt(Type.Integer({ description: "dsjobs: the artifact process's exit code once it has ended" })),
};

export const JobRunSummary = Type.Object(runCommon, { $id: 'JobRunSummary' });

export const JobRun = Type.Object(
  {
    ...runCommon,
    jobConfigurationOverrideDetails: JobConfigurationDetails,
    jobInfrastructureConfigurationDetails: JobInfrastructureConfigurationDetails,
    jobInfrastructureConfigurationOverrideDetails: Opt(JobInfrastructureConfigurationDetails),
    jobEnvironmentConfigurationOverrideDetails: Opt(Loose),
    jobLogConfigurationOverrideDetails: Opt(Loose),
    jobStorageMountConfigurationDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    jobStorageMountConfigurationOverrideDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    logDetails: Opt(Type.Object({ logGroupId: Type.String(), logId: Type.String() })),
    jobNodeConfigurationOverrideDetails: Opt(Loose),
    nodeGroupDetailsList: Opt(
      Type.Array(
        Type.Object({
          name: Type.String(),
          lifecycleState: Type.Union(['CREATING', 'ACTIVE', 'DELETING', 'DELETED', 'FAILED'].map((v) => Type.Literal(v))),
          lifecycleDetails: Opt(Type.String()),
        }),
        { description: "a multi-node run's node groups and their states" },
      ),
    ),
    isolationDetails: Opt(
      Type.Object(
        {
          sandbox: Type.String({ description: 'NATIVE (the native supervisor sets the namespaces up), BUBBLEWRAP, CONTAINER (a container engine) or NONE' }),
          network: Type.String({ description: 'HOST or NONE' }),
          cpuLimit: Type.String({ description: 'ENFORCED or NOT_ENFORCED' }),
          memoryLimit: Type.String({ description: 'ENFORCED or NOT_ENFORCED' }),
          processTree: Type.String({ description: 'PID_NAMESPACE, CGROUP or PROCESS_GROUP: how every process of the run is found and killed' }),
          blockStorage: Type.String({ description: 'VOLUME, DIRECTORY_LIMIT (a watched size) or NOT_ENFORCED' }),
          gpus: Type.Array(Type.String(), { description: 'GPUs given to the run (UUIDs)' }),
          warnings: Type.Array(Type.String(), { description: 'each protection that is off or weaker than asked, and why' }),
        },
        { description: 'dsjobs addition: what protected the run, as it was set up; null until it started' },
      ),
    ),
  },
  { $id: 'JobRun' },
);

export const JobRunMetrics = Type.Object(
  {
    intervalSeconds: Type.Number(),
    collected: Type.Boolean(),
    reason: Opt(Type.String()),
    items: Type.Array(
      Type.Object({
        name: Type.String({ description: 'CpuUtilization, MemoryUtilization, DiskUtilization, GpuUtilization or GpuMemoryUtilization' }),
        unit: Type.String(),
        datapoints: Type.Array(Type.Object({ timestamp: Type.String(), value: Type.Number() })),
      }),
    ),
  },
  { $id: 'JobRunMetrics' },
);

export const CreateJobRunDetails = Type.Object(
  {
    projectId: Ocid,
    compartmentId: Ocid,
    jobId: Ocid,
    displayName: Type.Optional(DisplayName()),
    jobConfigurationOverrideDetails: Opt(Type.Partial(JobConfigurationDetails)),
    jobInfrastructureConfigurationOverrideDetails: Opt(JobInfrastructureConfigurationDetails),
    jobEnvironmentConfigurationOverrideDetails: Opt(Loose),
    jobLogConfigurationOverrideDetails: Opt(Loose),
    jobStorageMountConfigurationOverrideDetailsList: Opt(Type.Array(StorageMountConfigurationDetails, { maxItems: 64 })),
    jobNodeConfigurationOverrideDetails: Opt(Loose),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'CreateJobRunDetails', additionalProperties: false },
);

export const UpdateJobRunDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    freeformTags: Type.Optional(FreeformTags),
    definedTags: Type.Optional(DefinedTags),
  },
  { $id: 'UpdateJobRunDetails', additionalProperties: false },
);

export const JobShapeSummary = Type.Object(
  {
    name: Type.String(),
    coreCount: Type.Integer({ description: "a fixed shape's OCPUs, a flex shape's most" }),
    memoryInGBs: Type.Integer({ description: "a fixed shape's memory, a flex shape's most" }),
    shapeSeries: Type.String(),
    gpuCount: Type.Optional(Type.Integer({ description: 'dsjobs: GPUs of the shape' })),
    isFlex: Type.Optional(Type.Boolean({ description: 'dsjobs: accepts jobShapeConfigDetails' })),
    isDefault: Type.Optional(Type.Boolean({ description: 'dsjobs: the shape the CLI and console use when none is named' })),
    isRunnableHere: Type.Optional(Type.Boolean({ description: 'dsjobs: this server can run it (jobs of other shapes are refused)' })),
    notRunnableReason: Type.Optional(Type.String({ description: 'dsjobs: what it needs against what this server has' })),
    maxOcpusHere: Type.Optional(Type.Number({ description: 'dsjobs, flex shapes: the most OCPUs a run can have here' })),
    maxMemoryInGBsHere: Type.Optional(Type.Number({ description: 'dsjobs, flex shapes: the most memory a run can have here' })),
  },
  { $id: 'JobShapeSummary' },
);

const WorkRequestResource = Type.Object({
  actionType: Type.String(),
  entityType: Type.String(),
  identifier: Type.String(),
  entityUri: Type.Optional(Type.String()),
});

export const WorkRequest = Type.Object(
  {
    id: Type.String(),
    operationType: Type.String(),
    status: Type.String(),
    compartmentId: Type.String(),
    percentComplete: Type.Number(),
    resources: Type.Array(WorkRequestResource),
    timeAccepted: Type.String(),
    timeStarted: Type.Optional(Type.String()),
    timeFinished: Type.Optional(Type.String()),
  },
  { $id: 'WorkRequest' },
);

export const WorkRequestError = Type.Object({ code: Type.String(), message: Type.String(), timestamp: Type.String() }, { $id: 'WorkRequestError' });
export const WorkRequestLogEntry = Type.Object({ message: Type.String(), timestamp: Type.String() }, { $id: 'WorkRequestLogEntry' });

export const FastLaunchJobConfigSummary = Type.Object(
  {
    name: Type.String(),
    shapeName: Type.String(),
    coreCount: Type.Integer(),
    memoryInGBs: Type.Integer(),
    shapeSeries: Type.String(),
    managedEgressSupport: Type.Union(['REQUIRED', 'SUPPORTED', 'UNSUPPORTED'].map((v) => Type.Literal(v))),
  },
  { $id: 'FastLaunchJobConfigSummary' },
);

export const ServerInfo = Type.Object(
  {
    version: Type.String(),
    authentication: Type.Boolean({ description: 'Whether API requests must carry an OCI signature (docs/identity.md)' }),
    tls: Type.Boolean({ description: 'Whether the server speaks HTTPS' }),
    region: Type.String(),
    tenancyId: Type.String(),
    defaultCompartmentId: Type.String(),
    capacity: Type.Object({ cpus: Type.Number(), memoryInGBs: Type.Number(), gpus: Type.Integer() }),
    defaultShapeName: Type.Optional(Type.String({ description: 'dsjobs: the shape the CLI and console use when none is named' })),
    executor: Type.String(),
    protections: Type.Object(
      { enforced: Type.Array(Type.String()), off: Type.Array(Type.String()) },
      { description: 'What protects runs on this host, and what is off and why' },
    ),
    database: Type.Object(
      { status: Type.Union([Type.Literal('OK'), Type.Literal('DAMAGED')]), message: Type.Optional(Type.String()) },
      { description: 'DAMAGED once SQLite answered that the database file is damaged; message says how to recover' },
    ),
    vaultId: Type.Optional(Type.String({ description: "dsjobs: the tenancy's vault, what CreateSecret's vaultId names (docs/secrets.md)" })),
    vaultKeyId: Type.Optional(Type.String({ description: "dsjobs: the vault's master encryption key, what CreateSecret's keyId names" })),
  },
  { $id: 'ServerInfo' },
);

export const LogRecord = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String({ format: 'date-time' }),
    stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
    message: Type.String(),
  },
  { $id: 'LogRecord', description: 'One line of NDJSON from GET /jobRuns/{id}/logs' },
);

/** The lists of automation resources: a compartment and keyset pages (opc-next-page), no sorting or other filters. */
export const PagedListQuery = Type.Object({
  compartmentId: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  page: Type.Optional(Type.String()),
});

/** The project, job and run lists: the paged list's query, plus sorting and filters. */
export const ListQuery = Type.Composite([
  PagedListQuery,
  Type.Object({
    sortBy: Type.Optional(Type.Union([Type.Literal('timeCreated'), Type.Literal('displayName')])),
    sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
    displayName: Type.Optional(Type.String()),
    lifecycleState: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
  }),
]);

export const CloudEvent = Type.Object(
  {
    specversion: Type.Literal('1.0'),
    id: Type.String(),
    source: Type.String(),
    type: Type.String(),
    subject: Type.String({ description: 'OCID of the resource that changed' }),
    time: Type.String({ format: 'date-time' }),
    datacontenttype: Type.Literal('application/json'),
    compartmentid: Type.String(),
    projectid: Type.Optional(Type.String()),
    jobid: Type.Optional(Type.String()),
    sequence: Type.String({ description: 'dsjobs: position in the event log (ascending)' }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'the resource as the API returns it' }),
  },
  { $id: 'CloudEvent', description: 'A CloudEvents 1.0 event (JSON format)' },
);

export const EventFilter = Type.Object(
  {
    eventTypes: Type.Optional(Type.Array(Line(255), { maxItems: 64, description: 'event types (docs/events.md); empty or absent: all' })),
    compartmentId: Type.Optional(Ocid),
    projectId: Type.Optional(Ocid),
    jobId: Type.Optional(Ocid),
    lifecycleStates: Type.Optional(Type.Array(Line(64), { maxItems: 32, description: "the resource's state after the change, e.g. SUCCEEDED" })),
  },
  { $id: 'EventFilter', additionalProperties: false },
);

export const WebhookSubscription = Type.Object(
  {
    id: Ocid,
    compartmentId: Ocid,
    displayName: Type.String(),
    url: Type.String(),
    filter: EventFilter,
    lifecycleState: Type.Union([Type.Literal('ACTIVE'), Type.Literal('PAUSED'), Type.Literal('DELETED')]),
    timeCreated: Type.String({ format: 'date-time' }),
    secret: Type.Optional(Type.String({ description: 'whsec_ signing secret: returned by create only' })),
  },
  { $id: 'WebhookSubscription' },
);

export const CreateWebhookSubscriptionDetails = Type.Object(
  {
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    url: Type.String({ maxLength: 2048 }),
    filter: Type.Optional(EventFilter),
  },
  { $id: 'CreateWebhookSubscriptionDetails', additionalProperties: false },
);

export const UpdateWebhookSubscriptionDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    url: Type.Optional(Type.String({ maxLength: 2048 })),
    filter: Type.Optional(EventFilter),
  },
  { $id: 'UpdateWebhookSubscriptionDetails', additionalProperties: false },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'also the webhook-id header: the same on every attempt' }),
    subscriptionId: Ocid,
    eventId: Type.String(),
    status: Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED')]),
    attempts: Type.Integer(),
    timeNextAttempt: Opt(Type.String({ format: 'date-time' })),
    lastStatusCode: Opt(Type.Integer()),
    lastError: Opt(Type.String()),
    attemptLog: Type.Array(
      Type.Object({
        time: Type.String({ format: 'date-time' }),
        statusCode: Opt(Type.Integer()),
        error: Opt(Type.String()),
        durationMs: Type.Number(),
      }),
    ),
    timeCreated: Type.String({ format: 'date-time' }),
    timeUpdated: Type.String({ format: 'date-time' }),
  },
  { $id: 'WebhookDelivery' },
);

export const WebhookTestResult = Type.Object(
  { ok: Type.Boolean(), statusCode: Opt(Type.Integer()), error: Opt(Type.String()), durationMs: Type.Number() },
  { $id: 'WebhookTestResult' },
);

export const RunOverrides = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    environmentVariables: Type.Optional(Type.Record(Type.String(), Type.String(), { maxProperties: 1_000 })),
    commandLineArguments: Type.Optional(Type.String({ maxLength: 4_000 })),
    maximumRuntimeInMinutes: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { title: 'RunOverrides', additionalProperties: false, description: 'Overrides of the runs an automation starts' },
);

export const TriggerRule = Type.Object(
  {
    id: Ocid,
    compartmentId: Ocid,
    displayName: Type.String(),
    lifecycleState: Type.Union([Type.Literal('ACTIVE'), Type.Literal('INACTIVE'), Type.Literal('DELETED')]),
    eventFilter: Nullable(EventFilter),
    jobId: Ocid,
    projectId: Ocid,
    overrides: RunOverrides,
    triggerPath: Type.String({ description: 'POST here with the token (authorization: Bearer <token>) to start a run' }),
    triggerToken: Type.Optional(Type.String({ description: 'returned by create only' })),
    timeCreated: Type.String({ format: 'date-time' }),
  },
  { $id: 'TriggerRule' },
);

export const CreateTriggerRuleDetails = Type.Object(
  {
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    jobId: Ocid,
    eventFilter: Opt(EventFilter),
    overrides: Type.Optional(RunOverrides),
  },
  { $id: 'CreateTriggerRuleDetails', additionalProperties: false },
);

export const UpdateTriggerRuleDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    eventFilter: Opt(EventFilter),
    overrides: Type.Optional(RunOverrides),
  },
  { $id: 'UpdateTriggerRuleDetails', additionalProperties: false },
);

export const Schedule = Type.Object(
  {
    id: Ocid,
    compartmentId: Ocid,
    displayName: Type.String(),
    lifecycleState: Type.Union([Type.Literal('ACTIVE'), Type.Literal('INACTIVE'), Type.Literal('DELETED')]),
    cron: Type.String(),
    timeZone: Type.String(),
    misfirePolicy: Type.Union([Type.Literal('SKIP'), Type.Literal('RUN_ONCE')]),
    jobId: Ocid,
    projectId: Ocid,
    overrides: RunOverrides,
    timeLastFire: Type.String({ format: 'date-time', description: 'planned time of the last fire handled' }),
    lastRunId: Opt(Type.String()),
    timeNextRuns: Type.Array(Type.String({ format: 'date-time' }), { description: 'the next planned fire times' }),
    timeCreated: Type.String({ format: 'date-time' }),
  },
  { $id: 'Schedule' },
);

const MisfirePolicy = Type.Union([Type.Literal('SKIP'), Type.Literal('RUN_ONCE')]);

export const CreateScheduleDetails = Type.Object(
  {
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    jobId: Ocid,
    cron: Type.String({ minLength: 1, maxLength: 255 }),
    timeZone: Type.Optional(Line(64)),
    misfirePolicy: Type.Optional(MisfirePolicy),
    overrides: Type.Optional(RunOverrides),
  },
  { $id: 'CreateScheduleDetails', additionalProperties: false },
);

export const UpdateScheduleDetails = Type.Object(
  {
    displayName: Type.Optional(DisplayName()),
    cron: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    timeZone: Type.Optional(Line(64)),
    misfirePolicy: Type.Optional(MisfirePolicy),
    overrides: Type.Optional(RunOverrides),
  },
  { $id: 'UpdateScheduleDetails', additionalProperties: false },
);

const SweepMetric = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128 }), goal: Type.Union([Type.Literal('MINIMIZE'), Type.Literal('MAXIMIZE')]) },
  { additionalProperties: false },
);
const SweepParameters = Type.Object(
  {
    environmentVariables: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String({ maxLength: 1_024 }), { minItems: 1, maxItems: 1_000 }), { maxProperties: 64 }),
    ),
    commandLineArguments: Type.Optional(Type.Array(Type.String({ maxLength: 4_000 }), { minItems: 1, maxItems: 1_000 })),
  },
  { additionalProperties: false },
);
const SweepFinal = Type.Object(
  { jobId: Type.Optional(Ocid), overrides: Type.Optional(RunOverrides) },
  { additionalProperties: false, description: 'start one run with the best parameters once every trial has ended' },
);

export const CreateSweepDetails = Type.Object(
  {
    compartmentId: Ocid,
    displayName: Type.Optional(DisplayName()),
    jobId: Ocid,
    strategy: Type.Optional(Type.Union([Type.Literal('GRID'), Type.Literal('RANDOM')])),
    parameters: SweepParameters,
    sampleCount: Type.Optional(Type.Integer({ minimum: 1 })),
    seed: Type.Optional(Type.Integer()),
    maxParallel: Type.Integer({ minimum: 1, maximum: 10_000 }),
    metric: SweepMetric,
    overrides: Type.Optional(RunOverrides),
    final: Opt(SweepFinal),
  },
  { $id: 'CreateSweepDetails', additionalProperties: false },
);

export const SweepTrial = Type.Object(
  {
    index: Type.Integer(),
    parameters: Type.Object({ environmentVariables: Type.Record(Type.String(), Type.String()), commandLineArguments: Type.Optional(Type.String()) }),
    jobRunId: Opt(Type.String()),
    lifecycleState: Type.String({ description: 'PENDING (no run yet), RUNNING, or the final state of its run' }),
    metrics: Type.Record(Type.String(), Type.Number()),
    rank: Opt(Type.Integer({ description: '1 = best by the sweep metric; null without the metric' })),
  },
  { $id: 'SweepTrial' },
);

export const Sweep = Type.Object(
  {
    id: Ocid,
    compartmentId: Ocid,
    projectId: Ocid,
    jobId: Ocid,
    displayName: Type.String(),
    strategy: Type.Union([Type.Literal('GRID'), Type.Literal('RANDOM')]),
    parameters: SweepParameters,
    sampleCount: Opt(Type.Integer()),
    seed: Opt(Type.Integer()),
    maxParallel: Type.Integer(),
    metric: SweepMetric,
    overrides: RunOverrides,
    final: Opt(SweepFinal),
    lifecycleState: Type.String(),
    lifecycleDetails: Opt(Type.String()),
    trialCount: Type.Integer(),
    trialCounts: Type.Record(Type.String(), Type.Integer(), { description: 'trials by lifecycleState' }),
    best: Opt(SweepTrial),
    finalJobRunId: Opt(Type.String()),
    timeCreated: Type.String({ format: 'date-time' }),
    timeFinished: Opt(Type.String({ format: 'date-time' })),
  },
  { $id: 'Sweep' },
);
