import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { IdentityService } from '../../service/identity.js';
import { errorResponses, header, withEtag } from '../http.js';
import { groupWire, membershipWire } from '../identity-wire.js';
import { IdentityListQuery, IdentityTags } from '../identity-user-schemas.js';

const tags = ['identity'];
const IdParams = Type.Object({ groupId: Type.String() });

/** OCI Identity's groups and user-group memberships. */
export async function groupRoutes(app: App, identity: IdentityService): Promise<void> {
  app.post(
    '/groups',
    {
      schema: {
        tags,
        operationId: 'CreateGroup',
        body: Type.Object({ compartmentId: Type.String(), name: Type.String(), description: Type.String(), ...IdentityTags }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const g = await identity.createGroup(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, g);
      return groupWire(g);
    },
  );
  app.get('/groups', { schema: { tags, operationId: 'ListGroups', querystring: IdentityListQuery, response: errorResponses } }, async (req, reply) => {
    const page = await identity.listGroups(req.query);
    if (page.nextPage) reply.header('opc-next-page', page.nextPage);
    return page.items.map(groupWire);
  });
  app.get('/groups/:groupId', { schema: { tags, operationId: 'GetGroup', params: IdParams, response: errorResponses } }, async (req, reply) => {
    const g = await identity.getGroup(req.params.groupId);
    withEtag(reply, g);
    return groupWire(g);
  });
  app.put(
    '/groups/:groupId',
    {
      schema: {
        tags,
        operationId: 'UpdateGroup',
        params: IdParams,
        body: Type.Object({ description: Type.Optional(Type.String()), ...IdentityTags }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const g = await identity.updateGroup(req.params.groupId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, g);
      return groupWire(g);
    },
  );
  app.delete('/groups/:groupId', { schema: { tags, operationId: 'DeleteGroup', params: IdParams } }, async (req, reply) => {
    await identity.deleteGroup(req.params.groupId, header(req, 'if-match'));
    reply.code(204).send();
  });

  app.post(
    '/userGroupMemberships',
    {
      schema: {
        tags,
        operationId: 'AddUserToGroup',
        body: Type.Object({ userId: Type.String(), groupId: Type.String() }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req) => membershipWire(await identity.addUserToGroup(req.body, header(req, 'opc-retry-token'))),
  );
  app.get(
    '/userGroupMemberships',
    {
      schema: {
        tags,
        operationId: 'ListUserGroupMemberships',
        querystring: Type.Object({
          compartmentId: Type.Optional(Type.String()),
          userId: Type.Optional(Type.String()),
          groupId: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          page: Type.Optional(Type.String()),
        }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const page = await identity.listMemberships(req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(membershipWire);
    },
  );
  const MembershipParams = Type.Object({ userGroupMembershipId: Type.String() });
  app.get(
    '/userGroupMemberships/:userGroupMembershipId',
    { schema: { tags, operationId: 'GetUserGroupMembership', params: MembershipParams, response: errorResponses } },
    async (req) => membershipWire(await identity.getMembership(req.params.userGroupMembershipId)),
  );
  app.delete(
    '/userGroupMemberships/:userGroupMembershipId',
    { schema: { tags, operationId: 'RemoveUserFromGroup', params: MembershipParams } },
    async (req, reply) => {
      await identity.removeUserFromGroup(req.params.userGroupMembershipId);
      reply.code(204).send();
    },
  );
}
