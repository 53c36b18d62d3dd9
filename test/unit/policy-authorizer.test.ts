/**
 * The Authorizer over a real SQLite store and the policies service: decisions follow policy and dynamic-group writes
 * at once (the compiled set is dropped by each write), denials are the 404 a missing resource gets, lists are
 * filtered, and the policies are compiled once per change rather than per request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { PolicyStore } from '../../src/store/policy-store.js';
import { PoliciesService } from '../../src/service/policies.js';
import { Authorizer } from '../../src/service/authorizer.js';
import { StaticCompartmentTree } from '../../src/domain/policy/compartment-tree.js';
import { DsError } from '../../src/domain/errors.js';
import type { Principal } from '../../src/domain/principal.js';
import { currentStore, forEachStore } from '../support/stores.js';

const T = 'ocid1.tenancy.dsjobs..root';
const D = 'ocid1.compartment.dsjobs..default';
const identity = { region: 'local', tenancyId: T, defaultCompartmentId: D, userId: 'ocid1.user.dsjobs..admin' };
const tree = new StaticCompartmentTree([
  { id: T, parentId: null, name: 'tenancy' },
  { id: D, parentId: T, name: 'default' },
]);
const admin: Principal = { kind: 'user', userId: 'ocid1.user.dsjobs..admin', groupNames: ['Administrators'] };
const dev: Principal = { kind: 'user', userId: 'ocid1.user.dsjobs..dev', groupNames: ['Developers'] };

async function withServices(fn: (s: { policies: PoliciesService; authorizer: Authorizer; loads: () => number }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-authz-'));
  const store = await currentStore().open(dir);
  try {
    const policyStore = new PolicyStore(store);
    let loads = 0;
    const counted = {
      allPolicies: () => {
        loads++;
        return policyStore.allPolicies();
      },
      allDynamicGroups: () => policyStore.allDynamicGroups(),
    };
    const authorizer = new Authorizer(counted, tree);
    const policies = new PoliciesService(store, policyStore, identity, { now: () => Date.now() }, { onChange: () => authorizer.invalidate() });
    await fn({ policies, authorizer, loads: () => loads });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

forEachStore(() => {
  test('the bootstrap policy works; decisions follow policy writes at once; policies compile once per change', async () => {
    await withServices(async ({ policies, authorizer, loads }) => {
      // Nothing is allowed before any policy exists.
      await assert.rejects(authorizer.authorize(admin, 'CreateJob', D), { code: 'NotAuthorizedOrNotFound' });
      const boot = await policies.createPolicy({
        compartmentId: T,
        name: 'Bootstrap',
        description: 'administrators manage everything',
        statements: ['Allow group Administrators to manage all-resources in tenancy'],
      });
      for (const op of ['CreateJob', 'CreateJobRun', 'DeleteProject', 'CreatePolicy', 'CreateDynamicGroup', 'GetSecretBundle']) {
        await authorizer.authorize(admin, op, D);
        await authorizer.authorize(admin, op, T);
      }
      await assert.rejects(authorizer.authorize(dev, 'ListJobs', D), { code: 'NotAuthorizedOrNotFound' });

      const before = loads();
      for (let i = 0; i < 50; i++) await authorizer.authorize(admin, 'GetJob', D);
      assert.equal(loads(), before, 'no reload (nor re-parse) per request');

      const devPolicy = await policies.createPolicy({
        compartmentId: T,
        name: 'Developers',
        description: 'developers read jobs in the default compartment',
        statements: ['Allow group Developers to read data-science-jobs in compartment default'],
      });
      await authorizer.authorize(dev, 'GetJob', D);
      await assert.rejects(authorizer.authorize(dev, 'GetJob', T), { code: 'NotAuthorizedOrNotFound' });
      await assert.rejects(authorizer.authorize(dev, 'UpdateJob', D), { code: 'NotAuthorizedOrNotFound' });

      await policies.updatePolicy(devPolicy.id, { statements: ['Allow group Developers to use data-science-jobs in compartment default'] });
      await authorizer.authorize(dev, 'UpdateJob', D);

      await policies.deletePolicy(devPolicy.id);
      await assert.rejects(authorizer.authorize(dev, 'GetJob', D), { code: 'NotAuthorizedOrNotFound' });
      await policies.deletePolicy(boot.id);
      await assert.rejects(authorizer.authorize(admin, 'GetJob', D), { code: 'NotAuthorizedOrNotFound' });
    });
  });

  test('a denial reads exactly as a missing resource does (no existence leak)', async () => {
    await withServices(async ({ authorizer }) => {
      const denied = await authorizer.authorize(dev, 'GetJob', D, { what: 'Job', id: 'ocid1.datasciencejob.dsjobs.local.x' }).catch((e) => e);
      assert.ok(denied instanceof DsError);
      assert.equal(denied.code, 'NotAuthorizedOrNotFound');
      assert.equal(denied.message, 'Job ocid1.datasciencejob.dsjobs.local.x was not found or you are not authorized to access it');
    });
  });

  test('dynamic-group writes change what run principals may do', async () => {
    await withServices(async ({ policies, authorizer }) => {
      const runInD: Principal = { kind: 'run', runId: 'ocid1.datasciencejobrun.dsjobs.local.r', compartmentId: D };
      await policies.createPolicy({
        compartmentId: T,
        name: 'runs',
        description: 'runs of the default compartment start runs there',
        statements: ['Allow dynamic-group default-runs to use data-science-job-runs in compartment default'],
      });
      await assert.rejects(authorizer.authorize(runInD, 'CreateJobRun', D), { code: 'NotAuthorizedOrNotFound' });
      const g = await policies.createDynamicGroup({
        compartmentId: T,
        name: 'default-runs',
        description: 'every run in the default compartment',
        matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${D}'}`,
      });
      await authorizer.authorize(runInD, 'CreateJobRun', D);
      await policies.updateDynamicGroup(g.id, { matchingRule: `resource.compartment.id = '${T}'` });
      await assert.rejects(authorizer.authorize(runInD, 'CreateJobRun', D), { code: 'NotAuthorizedOrNotFound' });
    });
  });

  test('filterListable keeps what the principal may list', async () => {
    await withServices(async ({ policies, authorizer }) => {
      await policies.createPolicy({
        compartmentId: T,
        name: 'dev',
        description: 'developers list jobs in default',
        statements: ['Allow group Developers to inspect data-science-jobs in compartment default'],
      });
      const items = [
        { id: 'a', compartmentId: D },
        { id: 'b', compartmentId: T },
        { id: 'c', compartmentId: D },
      ];
      assert.deepEqual((await authorizer.filterListable(dev, 'ListJobs', items, (i) => i.compartmentId)).map((i) => i.id), ['a', 'c']);
      assert.deepEqual(await authorizer.filterListable(dev, 'ListJobRuns', items, (i) => i.compartmentId), []);
    });
  });

  test('a load that raced a write is not kept: the next request sees the write', async () => {
    const T2 = { ...identity };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let stored = [{ id: 'ocid1.policy..1', name: 'old', compartmentId: T2.tenancyId, statements: ['Allow group Developers to read data-science-jobs in tenancy'] }];
    const source = {
      allPolicies: async () => {
        const snapshot = stored;
        await gate;
        return snapshot;
      },
      allDynamicGroups: async () => [],
    };
    const authorizer = new Authorizer(source, tree);
    const first = authorizer.decide(dev, 'GetJob', D);
    // The policy is removed while the load is in flight, and the write invalidates.
    stored = [];
    authorizer.invalidate();
    release();
    assert.equal((await first).allowed, true, 'the request that started before the write sees the old set');
    assert.equal((await authorizer.decide(dev, 'GetJob', D)).allowed, false, 'the next one sees the write');
  });
});
