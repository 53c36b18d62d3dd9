import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Makes a new directory entry durable (its directory's fsync). */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a sealed value starts with; a value without it is one stored before sealing existed (plain text). */
const SEALED = 'enc1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The key file is missing, unreadable or malformed, or does not open what the database holds. */
export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

/**
 * Secrets the server must be able to read back (webhook signing keys: they are needed to sign, so they cannot be
 * hashed) are stored sealed with AES-256-GCM under a key kept outside the database, in a file of its own (64 hex
 * characters, mode 0600). A copy of the database alone (a backup, a dump, another host's PostgreSQL later) then
 * holds no usable secret. Sealed values are `enc1:` + base64(iv | tag | ciphertext); the tag also makes a wrong
 * key fail loudly instead of yielding garbage.
 */
export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    /** Where the key came from, for error messages. */
    readonly file: string,
    /** Whether this start made the key file (there was none). */
    readonly created: boolean,
  ) {}

  /** Reads the key file, or makes one with a new random key where there is none. */
  static fromKeyFile(file: string): SecretBox {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SecretKeyError(`secrets key file ${file}: ${(e as Error).message}`);
      const key = randomBytes(32);
      // O_EXCL: two servers starting on one data directory must not each write a key of their own.
      let fd: number;
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return SecretBox.fromKeyFile(file);
        throw new SecretKeyError(`secrets key file ${file} could not be created: ${(err as Error).message}`);
      }
      try {
        writeSync(fd, `${key.toString('hex')}\n`);
        // On disk before anything is sealed with it: a key lost to a power cut would make every sealed secret useless.
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      fsyncDir(path.dirname(file));
      return new SecretBox(key, file, true);
    }
    const hex = text.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new SecretKeyError(`secrets key file ${file}: must hold a 256-bit key as 64 hexadecimal characters`);
    }
    return new SecretBox(Buffer.from(hex, 'hex'), file, false);
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED);
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /**
   * A keyed digest (HMAC-SHA256) of a value, for comparing without storing it: a plain hash of a short secret in the
   * database could be reversed by trying candidates; without the key it cannot.
   */
  digest(plain: string): string {
    return createHmac('sha256', this.key).update(plain).digest('base64');
  }

  /** The plain value; a value stored before sealing existed is returned as it is. */
  open(stored: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    const raw = Buffer.from(stored.slice(SEALED.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretKeyError('a sealed secret in the database is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(
        `the secrets in the database were sealed with another key than the one in ${this.file}: put the original key file back (or point secretsKeyFile at it)`,
      );
    }
  }
}
