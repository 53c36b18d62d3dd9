import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { App } from '../app.js';
import { errorResponses, header } from '../http.js';
import { Ocid } from '../schemas.js';
import type { CompartmentMoves } from '../../service/compartment-moves.js';

/** OCI's ChangeCompartmentDetails bodies: the target compartment, nothing else. */
const Body = Type.Object({ compartmentId: Ocid }, { additionalProperties: false });

/** ChangeProjectCompartment, ChangeJobCompartment, ChangeJobRunCompartment: 200 with no body, as OCI answers them. */
export async function compartmentMoveRoutes(app: App, moves: CompartmentMoves): Promise<void> {
  const ok = (reply: FastifyReply) => reply.code(200).send();
  app.post(
    '/projects/:projectId/actions/changeCompartment',
    { schema: { tags: ['projects'], operationId: 'ChangeProjectCompartment', params: Type.Object({ projectId: Type.String() }), body: Body, response: errorResponses } },
    async (req, reply) => {
      await moves.moveProject(req.params.projectId, req.body.compartmentId, header(req, 'if-match'));
      ok(reply as FastifyReply);
    },
  );
  app.post(
    '/jobs/:jobId/actions/changeCompartment',
    { schema: { tags: ['jobs'], operationId: 'ChangeJobCompartment', params: Type.Object({ jobId: Type.String() }), body: Body, response: errorResponses } },
    async (req, reply) => {
      await moves.moveJob(req.params.jobId, req.body.compartmentId, header(req, 'if-match'));
      ok(reply as FastifyReply);
    },
  );
  app.post(
    '/jobRuns/:jobRunId/actions/changeCompartment',
    { schema: { tags: ['jobRuns'], operationId: 'ChangeJobRunCompartment', params: Type.Object({ jobRunId: Type.String() }), body: Body, response: errorResponses } },
    async (req, reply) => {
      await moves.moveRun(req.params.jobRunId, req.body.compartmentId, header(req, 'if-match'));
      ok(reply as FastifyReply);
    },
  );
}
