import { requesterOf } from '../authorization.js';
import { Type } from '@sinclair/typebox';
import type { App, ApiDeps } from '../app.js';
import { errorResponses, header, listQuery, withEtag } from '../http.js';
import { projectWire } from '../presenters.js';
import * as S from '../schemas.js';
import { checkState } from './states.js';

const IdParams = Type.Object({ projectId: Type.String() });

export async function projectRoutes(app: App, { projects }: ApiDeps): Promise<void> {
  app.post(
    '/projects',
    { schema: { tags: ['projects'], operationId: 'CreateProject', body: S.CreateProjectDetails, response: { 200: S.Project, ...errorResponses } } },
    async (req, reply) => {
      const p = await projects.create(req.body, header(req, 'opc-retry-token'), requesterOf(req));
      withEtag(reply, p);
      return projectWire(p);
    },
  );
  app.get(
    '/projects',
    { schema: { tags: ['projects'], operationId: 'ListProjects', querystring: S.ListQuery, response: { 200: Type.Array(S.Project), ...errorResponses } } },
    async (req, reply) => {
      const q = req.query;
      const page = await projects.list(
        listQuery(q, { display_name: q.displayName, lifecycle_state: checkState(q.lifecycleState, ['ACTIVE', 'DELETING', 'DELETED']), id: q.id }),
      );
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map(projectWire);
    },
  );
  app.get(
    '/projects/:projectId',
    { schema: { tags: ['projects'], operationId: 'GetProject', params: IdParams, response: { 200: S.Project, ...errorResponses } } },
    async (req, reply) => {
      const p = await projects.get(req.params.projectId);
      withEtag(reply, p);
      return projectWire(p);
    },
  );
  app.put(
    '/projects/:projectId',
    { schema: { tags: ['projects'], operationId: 'UpdateProject', params: IdParams, body: S.UpdateProjectDetails, response: { 200: S.Project, ...errorResponses } } },
    async (req, reply) => {
      const p = await projects.update(req.params.projectId, req.body ?? {}, header(req, 'if-match'));
      withEtag(reply, p);
      return projectWire(p);
    },
  );
  app.delete(
    '/projects/:projectId',
    { schema: { tags: ['projects'], operationId: 'DeleteProject', params: IdParams } },
    async (req, reply) => {
      const workRequestId = await projects.delete(req.params.projectId, header(req, 'if-match'));
      // OCI answers 202 with the PROJECT_DELETE work request to follow (here finished already).
      reply.code(202).header('opc-work-request-id', workRequestId).send();
    },
  );
}
