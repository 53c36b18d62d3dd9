/**
 * Webhook signing secrets are sealed in the database under a key kept in a file of its own: a real store, real
 * key files, real AES-GCM;
 * the store's part on SQLite and on PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebhookStore, type SubscriptionRecord } from '../../src/store/webhook-store.js';
import { SecretBox, SecretKeyError } from '../../src/store/secret-box.js';
import { STORE_KINDS } from '../support/stores.js';

const SECRET = 'whsec_c2VjcmV0LWtleS1ieXRlcy1mb3ItdGVzdGluZw==';

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'dsjobs-secrets-'));
}

const sub = (id: string, secret: string): SubscriptionRecord => ({
  id,
  compartmentId: 'c',
  displayName: id,
  url: 'https://example.com/hook',
  secret,
  filter: {},
  lifecycleState: 'ACTIVE',
  startSeq: 0,
  createdBy: null,
  timeCreated: new Date().toISOString(),
  version: 1,
});

test('a key file is made once (0600, 64 hex characters) and opens what it sealed; a value from before sealing reads as it is', () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'secrets.key');
    const box = SecretBox.fromKeyFile(file);
    assert.equal(box.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
    const sealed = box.seal(SECRET);
    assert.ok(SecretBox.isSealed(sealed) && !sealed.includes(SECRET), sealed);
    assert.notEqual(box.seal(SECRET), sealed, 'a fresh IV per seal');
    const again = SecretBox.fromKeyFile(file);
    assert.equal(again.created, false);
    assert.equal(again.open(sealed), SECRET);
    assert.equal(again.open(SECRET), SECRET);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('another key, a tampered value or a malformed key file fail with an error that says what to do', () => {
  const dir = tmp();
  try {
    const sealed = SecretBox.fromKeyFile(path.join(dir, 'a.key')).seal(SECRET);
    const other = SecretBox.fromKeyFile(path.join(dir, 'b.key'));
    assert.throws(() => other.open(sealed), (e: Error) => e instanceof SecretKeyError && /sealed with another key than the one in .*b\.key/.test(e.message));
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.throws(() => SecretBox.fromKeyFile(path.join(dir, 'a.key')).open(tampered), SecretKeyError);
    writeFileSync(path.join(dir, 'bad.key'), 'not a key\n');
    assert.throws(() => SecretBox.fromKeyFile(path.join(dir, 'bad.key')), /bad\.key: must hold a 256-bit key as 64 hexadecimal characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const kind of STORE_KINDS) test(`the store keeps secrets sealed, seals those stored in plain text at start, and refuses a key that cannot open them (${kind.name})`, { skip: kind.skip }, async () => {
  const dir = tmp();
  const keyFile = path.join(dir, 'secrets.key');
  try {
    let store = await kind.open(dir);
    let hooks = new WebhookStore(store, SecretBox.fromKeyFile(keyFile));
    await hooks.prepareSecrets();
    await store.transaction((tx) => hooks.insertSubscription(tx, sub('new', SECRET)));
    // What a version before sealing wrote: the secret as it is.
    await store.db.insertInto('webhook_subscriptions').values({
      id: 'old', compartment_id: 'c', display_name: 'old', url: 'https://example.com/old', secret: SECRET, filter: '{}',
      lifecycle_state: 'ACTIVE', start_seq: 0, time_created: new Date().toISOString(), version: 1,
    }).execute();
    const raw = async () => Object.fromEntries((await store.db.selectFrom('webhook_subscriptions').select(['id', 'secret']).execute()).map((r) => [r.id, r.secret]));
    assert.ok(SecretBox.isSealed((await raw()).new), 'a new subscription is stored sealed');
    assert.equal((await raw()).old, SECRET);

    // The next start (the key file is there now) seals the old one.
    hooks = new WebhookStore(store, SecretBox.fromKeyFile(keyFile));
    await hooks.prepareSecrets();
    const stored = await raw();
    for (const id of ['new', 'old']) {
      assert.ok(SecretBox.isSealed(stored[id]) && !stored[id].includes(SECRET), `${id}: ${stored[id]}`);
      assert.equal((await hooks.getSubscription(id))!.secret, SECRET, `${id} reads back as it was`);
    }
    assert.deepEqual((await hooks.listSubscriptions({ states: ['ACTIVE'] })).map((s) => s.secret), [SECRET, SECRET]);
    await store.close();

    // The key file lost: the start stops, says why, and leaves no new key behind; the secrets are untouched.
    const saved = readFileSync(keyFile, 'utf8');
    rmSync(keyFile);
    store = await kind.open(dir);
    hooks = new WebhookStore(store, SecretBox.fromKeyFile(keyFile));
    await assert.rejects(hooks.prepareSecrets(), /secrets key file .*secrets\.key is missing, and 2 webhook secret\(s\) in the database are sealed with it/);
    assert.throws(() => statSync(keyFile), /ENOENT/);
    // Another key: the same.
    writeFileSync(keyFile, `${'ab'.repeat(32)}\n`);
    hooks = new WebhookStore(store, SecretBox.fromKeyFile(keyFile));
    await assert.rejects(hooks.prepareSecrets(), /sealed with another key/);
    assert.deepEqual(await raw(), stored);
    // The original key back: everything reads again.
    writeFileSync(keyFile, saved);
    hooks = new WebhookStore(store, SecretBox.fromKeyFile(keyFile));
    await hooks.prepareSecrets();
    assert.equal((await hooks.getSubscription('old'))!.secret, SECRET);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
