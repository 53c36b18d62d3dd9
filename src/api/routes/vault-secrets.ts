import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { SecretsService } from '../../service/secrets.js';
import { errorResponses, header } from '../http.js';
import { etagOf } from '../../service/common.js';
import { invalid } from '../../domain/errors.js';
import { DefinedTags, FreeformTags, LIMITS, NO_CONTROL_CHARS_BUT_LINES, Ocid } from '../schemas.js';
import { secretSummaryWire, secretVersionWire, secretWire } from '../secrets-wire.js';

const tags = ['vault'];
const IdParams = Type.Object({ secretId: Type.String() });
const SecretContent = Type.Object(
  {
    contentType: Type.String({ description: 'BASE64, the only content type OCI defines' }),
    content: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    stage: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const Metadata = Type.Record(Type.String(), Type.Unknown());
const Description = Type.String({ maxLength: LIMITS.descriptionChars, pattern: NO_CONTROL_CHARS_BUT_LINES });
/** What CreateSecret and UpdateSecret both may set (the create adds where the secret lives, and its name). */
const SecretSettings = {
  description: Type.Optional(Description),
  freeformTags: Type.Optional(FreeformTags),
  definedTags: Type.Optional(DefinedTags),
  metadata: Type.Optional(Metadata),
  secretContent: Type.Optional(SecretContent),
};
const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  page: Type.Optional(Type.String()),
  sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
};

/**
 * OCI Vault's secret management (20180608) that the oci-vault SDK's VaultsClient calls: create, get, list, update
 * (rotation: new contents make a new current version), deletion scheduling and cancelling, versions.
 */
export async function vaultSecretRoutes(app: App, secrets: SecretsService): Promise<void> {
  const withEtag = (reply: { header(k: string, v: string): unknown }, s: { id: string; version: number }) => reply.header('etag', etagOf(s.id, s.version));
  app.post(
    '/secrets',
    {
      schema: {
        tags,
        operationId: 'CreateSecret',
        body: Type.Object(
          {
            compartmentId: Ocid,
            secretName: Type.String(),
            vaultId: Type.String(),
            keyId: Type.String(),
            ...SecretSettings,
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const s = await secrets.create(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, s);
      return secretWire(s);
    },
  );
  app.get(
    '/secrets',
    {
      schema: {
        tags,
        operationId: 'ListSecrets',
        querystring: Type.Object({
          compartmentId: Type.String(),
          name: Type.Optional(Type.String()),
          vaultId: Type.Optional(Type.String()),
          lifecycleState: Type.Optional(Type.String()),
          sortBy: Type.Optional(Type.Union([Type.Literal('TIMECREATED'), Type.Literal('NAME')])),
          ...PageQuery,
        }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const page = await secrets.list(req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(secretSummaryWire);
    },
  );
  app.get('/secrets/:secretId', { schema: { tags, operationId: 'GetSecret', params: IdParams, response: errorResponses } }, async (req, reply) => {
    const s = await secrets.get(req.params.secretId);
    withEtag(reply, s);
    return secretWire(s);
  });
  app.put(
    '/secrets/:secretId',
    {
      schema: {
        tags,
        operationId: 'UpdateSecret',
        params: IdParams,
        body: Type.Object(
          {
            currentVersionNumber: Type.Optional(Type.Integer({ minimum: 1 })),
            ...SecretSettings,
          },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const s = await secrets.update(req.params.secretId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, s);
      return secretWire(s);
    },
  );
  app.post(
    '/secrets/:secretId/actions/scheduleDeletion',
    {
      schema: {
        tags,
        operationId: 'ScheduleSecretDeletion',
        params: IdParams,
      },
    },
    async (req, reply) => {
      // The body is optional (the SDK sends none for empty details), so it is checked here rather than by a schema.
      const body = (req.body ?? {}) as { timeOfDeletion?: unknown };
      if (typeof body !== 'object' || Array.isArray(body)) throw invalid('body', 'must be an object: {timeOfDeletion}');
      const extra = Object.keys(body).find((k) => k !== 'timeOfDeletion');
      if (extra !== undefined) throw invalid(extra, 'is not a field that can be set here');
      if (body.timeOfDeletion !== undefined && typeof body.timeOfDeletion !== 'string') throw invalid('timeOfDeletion', 'must be an RFC 3339 time');
      await secrets.scheduleDeletion(req.params.secretId, body.timeOfDeletion, header(req, 'if-match'));
      reply.code(200).send();
    },
  );
  app.post(
    '/secrets/:secretId/actions/cancelDeletion',
    { schema: { tags, operationId: 'CancelSecretDeletion', params: IdParams } },
    async (req, reply) => {
      await secrets.cancelDeletion(req.params.secretId, header(req, 'if-match'));
      reply.code(200).send();
    },
  );
  app.get(
    '/secrets/:secretId/versions',
    {
      schema: {
        tags,
        operationId: 'ListSecretVersions',
        params: IdParams,
        querystring: Type.Object({ sortBy: Type.Optional(Type.Literal('VERSION_NUMBER')), ...PageQuery }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { secret, page } = await secrets.listVersions(req.params.secretId, req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((v) => secretVersionWire(secret, v));
    },
  );
  app.get(
    '/secrets/:secretId/version/:secretVersionNumber',
    {
      schema: {
        tags,
        operationId: 'GetSecretVersion',
        params: Type.Object({ secretId: Type.String(), secretVersionNumber: Type.Integer({ minimum: 1 }) }),
        response: errorResponses,
      },
    },
    async (req) => {
      const { secret, version } = await secrets.getVersion(req.params.secretId, req.params.secretVersionNumber);
      return secretVersionWire(secret, version);
    },
  );
}
