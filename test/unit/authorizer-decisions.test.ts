/**
 * The Authorizer keeps its decisions (a create asks three per request): a kept decision is reused while nothing it
 * depends on changed, and is gone the moment something did: a policy write, a compartment write (the live tree's
 * version), or the principal's groups (part of the key). Real SQLite store, policies service and live tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { PolicyStore } from '../../src/store/policy-store.js';
import type { CompartmentRecord } from '../../src/store/identity-store.js';
import { PoliciesService } from '../../src/service/policies.js';
import { Authorizer } from '../../src/service/authorizer.js';
import { LiveCompartmentTree } from '../../src/service/compartment-tree.js';
import type { Principal } from '../../src/domain/principal.js';

const T = 'ocid1.tenancy.dsjobs..root';
const TEAM = 'ocid1.compartment.dsjobs..team';
const identity = { region: 'local', tenancyId: T, defaultCompartmentId: TEAM, userId: 'ocid1.user.dsjobs..admin' };
const dev: Principal = { kind: 'user', userId: 'ocid1.user.dsjobs..dev', groupNames: ['Developers'] };

const compartment = (id: string, parentId: string | null, name: string, lifecycleState = 'ACTIVE') =>
  ({ id, parentId, name, lifecycleState }) as unknown as CompartmentRecord;

async function withAuthorizer(fn: (s: { policies: PoliciesService; authorizer: Authorizer; tree: LiveCompartmentTree }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-decisions-'));
  const store = await Store.openSqlite(path.join(dir, 'dsjobs.db'));
  try {
    const tree = new LiveCompartmentTree();
    tree.load([compartment(T, null, 'tenancy'), compartment(TEAM, T, 'team')]);
    const policyStore = new PolicyStore(store);
    const authorizer = new Authorizer(policyStore, tree);
    const policies = new PoliciesService(store, policyStore, identity, { now: () => Date.now() }, {
      compartmentExists: (id) => tree.parentOf(id) !== undefined,
      onChange: () => authorizer.invalidate(),
    });
    await fn({ policies, authorizer, tree });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const allowed = async (a: Authorizer, p: Principal, op: string, c: string) => (await a.decide(p, op, c)).allowed;

test('a kept decision is reused until a policy write: a deleted policy denies the next request', async () => {
  await withAuthorizer(async ({ policies, authorizer }) => {
    const policy = await policies.createPolicy({
      compartmentId: T,
      name: 'Developers',
      description: 'developers run jobs in team',
      statements: ['Allow group Developers to manage data-science-family in compartment team'],
    });
    const first = await authorizer.decide(dev, 'CreateJobRun', TEAM);
    assert.equal(first.allowed, true);
    assert.equal(await authorizer.decide(dev, 'CreateJobRun', TEAM), first, 'the second ask is the kept decision');
    await policies.deletePolicy(policy.id);
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), false, 'a deleted policy grants nothing from the next request on');
  });
});

test('a compartment write drops the kept decisions: renamed or deleted, a compartment a statement names grants no more', async () => {
  await withAuthorizer(async ({ policies, authorizer, tree }) => {
    await policies.createPolicy({
      compartmentId: T,
      name: 'Developers',
      description: 'developers run jobs in team',
      statements: ['Allow group Developers to manage data-science-family in compartment team'],
    });
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), true);
    // What IdentityService does after it commits a rename: the statement names `team`, which is no more.
    tree.put(compartment(TEAM, T, 'renamed'));
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), false, 'decided on the tree as it is now');
    tree.put(compartment(TEAM, T, 'team'));
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), true);
    tree.put(compartment(TEAM, T, 'team', 'DELETED'));
    // A compartment no longer in the tree is decided as the tenancy by the API (authorization.ts); here, as itself.
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), false);
  });
});

test("a principal's groups are part of what is kept: another group set is decided afresh", async () => {
  await withAuthorizer(async ({ policies, authorizer }) => {
    await policies.createPolicy({
      compartmentId: T,
      name: 'Developers',
      description: 'developers run jobs in team',
      statements: ['Allow group Developers to manage data-science-family in compartment team'],
    });
    assert.equal(await allowed(authorizer, dev, 'CreateJobRun', TEAM), true);
    // The same user after leaving the group (IdentityService reads its groups afresh after a membership write).
    const left: Principal = { kind: 'user', userId: dev.userId, groupNames: [] };
    assert.equal(await allowed(authorizer, left, 'CreateJobRun', TEAM), false);
    const run: Principal = { kind: 'run', runId: 'ocid1.datasciencejobrun.dsjobs..r', compartmentId: TEAM };
    assert.equal(await allowed(authorizer, run, 'CreateJobRun', TEAM), false, 'a run principal is not the user');
  });
});
