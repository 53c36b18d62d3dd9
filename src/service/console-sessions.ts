import { createHash, randomBytes } from 'node:crypto';
import { DsError } from '../domain/errors.js';
import type { IdentityStore, SessionRecord } from '../store/identity-store.js';
import type { Clock } from './common.js';
import type { IdentityService } from './identity.js';

export interface ConsoleSession {
  userId: string;
  userName: string;
  /** Sent back by the console in x-csrf-token on every request that changes something. */
  csrfToken: string;
  expiresMs: number;
}

/** How long a console session lasts after login. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Failed logins allowed per user name, and per source address, in FAILURE_WINDOW_MS before logins are refused. */
export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** How long logins stay refused after MAX_FAILURES failures. */
export const LOCKOUT_MS = 15 * 60 * 1000;

interface Attempts {
  failures: number[];
  lockedUntil: number;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Web console logins: a user name and password (scrypt) give a session token (the cookie) and a CSRF token. Sessions
 * are kept in the database by the token's SHA-256 (a copy of the database holds no usable cookie), so a restart
 * logs nobody out, and cached here. Brute force is throttled per user name and per source address: after 5
 * failures in 15 minutes, logins for that name or from there are refused (429) for 15 minutes, right password or
 * not, so guessing costs a quarter of an hour per 5 tries.
 */
export class ConsoleSessions {
  private readonly cache = new Map<string, ConsoleSession>();
  private readonly attempts = new Map<string, Attempts>();

  constructor(
    private readonly identity: IdentityService,
    private readonly ids: IdentityStore,
    private readonly clock: Clock,
  ) {}

  async login(userName: string, password: string, source: string): Promise<{ token: string; session: ConsoleSession }> {
    const now = this.clock.now();
    const keys = [`user:${userName.toLowerCase()}`, `source:${source}`];
    for (const k of keys) {
      const a = this.attempts.get(k);
      if (a && a.lockedUntil > now) {
        throw new DsError('TooManyRequests', `Too many failed logins; try again in ${Math.ceil((a.lockedUntil - now) / 60_000)} minute(s)`);
      }
    }
    const user = await this.identity.checkPassword(userName, password);
    if (!user) {
      for (const k of keys) this.fail(k, now);
      throw new DsError('NotAuthenticated', 'The user name or password is not correct');
    }
    this.attempts.delete(keys[0]);
    const token = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { userId: user.id, userName: user.name, csrfToken: randomBytes(24).toString('base64url'), expiresMs: now + SESSION_TTL_MS };
    const rec: SessionRecord = { tokenHash: hashToken(token), ...session };
    await this.ids.insertSession(rec);
    await this.ids.deleteSessions({ expiredAt: now });
    return { token, session };
  }

  private fail(key: string, now: number): void {
    const a = this.attempts.get(key) ?? { failures: [], lockedUntil: 0 };
    a.failures = a.failures.filter((t) => now - t < FAILURE_WINDOW_MS);
    a.failures.push(now);
    if (a.failures.length >= MAX_FAILURES) {
      a.lockedUntil = now + LOCKOUT_MS;
      a.failures = [];
    }
    this.attempts.set(key, a);
    // Bounded: an attacker rotating names cannot grow the map without limit (10,000 entries ~ 1 MB).
    if (this.attempts.size > 10_000) {
      for (const [k, v] of this.attempts) if (v.lockedUntil <= now) this.attempts.delete(k);
    }
  }

  /** The live session of a token whose user is still active, or null. */
  async resolve(token: string): Promise<ConsoleSession | null> {
    const h = hashToken(token);
    let s = this.cache.get(h) ?? null;
    if (!s) {
      s = await this.ids.getSession(h);
      if (s) {
        if (this.cache.size >= 10_000) this.cache.clear();
        this.cache.set(h, s);
      }
    }
    if (!s) return null;
    if (s.expiresMs <= this.clock.now() || !(await this.identity.isActiveUser(s.userId))) {
      await this.end(h);
      return null;
    }
    return s;
  }

  async logout(token: string): Promise<void> {
    await this.end(hashToken(token));
  }

  private async end(tokenHash: string): Promise<void> {
    this.cache.delete(tokenHash);
    await this.ids.deleteSessions({ tokenHash });
  }

  /** Ends every session of a user (its password was reset). */
  async endSessionsOf(userId: string): Promise<void> {
    for (const [h, s] of this.cache) if (s.userId === userId) this.cache.delete(h);
    await this.ids.deleteSessions({ userId });
  }
}
