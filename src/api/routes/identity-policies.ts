import { Type, type Static } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, listOrder, withEtag } from '../http.js';
import * as I from '../identity-schemas.js';
import type { DynamicGroupRecord, IdentityListQuery, PolicyRecord } from '../../store/policy-store.js';

const PolicyParams = Type.Object({ policyId: Type.String() });
const GroupParams = Type.Object({ dynamicGroupId: Type.String() });

const policyWire = (p: PolicyRecord) => ({
  id: p.id,
  compartmentId: p.compartmentId,
  name: p.name,
  statements: p.statements,
  description: p.description,
  timeCreated: p.timeCreated,
  lifecycleState: p.lifecycleState,
  versionDate: p.versionDate,
  freeformTags: p.freeformTags,
  definedTags: p.definedTags,
});

const groupWire = (g: DynamicGroupRecord) => ({
  id: g.id,
  compartmentId: g.compartmentId,
  name: g.name,
  description: g.description,
  matchingRule: g.matchingRule,
  timeCreated: g.timeCreated,
  lifecycleState: g.lifecycleState,
  freeformTags: g.freeformTags,
  definedTags: g.definedTags,
});

/** OCI's defaults: TIMECREATED newest first, NAME in alphabetical order; 100 a page. */
function listQuery(q: Static<typeof I.IdentityListQuery>): IdentityListQuery {
  return { compartmentId: q.compartmentId, name: q.name, lifecycleState: q.lifecycleState, ...listOrder(q, 'TIMECREATED') };
}

/** Identity (/20160918) policies and dynamic groups, as the official oci-identity SDK calls them. */
export async function identityPolicyRoutes(app: App, { policies }: ApiDeps): Promise<void> {
  app.post(
    '/policies',
    { schema: { tags: ['identity'], operationId: 'CreatePolicy', body: I.CreatePolicyDetails, response: { 200: I.Policy, ...errorResponses } } },
    async (req, reply) => {
      const p = await policies.createPolicy(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, p);
      return policyWire(p);
    },
  );
  app.get(
    '/policies',
    { schema: { tags: ['identity'], operationId: 'ListPolicies', querystring: I.IdentityListQuery, response: { 200: Type.Array(I.Policy), ...errorResponses } } },
    async (req, reply) => {
      const page = await policies.listPolicies(listQuery(req.query));
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(policyWire);
    },
  );
  app.get(
    '/policies/:policyId',
    { schema: { tags: ['identity'], operationId: 'GetPolicy', params: PolicyParams, response: { 200: I.Policy, ...errorResponses } } },
    async (req, reply) => {
      const p = await policies.getPolicy(req.params.policyId);
      withEtag(reply, p);
      return policyWire(p);
    },
  );
  app.put(
    '/policies/:policyId',
    { schema: { tags: ['identity'], operationId: 'UpdatePolicy', params: PolicyParams, body: I.UpdatePolicyDetails, response: { 200: I.Policy, ...errorResponses } } },
    async (req, reply) => {
      const p = await policies.updatePolicy(req.params.policyId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, p);
      return policyWire(p);
    },
  );
  app.delete(
    '/policies/:policyId',
    { schema: { tags: ['identity'], operationId: 'DeletePolicy', params: PolicyParams } },
    async (req, reply) => {
      await policies.deletePolicy(req.params.policyId, header(req, 'if-match'));
      reply.code(204).send();
    },
  );

  app.post(
    '/dynamicGroups',
    { schema: { tags: ['identity'], operationId: 'CreateDynamicGroup', body: I.CreateDynamicGroupDetails, response: { 200: I.DynamicGroup, ...errorResponses } } },
    async (req, reply) => {
      const g = await policies.createDynamicGroup(req.body, header(req, 'opc-retry-token'));
      withEtag(reply, g);
      return groupWire(g);
    },
  );
  app.get(
    '/dynamicGroups',
    { schema: { tags: ['identity'], operationId: 'ListDynamicGroups', querystring: I.IdentityListQuery, response: { 200: Type.Array(I.DynamicGroup), ...errorResponses } } },
    async (req, reply) => {
      const page = await policies.listDynamicGroups(listQuery(req.query));
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(groupWire);
    },
  );
  app.get(
    '/dynamicGroups/:dynamicGroupId',
    { schema: { tags: ['identity'], operationId: 'GetDynamicGroup', params: GroupParams, response: { 200: I.DynamicGroup, ...errorResponses } } },
    async (req, reply) => {
      const g = await policies.getDynamicGroup(req.params.dynamicGroupId);
      withEtag(reply, g);
      return groupWire(g);
    },
  );
  app.put(
    '/dynamicGroups/:dynamicGroupId',
    { schema: { tags: ['identity'], operationId: 'UpdateDynamicGroup', params: GroupParams, body: I.UpdateDynamicGroupDetails, response: { 200: I.DynamicGroup, ...errorResponses } } },
    async (req, reply) => {
      const g = await policies.updateDynamicGroup(req.params.dynamicGroupId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, g);
      return groupWire(g);
    },
  );
  app.delete(
    '/dynamicGroups/:dynamicGroupId',
    { schema: { tags: ['identity'], operationId: 'DeleteDynamicGroup', params: GroupParams } },
    async (req, reply) => {
      await policies.deleteDynamicGroup(req.params.dynamicGroupId, header(req, 'if-match'));
      reply.code(204).send();
    },
  );
}
