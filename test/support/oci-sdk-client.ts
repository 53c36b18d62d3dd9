// Test helper: an unmodified official `oci-datascience` SDK client pointed at a local
// server (e.g. http://127.0.0.1:PORT). See docs/notes-oci-sdk.md for the wire details.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as common from 'oci-common';
import { DataScienceClient } from 'oci-datascience';
import { IdentityClient } from 'oci-identity';
import { VaultsClient } from 'oci-vault';
import { SecretsClient } from 'oci-secrets';
import { AuditClient } from 'oci-audit';
import { LoggingManagementClient } from 'oci-logging';
import { LogSearchClient } from 'oci-loggingsearch';
import { LoggingClient } from 'oci-loggingingestion';
import { ObjectStorageClient } from 'oci-objectstorage';

export const TEST_TENANCY_OCID = 'ocid1.tenancy.oc1..dsjobstesttenancy';
export const TEST_USER_OCID = 'ocid1.user.oc1..dsjobstestuser';
export const TEST_FINGERPRINT = '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff';

let cachedKeyPem: string | undefined;

/** RSA key generated at runtime (once per process; 2048-bit keygen takes ~50-200 ms). */
function testPrivateKeyPem(): string {
  if (!cachedKeyPem) {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    cachedKeyPem = privateKey;
  }
  return cachedKeyPem;
}

/**
 * How the official SDK authenticates: with `configFile` (the OCI config the server wrote at first start), the SDK's
 * own ConfigFileAuthenticationDetailsProvider, unchanged; without one, a key the server does not know (its requests
 * are refused where authentication is on).
 */
export function ociProvider(configFile?: string, profile = 'DEFAULT'): common.AuthenticationDetailsProvider {
  if (configFile) return new common.ConfigFileAuthenticationDetailsProvider(configFile, profile);
  return new common.SimpleAuthenticationDetailsProvider(
    TEST_TENANCY_OCID,
    TEST_USER_OCID,
    TEST_FINGERPRINT,
    testPrivateKeyPem(),
    null,
    // No region: with a region the constructor would compute a real OCI endpoint (overridden below anyway).
  );
}

/** One attempt, no circuit breaker: a test sees each answer as the server gave it. */
const clientConfiguration = () => ({
  // One attempt only (the default for most operations is 8 attempts with exponential
  // backoff up to 30 s on 5xx / network errors / 409 IncorrectState / 429 TooManyRequests).
  retryConfiguration: {
    terminationStrategy: new common.MaxAttemptsTerminationStrategy(1),
    backupBinaryBody: false,
  },
  // Default is a per-client opossum breaker that opens after >=10 requests with >=80% retryable failures.
  circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
});

/** An IdentityClient (oci-identity, unmodified) that talks to `baseUrl`, signing with `configFile`'s profile. */
export function makeIdentityClient(baseUrl: string, configFile?: string, profile?: string): { client: IdentityClient; close(): void } {
  const client = new IdentityClient({ authenticationDetailsProvider: ociProvider(configFile, profile) }, clientConfiguration() as never);
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return { client, close: () => client.close() };
}

/** A VaultsClient (oci-vault, unmodified: secret management, /20180608) that talks to `baseUrl`. */
export function makeVaultsClient(baseUrl: string, configFile?: string, profile?: string): { client: VaultsClient; close(): void } {
  const client = new VaultsClient({ authenticationDetailsProvider: ociProvider(configFile, profile) }, clientConfiguration() as never);
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return { client, close: () => client.close() };
}

/** A SecretsClient (oci-secrets, unmodified: secret bundles, /20190301) that talks to `baseUrl`. */
export function makeSecretsClient(baseUrl: string, configFile?: string, profile?: string): { client: SecretsClient; close(): void } {
  const client = new SecretsClient({ authenticationDetailsProvider: ociProvider(configFile, profile) }, clientConfiguration() as never);
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return { client, close: () => client.close() };
}

/** An AuditClient (oci-audit, unmodified) that talks to `baseUrl` (it appends /20190901), signing with `configFile`'s profile. */
export function makeAuditClient(baseUrl: string, configFile?: string, profile?: string): { client: AuditClient; close(): void } {
  const client = new AuditClient({ authenticationDetailsProvider: ociProvider(configFile, profile) }, clientConfiguration() as never);
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return { client, close: () => client.close() };
}

/**
 * Builds a DataScienceClient that talks to `baseUrl` (scheme://host:port, without /20190101;
 * the SDK appends /20190101 itself). No ~/.oci config, no retries, no circuit breaker; signed with `configFile`'s
 * profile (see ociProvider).
 */
export function makeOciClient(baseUrl: string, configFile?: string, profile?: string): { client: DataScienceClient; close(): void } {
  const provider = ociProvider(configFile, profile);
  const client = new DataScienceClient(
    { authenticationDetailsProvider: provider },
    {
      // One attempt only (the default for most operations is 8 attempts with exponential
      // backoff up to 30 s on 5xx / network errors / 409 IncorrectState / 429 TooManyRequests).
      retryConfiguration: {
        terminationStrategy: new common.MaxAttemptsTerminationStrategy(1),
        backupBinaryBody: false,
      },
      // Default is a per-client opossum breaker that opens after >=10 requests with >=80% retryable failures.
      circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
    },
  );
  // The setter appends "/20190101"; strip trailing slashes to avoid "//20190101".
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return {
    client,
    close() {
      client.close();
    },
  };
}

/** Shape of the error the SDK throws for a non-2xx HTTP response (oci-common OciError). */
export interface OciErrorLike extends Error {
  statusCode: number;
  serviceCode: string; // body.code, or "None" when the body lacks code+message
  opcRequestId: string | null; // from the response's opc-request-id header
}

/**
 * `err instanceof common.OciError` is FALSE in this repo: oci-datascience bundles its own
 * oci-common copy (node_modules/oci-datascience/node_modules/oci-common), so the thrown class
 * differs from the top-level `oci-common` export. Check the shape instead.
 */
export function isOciError(err: unknown): err is OciErrorLike {
  return (
    err instanceof Error &&
    typeof (err as Partial<OciErrorLike>).statusCode === 'number' &&
    typeof (err as Partial<OciErrorLike>).serviceCode === 'string'
  );
}

/** Runs `fn` expecting an SDK error and returns it; the SDK's console.warn lines for failed calls are swallowed meanwhile. */
export async function expectOciError(fn: () => Promise<unknown>): Promise<OciErrorLike> {
  const warn = console.warn;
  console.warn = () => {};
  try {
    await fn();
  } catch (err) {
    assert.ok(isOciError(err), `expected an OciError, got ${String(err)} ${JSON.stringify(err)}`);
    return err;
  } finally {
    console.warn = warn;
  }
  assert.fail('expected the SDK call to fail');
}

/** The official Logging clients (oci-logging management, oci-loggingsearch, oci-loggingingestion), unmodified, talking to `baseUrl`. */
export function makeLoggingClients(baseUrl: string, configFile?: string, profile?: string) {
  const auth = { authenticationDetailsProvider: ociProvider(configFile, profile) };
  const management = new LoggingManagementClient(auth, clientConfiguration() as never);
  const search = new LogSearchClient(auth, clientConfiguration() as never);
  const ingestion = new LoggingClient(auth, clientConfiguration() as never);
  const endpoint = baseUrl.replace(/\/+$/, '');
  management.endpoint = endpoint;
  search.endpoint = endpoint;
  ingestion.endpoint = endpoint;
  return {
    management,
    search,
    ingestion,
    close: () => {
      management.close();
      search.close();
      ingestion.close();
    },
  };
}

/** An ObjectStorageClient (oci-objectstorage, unmodified: /n/...) that talks to `baseUrl`. */
export function makeObjectStorageClient(baseUrl: string, configFile?: string, profile?: string): { client: ObjectStorageClient; close(): void } {
  const client = new ObjectStorageClient({ authenticationDetailsProvider: ociProvider(configFile, profile) }, clientConfiguration() as never);
  client.endpoint = baseUrl.replace(/\/+$/, '');
  return { client, close: () => client.close() };
}
