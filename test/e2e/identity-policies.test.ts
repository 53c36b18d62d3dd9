/**
 * Policies and dynamic groups through the UNMODIFIED official `oci-identity` SDK against a real server process:
 * create, get, list (filters, order, paging), update with etags, delete; statements and matching rules that do not
 * parse are refused with the index, column and reason; names are unique in the tenancy; retry tokens replay.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as identity from 'oci-identity';
import { startServer, type TestServer } from '../support/server.js';
import { makeIdentityClient, expectOciError } from '../support/oci-sdk-client.js';

let s: TestServer;
let client: identity.IdentityClient;
let tenancyId: string;

before(async () => {
  s = await startServer();
  tenancyId = ((await (await fetch(`${s.url}/20190101/serverInfo`)).json()) as { tenancyId: string }).tenancyId;
  // Signed as the administrator, with the OCI config file the server wrote at first start.
  client = makeIdentityClient(s.url, s.configFile).client;
});
after(async () => {
  client?.close();
  await s?.close();
});


const BOOTSTRAP = 'Allow group Administrators to manage all-resources in tenancy';

test('policies: create, get, list, update with etags, delete, through the official SDK', async () => {
  const created = await client.createPolicy({
    createPolicyDetails: { compartmentId: tenancyId, name: 'Administrators', description: 'administrators manage everything', statements: [BOOTSTRAP], freeformTags: { team: 'ops' } },
    opcRetryToken: 'create-admins-1',
  });
  const p = created.policy;
  assert.match(p.id, /^ocid1\.policy\./);
  assert.equal(p.compartmentId, tenancyId);
  assert.equal(p.name, 'Administrators');
  assert.deepEqual(p.statements, [BOOTSTRAP]);
  assert.equal(p.lifecycleState, identity.models.Policy.LifecycleState.Active);
  assert.ok(!Number.isNaN(new Date(p.timeCreated).getTime()), `timeCreated ${String(p.timeCreated)}`);
  assert.deepEqual(p.freeformTags, { team: 'ops' });
  assert.ok(created.etag);

  // The same retry token and body give back the same policy.
  const replay = await client.createPolicy({
    createPolicyDetails: { compartmentId: tenancyId, name: 'Administrators', description: 'administrators manage everything', statements: [BOOTSTRAP], freeformTags: { team: 'ops' } },
    opcRetryToken: 'create-admins-1',
  });
  assert.equal(replay.policy.id, p.id);

  const got = await client.getPolicy({ policyId: p.id });
  assert.deepEqual(got.policy.statements, [BOOTSTRAP]);
  assert.equal(got.etag, created.etag);

  const second = (
    await client.createPolicy({
      createPolicyDetails: {
        compartmentId: tenancyId,
        name: 'data-scientists',
        description: 'data scientists work in the default compartment',
        statements: [`Allow group DataScientists to use data-science-family in compartment id ${s.compartmentId}`, 'Allow group DataScientists to read buckets in tenancy'],
      },
    })
  ).policy;
  // A policy attached to the default compartment (below the tenancy) names compartments from there.
  const local = (
    await client.createPolicy({
      createPolicyDetails: { compartmentId: s.compartmentId, name: 'local', description: 'attached below the tenancy', statements: [`Allow group Readers to read data-science-jobs in compartment id ${s.compartmentId}`] },
    })
  ).policy;

  const byName = await client.listPolicies({ compartmentId: tenancyId, sortBy: identity.requests.ListPoliciesRequest.SortBy.Name, sortOrder: identity.requests.ListPoliciesRequest.SortOrder.Asc });
  // The first start attached the administrators' policy to the tenancy too.
  assert.deepEqual(byName.items.map((x) => x.name), ['Administrators', 'data-scientists', 'Tenant Admin Policy'], 'a list shows the policies attached to that compartment only');
  assert.deepEqual((await client.listPolicies({ compartmentId: s.compartmentId })).items.map((x) => x.id), [local.id]);
  assert.deepEqual((await client.listPolicies({ compartmentId: tenancyId, name: 'data-scientists' })).items.map((x) => x.id), [second.id]);
  const page1 = await client.listPolicies({ compartmentId: tenancyId, limit: 1 });
  assert.equal(page1.items.length, 1);
  assert.ok(page1.opcNextPage);
  const page2 = await client.listPolicies({ compartmentId: tenancyId, limit: 1, page: page1.opcNextPage });
  assert.equal(page2.items.length, 1);
  assert.notEqual(page2.items[0].id, page1.items[0].id);
  // Three policies in the tenancy (the administrators' one included): a third page, then none.
  assert.ok(page2.opcNextPage);
  const page3 = await client.listPolicies({ compartmentId: tenancyId, limit: 1, page: page2.opcNextPage });
  assert.equal(page3.items.length, 1);
  assert.ok(![page1.items[0].id, page2.items[0].id].includes(page3.items[0].id));
  assert.equal(page3.opcNextPage, undefined);

  const stale = await expectOciError(() => client.updatePolicy({ policyId: second.id, ifMatch: created.etag, updatePolicyDetails: { description: 'x' } }));
  assert.equal(stale.statusCode, 412);
  const secondEtag = (await client.getPolicy({ policyId: second.id })).etag;
  const updated = await client.updatePolicy({
    policyId: second.id,
    ifMatch: secondEtag,
    updatePolicyDetails: { statements: ["Allow group DataScientists to read data-science-family in tenancy where request.operation != 'GetJobArtifactContent'"] },
  });
  assert.deepEqual(updated.policy.statements, ["Allow group DataScientists to read data-science-family in tenancy where request.operation != 'GetJobArtifactContent'"]);
  assert.equal(updated.policy.description, 'data scientists work in the default compartment');
  assert.notEqual(updated.etag, secondEtag);

  await client.deletePolicy({ policyId: second.id, ifMatch: updated.etag });
  const gone = await expectOciError(() => client.getPolicy({ policyId: second.id }));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.serviceCode, 'NotAuthorizedOrNotFound');
  await client.deletePolicy({ policyId: local.id });
});

test('a statement that does not parse is refused at create and update with its index, column and reason', async () => {
  const bad = await expectOciError(() =>
    client.createPolicy({
      createPolicyDetails: { compartmentId: tenancyId, name: 'broken', description: 'second statement is wrong', statements: [BOOTSTRAP, 'Allow group Admins manage all-resources in tenancy'] },
    }),
  );
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.serviceCode, 'InvalidParameter');
  assert.equal(bad.message, "statements[1]: expected 'to' at column 20, found 'manage'");

  const cases: [string[], string][] = [
    [['Allow group A to manage data-science-widgets in tenancy'], "statements[0]: unknown resource type 'data-science-widgets' at column 25"],
    [['Allow group A to read all-resources in tenancy where request.colour = "x"'], 'statements[0]: unknown variable'],
    [[], 'statements: must hold 1-50 statements'],
  ];
  for (const [statements, message] of cases) {
    const e = await expectOciError(() => client.createPolicy({ createPolicyDetails: { compartmentId: tenancyId, name: 'broken', description: 'd', statements } }));
    assert.equal(e.statusCode, 400);
    assert.ok(e.message.startsWith(message), e.message);
  }
  // `in tenancy` needs a policy attached to the tenancy.
  const below = await expectOciError(() =>
    client.createPolicy({ createPolicyDetails: { compartmentId: s.compartmentId, name: 'below', description: 'd', statements: [BOOTSTRAP] } }),
  );
  assert.equal(below.statusCode, 400);
  assert.match(below.message, /^statements\[0\]: 'in tenancy' is allowed only in a policy attached to the tenancy/);
  assert.equal((await client.listPolicies({ compartmentId: tenancyId, name: 'broken' })).items.length, 0, 'nothing was written');

  const p = (await client.createPolicy({ createPolicyDetails: { compartmentId: tenancyId, name: 'fine', description: 'd', statements: ['Allow group A to inspect data-science-jobs in tenancy'] } })).policy;
  const badUpdate = await expectOciError(() => client.updatePolicy({ policyId: p.id, updatePolicyDetails: { statements: ['Allow group A to inspect data-science-jobs in tenancy', 'Allow group A to inspect data-science-jobs'] } }));
  assert.equal(badUpdate.statusCode, 400);
  assert.equal(badUpdate.message, "statements[1]: expected 'in' at column 43, found the end of the statement");
  assert.deepEqual((await client.getPolicy({ policyId: p.id })).policy.statements, ['Allow group A to inspect data-science-jobs in tenancy'], 'unchanged');
  await client.deletePolicy({ policyId: p.id });
});

test('bad compartments, names, and duplicate names are refused naming the field', async () => {
  const cases: [identity.models.CreatePolicyDetails, number, RegExp][] = [
    [{ compartmentId: 'nope', name: 'x', description: 'd', statements: [BOOTSTRAP] }, 400, /^compartmentId: must be an OCID/],
    [{ compartmentId: 'ocid1.compartment.oc1..elsewhere', name: 'x', description: 'd', statements: [BOOTSTRAP] }, 400, /^compartmentId: compartment ocid1\.compartment\.oc1\.\.elsewhere does not exist/],
    [{ compartmentId: tenancyId, name: 'bad/name', description: 'd', statements: [BOOTSTRAP] }, 400, /^name: must be 1-100 characters/],
    [{ compartmentId: tenancyId, name: 'x', description: '', statements: [BOOTSTRAP] }, 400, /^description: must be 1-400 characters/],
  ];
  for (const [details, status, message] of cases) {
    const e = await expectOciError(() => client.createPolicy({ createPolicyDetails: details }));
    assert.equal(e.statusCode, status, e.message);
    assert.match(e.message, message);
  }
  const first = (await client.createPolicy({ createPolicyDetails: { compartmentId: tenancyId, name: 'Unique', description: 'd', statements: [BOOTSTRAP] } })).policy;
  const dup = await expectOciError(() => client.createPolicy({ createPolicyDetails: { compartmentId: s.compartmentId, name: 'UNIQUE', description: 'd', statements: ['Allow group A to read data-science-jobs in compartment x'] } }));
  assert.equal(dup.statusCode, 409);
  assert.match(dup.message, /named 'UNIQUE' already exists/);
  await client.deletePolicy({ policyId: first.id });
});

test('dynamic groups: create, get, list, update, delete; matching rules are parsed; they live in the tenancy', async () => {
  const rule = `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${s.compartmentId}'}`;
  const created = await client.createDynamicGroup({
    createDynamicGroupDetails: { compartmentId: tenancyId, name: 'default-runs', description: 'job runs in the default compartment', matchingRule: rule },
  });
  const g = created.dynamicGroup;
  assert.match(g.id, /^ocid1\.dynamicgroup\./);
  assert.equal(g.matchingRule, rule);
  assert.equal(g.lifecycleState, identity.models.DynamicGroup.LifecycleState.Active);
  assert.deepEqual((await client.getDynamicGroup({ dynamicGroupId: g.id })).dynamicGroup.name, 'default-runs');
  assert.deepEqual((await client.listDynamicGroups({ compartmentId: tenancyId })).items.map((x) => x.id), [g.id]);

  const badRule = await expectOciError(() =>
    client.createDynamicGroup({ createDynamicGroupDetails: { compartmentId: tenancyId, name: 'bad', description: 'd', matchingRule: "ALL {resource.type = 'datasciencejobrun'" } }),
  );
  assert.equal(badRule.statusCode, 400);
  assert.equal(badRule.message, "matchingRule: expected '}' at column 41, found the end of the statement");
  const notTenancy = await expectOciError(() =>
    client.createDynamicGroup({ createDynamicGroupDetails: { compartmentId: s.compartmentId, name: 'bad', description: 'd', matchingRule: rule } }),
  );
  assert.equal(notTenancy.statusCode, 400);
  assert.match(notTenancy.message, /^compartmentId: dynamic groups live in the tenancy/);
  assert.equal((await expectOciError(() => client.listDynamicGroups({ compartmentId: s.compartmentId }))).statusCode, 400);

  const updated = await client.updateDynamicGroup({ dynamicGroupId: g.id, ifMatch: created.etag, updateDynamicGroupDetails: { matchingRule: "resource.type = 'datasciencejobrun'" } });
  assert.equal(updated.dynamicGroup.matchingRule, "resource.type = 'datasciencejobrun'");
  const badUpdate = await expectOciError(() => client.updateDynamicGroup({ dynamicGroupId: g.id, updateDynamicGroupDetails: { matchingRule: "request.operation = 'x'" } }));
  assert.match(badUpdate.message, /^matchingRule: unknown variable 'request\.operation'/);

  await client.deleteDynamicGroup({ dynamicGroupId: g.id, ifMatch: updated.etag });
  assert.equal((await expectOciError(() => client.getDynamicGroup({ dynamicGroupId: g.id }))).statusCode, 404);
});
