import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { IdentityStore } from '../../src/store/identity-store.js';
import { IdentityService } from '../../src/service/identity.js';
import { systemClock } from '../../src/service/common.js';
import { currentStore, forEachStore } from '../support/stores.js';

/** Over a real SQLite store: what the authorizer will read from identities (the tree and a principal's groups). */
forEachStore(() => {
  test('the compartment tree in memory follows every compartment write; a principal carries its groups, read fresh', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-identity-'));
    const store = await currentStore().open(dir);
    try {
      const server = { region: 'local', tenancyId: 'ocid1.tenancy.dsjobs..t', defaultCompartmentId: 'ocid1.compartment.dsjobs..d', userId: 'ocid1.user.dsjobs..admin' };
      const identity = new IdentityService(store, new IdentityStore(store), server, systemClock);
      await identity.ensureRoot('dsjobs');
      const tree = identity.tree;
      assert.equal(tree.parentOf(server.tenancyId), null);
      assert.equal(tree.parentOf(server.defaultCompartmentId), server.tenancyId);
      const a = await identity.createCompartment({ compartmentId: server.tenancyId, name: 'Team-A', description: 'A' });
      const a1 = await identity.createCompartment({ compartmentId: a.id, name: 'exp', description: 'A/exp' });
      assert.equal(tree.parentOf(a1.id), a.id);
      assert.equal(tree.childByName(server.tenancyId, 'team-a'), a.id, 'names compare case-insensitively');
      await identity.updateCompartment(a.id, { name: 'team-b' });
      assert.equal(tree.nameOf(a.id), 'team-b');
      assert.equal(tree.childByName(server.tenancyId, 'team-a'), undefined);
      await identity.deleteCompartment(a1.id);
      assert.equal(tree.parentOf(a1.id), undefined);

      const alice = await identity.createUser({ compartmentId: server.tenancyId, name: 'alice', description: 'Alice' });
      const g = await identity.createGroup({ compartmentId: server.tenancyId, name: 'team-a', description: 'A' });
      assert.deepEqual(await identity.userPrincipal(alice.id), { kind: 'user', userId: alice.id, groupNames: [] });
      const m = await identity.addUserToGroup({ userId: alice.id, groupId: g.id });
      assert.deepEqual(await identity.userPrincipal(alice.id), { kind: 'user', userId: alice.id, groupNames: ['team-a'] });
      await identity.removeUserFromGroup(m.id);
      assert.deepEqual(await identity.userPrincipal(alice.id), { kind: 'user', userId: alice.id, groupNames: [] });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
