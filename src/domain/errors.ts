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
  | 'PreconditionFailed'
  | 'Conflict'
  | 'TooManyRequests'
  | 'LimitExceeded'
  | 'NotImplemented'
  | 'InternalServerError'
  | 'PayloadTooLarge';

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

export const incorrectState = (message: string): DsError => new DsError('IncorrectState', message);
