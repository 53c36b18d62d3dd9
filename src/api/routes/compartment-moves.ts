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
  const routes = [
    { collection: 'projects', param: 'projectId', operationId: 'ChangeProjectCompartment', move: moves.moveProject },
    { collection: 'jobs', param: 'jobId', operationId: 'ChangeJobCompartment', move: moves.moveJob },
    { collection: 'jobRuns', param: 'jobRunId', operationId: 'ChangeJobRunCompartment', move: moves.moveRun },
  ] as const;
  for (const { collection, param, operationId, move } of routes) {
    app.post(
      `/${collection}/:${param}/actions/changeCompartment`,
      { schema: { tags: [collection], operationId, params: Type.Object({ [param]: Type.String() }), body: Body, response: errorResponses } },
      async (req, reply) => {
        await move.call(moves, (req.params as Record<string, string>)[param], req.body.compartmentId, header(req, 'if-match'));
        (reply as FastifyReply).code(200).send();
      },
    );
  }
}
