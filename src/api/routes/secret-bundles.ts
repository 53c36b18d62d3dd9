import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { SecretsService } from '../../service/secrets.js';
import { errorResponses } from '../http.js';
import { bundleVersionWire, bundleWire } from '../secrets-wire.js';

const tags = ['secrets'];
const Selector = {
  versionNumber: Type.Optional(Type.Integer({ minimum: 1 })),
  secretVersionName: Type.Optional(Type.String()),
  stage: Type.Optional(Type.String()),
};

/**
 * OCI's Secrets service (20190301), what the oci-secrets SDK's SecretsClient calls: a secret's contents (a bundle)
 * by its OCID or by its name in a vault, and the list of its versions. A bundle read by a run's principal has its
 * value masked in that run's log from then on (SecretsService).
 */
export async function secretBundleRoutes(app: App, secrets: SecretsService): Promise<void> {
  app.get(
    '/secretbundles/:secretId',
    { schema: { tags, operationId: 'GetSecretBundle', params: Type.Object({ secretId: Type.String() }), querystring: Type.Object(Selector), response: errorResponses } },
    async (req) => bundleWire(await secrets.getBundle(req.params.secretId, req.query, req.principal)),
  );
  app.post(
    '/secretbundles/actions/getByName',
    {
      schema: {
        tags,
        operationId: 'GetSecretBundleByName',
        querystring: Type.Object({ secretName: Type.String(), vaultId: Type.String(), ...Selector }),
        response: errorResponses,
      },
    },
    async (req) => {
      const { secretName, vaultId, ...sel } = req.query;
      return bundleWire(await secrets.getBundleByName(vaultId, secretName, sel, req.principal));
    },
  );
  app.get(
    '/secretbundles/:secretId/versions',
    {
      schema: {
        tags,
        operationId: 'ListSecretBundleVersions',
        params: Type.Object({ secretId: Type.String() }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          page: Type.Optional(Type.String()),
          sortBy: Type.Optional(Type.Literal('VERSION_NUMBER')),
          sortOrder: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
        }),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { secret, page } = await secrets.listVersions(req.params.secretId, req.query);
      if (page.nextPage) reply.header('opc-next-page', page.nextPage);
      return page.items.map((v) => bundleVersionWire(secret, v));
    },
  );
}
