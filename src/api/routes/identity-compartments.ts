import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { IdentityService } from '../../service/identity.js';
import { errorResponses, header, withEtag } from '../http.js';
import { compartmentWire } from '../identity-wire.js';
import { IdentityTags, IdentityListQuery } from '../identity-user-schemas.js';

const tags = ['identity'];
const IdParams = Type.Object({ compartmentId: Type.String() });

/** OCI Identity's compartments (20160918): the tree under the tenancy. */
export async function compartmentRoutes(app: App, identity: IdentityService): Promise<void> {
  app.post(
    '/compartments',
    {
      schema: {
        tags,
        operationId: 'CreateCompartment',
        body: Type.Object({ compartmentId: Type.String(), name: Type.String(), description: Type.String(), ...IdentityTags }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const c = await identity.createCompartment(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, c);
      return compartmentWire(c);
    },
  );
  app.get(
    '/compartments',
    {
      schema: {
        tags,
        operationId: 'ListCompartments',
        querystring: Type.Composite([
          IdentityListQuery,
          Type.Object({ accessLevel: Type.Optional(Type.String()), compartmentIdInSubtree: Type.Optional(Type.Boolean()) }),
        ]),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const page = await identity.listCompartments(req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(compartmentWire);
    },
  );
  app.get('/compartments/:compartmentId', { schema: { tags, operationId: 'GetCompartment', params: IdParams, response: errorResponses } }, async (req, reply) => {
    const c = await identity.getCompartment(req.params.compartmentId);
    withEtag(reply, c);
    return compartmentWire(c);
  });
  app.put(
    '/compartments/:compartmentId',
    {
      schema: {
        tags,
        operationId: 'UpdateCompartment',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Type.String()), description: Type.Optional(Type.String()), ...IdentityTags }, { additionalProperties: false }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const c = await identity.updateCompartment(req.params.compartmentId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, c);
      return compartmentWire(c);
    },
  );
  app.get(
    '/tenancies/:tenancyId',
    { schema: { tags, operationId: 'GetTenancy', params: Type.Object({ tenancyId: Type.String() }), response: errorResponses } },
    async (req) => {
      const t = await identity.getTenancy(req.params.tenancyId);
      return { id: t.id, name: t.name, description: t.description, homeRegionKey: identity.region, freeformTags: t.freeformTags, definedTags: t.definedTags };
    },
  );
  app.delete('/compartments/:compartmentId', { schema: { tags, operationId: 'DeleteCompartment', params: IdParams } }, async (req, reply) => {
    await identity.deleteCompartment(req.params.compartmentId, header(req, 'if-match'));
    reply.code(204).send();
  });
}
