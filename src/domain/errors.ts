/**
 * The one error class of dsjobs. Codes are OCI's service error codes; `api/error-status.ts` is the one place that
 * maps them to HTTP statuses. Messages are user-facing: a validation error names the field and the reason.
 */
export type ErrorCode =
  | 'InvalidParameter'
  | 'MissingParameter'
  | 'NotAuthenticated'
  | 'NotAuthorizedOrNotFound'
  | 'IncorrectState'
  | 'NoEtagMatch'
  | 'Conflict'
  | 'InvalidatedRetryToken'
  | 'NotFound'
  | 'TooManyRequests'
  | 'LimitExceeded'
  | 'NotImplemented'
  | 'InternalServerError'
  | 'ServiceUnavailable'
  | 'PayloadTooLarge'
  | 'InsufficientStorage'
  // Object Storage's own codes (the oci-objectstorage SDK and OCI tooling match on them).
  | 'BucketNotFound'
  | 'ObjectNotFound'
  | 'NamespaceNotFound'
  | 'NoSuchUpload'
  | 'BucketAlreadyExists'
  | 'BucketNotEmpty'
  | 'IfMatchFailed'
  | 'IfNoneMatchFailed'
  | 'UnmatchedContentMD5'
  | 'InvalidRange'
  | 'NotModified';

export class DsError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'DsError';
    this.code = code;
    this.field = field;
  }
}

export const invalid = (field: string, reason: string): DsError =>
  new DsError('InvalidParameter', `${field}: ${reason}`, field);

export const notFound = (what: string, id: string): DsError =>
  new DsError('NotAuthorizedOrNotFound', `${what} ${id} was not found or you are not authorized to access it`);

/**
 * For a `.catch`: null for a resource that is not there (or not to be seen: the 404 a get answers); any other
 * failure (the database) passes on.
 */
export const nullIfNotFound = (e: unknown): null => {
  if (e instanceof DsError && e.code === 'NotAuthorizedOrNotFound') return null;
  throw e;
};

export const incorrectState = (message: string): DsError => new DsError('IncorrectState', message);

/**
 * The data disk (or a quota on it) is full: errno ENOSPC/EDQUOT from a file, SQLITE_FULL from the database (which
 * rolled the transaction back). It passes once space is freed, so it is answered 507, not 500, and retried.
 */
export function isOutOfSpace(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

export const outOfSpace = (): DsError =>
  new DsError(
    'InsufficientStorage',
    "The server's data disk is full (no space left on device); nothing was changed. Retry once space has been freed.",
  );

/** SQLSTATE classes and codes that mean "the server is not there now": connection exceptions, shutdowns, starting up. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * The database could not be reached (PostgreSQL restarting, the network between): the statement did not run, or
 * its transaction rolled back, and the same work can be tried again once it answers. Never true of SQLite, a file.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  const message = err instanceof Error ? err.message : '';
  // pg's own words for a connection that ended under a query, or a pool that could not get one in time.
  return /Connection terminated|not queryable|timeout exceeded when trying to connect/.test(message);
}
