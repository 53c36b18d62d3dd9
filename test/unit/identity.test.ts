import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPairSync, createPrivateKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseKeyId, parsePublicKey } from '../../src/domain/api-key.js';
import { parseSignatureHeader } from '../../src/api/authentication.js';
import { apiKeySigner, configFileSigner, readOciProfile } from '../../src/sdk/signer.js';
import { hashPassword, verifyPassword, generatePassword } from '../../src/service/passwords.js';

test('API keys: PEM RSA public keys of 2048 bits or more; the fingerprint is the MD5 of the DER key', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const k = parsePublicKey(publicKey);
  assert.match(k.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  assert.throws(() => parsePublicKey('ssh-rsa AAAA'), /key: must be an RSA public key in PEM format/);
  const small = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  assert.throws(() => parsePublicKey(small.publicKey), /at least 2048 bits \(this key has 1024\)/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  assert.throws(() => parsePublicKey(ec.publicKey), /must be an RSA key, not ec/);
});

test('key ids and signature headers parse as OCI writes them; malformed ones are refused with the place', () => {
  assert.deepEqual(parseKeyId('ocid1.tenancy..a/ocid1.user..b/AA:BB'), { tenancyId: 'ocid1.tenancy..a', userId: 'ocid1.user..b', fingerprint: 'aa:bb' });
  assert.equal(parseKeyId('a/b'), null);
  const p = parseSignatureHeader('Signature version="1",keyId="t/u/f",algorithm="rsa-sha256",headers="x-date (request-target) host",signature="AAAA"');
  assert.equal(p.keyId, 't/u/f');
  assert.deepEqual(p.headers, ['x-date', '(request-target)', 'host']);
  assert.throws(() => parseSignatureHeader('Signature keyId="t/u/f",algorithm="hmac-sha256",signature="AA"'), /algorithm hmac-sha256 is not supported/);
  assert.throws(() => parseSignatureHeader('Signature keyId="t/u/f" signature="AA"'), /malformed at character/);
  assert.throws(() => parseSignatureHeader('Signature version="2",keyId="t/u/f",signature="AA"'), /version 2/);
  assert.throws(() => parseSignatureHeader(undefined), /missing/);
  // Spaces around parameters, a trailing comma, a header list in capitals; the header list read before is not
  // reused for another one.
  const q = parseSignatureHeader('Signature  keyId="t/u/f" , headers="X-Date  Host",signature="AAAA",');
  assert.deepEqual([q.keyId, q.headers], ['t/u/f', ['x-date', 'host']]);
  assert.deepEqual(parseSignatureHeader('Signature keyId="k",signature="AA"').headers, ['date']);
  assert.throws(() => parseSignatureHeader('Signature keyId="t/u/f",signature="AA'), /malformed at character 24/);
  assert.throws(() => parseSignatureHeader('Signature keyId="t/u/f",sig nature="AA"'), /malformed at character 24/);
  assert.throws(() => parseSignatureHeader('Signature keyId="k"'), /no signature value/);
});

test('OCI config files: profiles inherit DEFAULT, ~ is the home directory, a passphrase-protected key signs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-ocicfg-'));
  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
    });
    writeFileSync(path.join(dir, 'k.pem'), privateKey);
    const file = path.join(dir, 'config');
    writeFileSync(file, `# comment\n[DEFAULT]\ntenancy=ocid1.tenancy..t\nregion=local\n\n[ALICE]\nuser=ocid1.user..a\nfingerprint=aa:bb\nkey_file=${path.join(dir, 'k.pem')}\npass_phrase=secret\n`);
    const alice = readOciProfile(file, 'ALICE');
    assert.equal(alice.tenancy, 'ocid1.tenancy..t');
    assert.equal(alice.region, 'local');
    assert.throws(() => readOciProfile(file, 'DEFAULT'), /\[DEFAULT\]: user is missing/);
    assert.throws(() => readOciProfile(file, 'BOB'), /no profile \[BOB\]/);
    const sign = configFileSigner(file, 'ALICE');
    const h = sign({ method: 'POST', url: 'http://127.0.0.1:8420/20190101/projects?x=1', headers: {}, body: '{"a":1}' });
    assert.match(h.authorization, /keyId="ocid1.tenancy..t\/ocid1.user..a\/aa:bb",algorithm="rsa-sha256",headers="x-date \(request-target\) host content-type content-length x-content-sha256"/);
    const signed = [
      `x-date: ${h['x-date']}`,
      '(request-target): post /20190101/projects?x=1',
      'host: 127.0.0.1:8420',
      'content-type: application/json',
      'content-length: 7',
      `x-content-sha256: ${h['x-content-sha256']}`,
    ].join('\n');
    const sig = Buffer.from(/signature="([^"]+)"/.exec(h.authorization)![1], 'base64');
    assert.ok(verify('sha256', Buffer.from(signed), publicKey, sig));
    // A streamed body: signed without the body headers.
    const upload = apiKeySigner({ tenancy: 't', user: 'u', fingerprint: 'f', privateKey: createPrivateKey({ key: privateKey, passphrase: 'secret' }) })({
      method: 'POST',
      url: 'http://h/20190101/jobs/j/artifact',
      headers: {},
      excludeBody: true,
    });
    assert.match(upload.authorization, /headers="x-date \(request-target\) host"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('console passwords: scrypt hashes verify only the password they were made from', async () => {
  const pw = generatePassword();
  assert.equal(pw.length, 20);
  const h = await hashPassword(pw);
  assert.match(h, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyPassword(pw, h), true);
  assert.equal(await verifyPassword(pw + 'x', h), false);
  assert.notEqual(await hashPassword(pw), h, 'salted');
});
