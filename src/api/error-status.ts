import type { ErrorCode } from '../domain/errors.js';

/** The one place where error codes become HTTP statuses (OCI's mapping). */
export const STATUS_OF: Record<ErrorCode, number> = {
  InvalidParameter: 400,
  NotAuthenticated: 401,
  MissingParameter: 400,
  LimitExceeded: 400,
  NotAuthorizedOrNotFound: 404,
  IncorrectState: 409,
  Conflict: 409,
  NoEtagMatch: 412,
  InvalidatedRetryToken: 409,
  NotFound: 404,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  InternalServerError: 500,
  NotImplemented: 501,
  InsufficientStorage: 507,
};
