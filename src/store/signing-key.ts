import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';

/** The key file is unreadable or does not hold an RSA private key. */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/**
 * The server's token signing key (run principals' session tokens): an RSA 2048 private key in a PEM file of its own,
 * mode 0600, outside the database like the secrets key, so a copy of the database cannot mint tokens. Made at the
 * first start where there is none (O_EXCL: two servers starting at once do not each write one).
 */
export function loadOrCreateSigningKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SigningKeyError(`run principal key file ${file}: ${(e as Error).message}`);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSigningKey(file);
      throw new SigningKeyError(`run principal key file ${file} could not be created: ${(err as Error).message}`);
    }
    try {
      writeSync(fd, privateKey);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const dir = openSync(path.dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    pem = privateKey;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new SigningKeyError(`run principal key file ${file}: not a PEM private key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new SigningKeyError(`run principal key file ${file}: must hold an RSA private key`);
  return key;
}
