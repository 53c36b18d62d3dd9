import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { IdentityService } from '../../service/identity.js';
import { errorResponses, header, withEtag } from '../http.js';
import { apiKeyWire, userWire } from '../identity-wire.js';
import { IdentityListQuery, IdentityTags } from '../identity-user-schemas.js';

const tags = ['identity'];
const IdParams = Type.Object({ userId: Type.String() });

/** OCI Identity's users, their state (blocked) and their API signing keys. */
export async function userRoutes(app: App, identity: IdentityService): Promise<void> {
  const keyWire = apiKeyWire(identity.tenancyId);
  app.post(
    '/users',
    {
      schema: {
        tags,
        operationId: 'CreateUser',
        body: Type.Object(
          { compartmentId: Type.String(), name: Type.String(), description: Type.String(), email: Type.Optional(Type.String()), ...IdentityTags },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const u = await identity.createUser(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, u);
      return userWire(u);
    },
  );
  app.get(
    '/users',
    {
      schema: {
        tags,
        operationId: 'ListUsers',
        querystring: Type.Composite([IdentityListQuery, Type.Object({ identityProviderId: Type.Optional(Type.String()), externalIdentifier: Type.Optional(Type.String()) })]),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const page = await identity.listUsers(req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(userWire);
    },
  );
  app.get('/users/:userId', { schema: { tags, operationId: 'GetUser', params: IdParams, response: errorResponses } }, async (req, reply) => {
    const u = await identity.getUser(req.params.userId);
    withEtag(reply, u);
    return userWire(u);
  });
  app.put(
    '/users/:userId',
    {
      schema: {
        tags,
        operationId: 'UpdateUser',
        params: IdParams,
        body: Type.Object(
          { description: Type.Optional(Type.String()), email: Type.Optional(Type.String()), dbUserName: Type.Optional(Type.String()), ...IdentityTags },
          { additionalProperties: false },
        ),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const u = await identity.updateUser(req.params.userId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, u);
      return userWire(u);
    },
  );
  app.put(
    '/users/:userId/state',
    {
      schema: {
        tags,
        operationId: 'UpdateUserState',
        params: IdParams,
        body: Type.Object({ blocked: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const u = await identity.setUserBlocked(req.params.userId, req.body?.blocked ?? false, header(req, 'if-match'));
      withEtag(reply, u);
      return userWire(u);
    },
  );
  app.delete('/users/:userId', { schema: { tags, operationId: 'DeleteUser', params: IdParams } }, async (req, reply) => {
    await identity.deleteUser(req.params.userId, header(req, 'if-match'));
    reply.code(204).send();
  });

  app.post(
    '/users/:userId/uiPassword',
    { schema: { tags, operationId: 'CreateOrResetUIPassword', params: IdParams, response: errorResponses } },
    async (req) => {
      const p = await identity.resetPassword(req.params.userId);
      return { password: p.password, userId: p.userId, timeCreated: p.timeCreated, lifecycleState: 'ACTIVE' };
    },
  );
  app.post(
    '/users/:userId/apiKeys',
    {
      schema: {
        tags,
        operationId: 'UploadApiKey',
        params: IdParams,
        body: Type.Object({ key: Type.String() }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req) => keyWire(await identity.uploadApiKey(req.params.userId, req.body, header(req, 'opc-retry-token'))),
  );
  app.get('/users/:userId/apiKeys', { schema: { tags, operationId: 'ListApiKeys', params: IdParams, response: errorResponses } }, async (req) =>
    (await identity.listApiKeys(req.params.userId)).map(keyWire),
  );
  app.delete(
    '/users/:userId/apiKeys/:fingerprint',
    { schema: { tags, operationId: 'DeleteApiKey', params: Type.Object({ userId: Type.String(), fingerprint: Type.String() }) } },
    async (req, reply) => {
      await identity.deleteApiKey(req.params.userId, req.params.fingerprint);
      reply.code(204).send();
    },
  );
}
