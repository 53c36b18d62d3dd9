import { DsError } from '../domain/errors.js';
import type { GroupCommit, Tx } from './group-commit.js';

/** 24 h: OCI's retry-token lifetime. */
const RETRY_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

/** Idempotent creates (OCI's `opc-retry-token`): table `retry_tokens`, one row per (token, operation). */
export class RetryTokens {
  constructor(private readonly commit: GroupCommit) {}

  /**
   * Runs `create` at most once per (operation, token) within 24 h: the same token with the same body gives back
   * the first resource's id; with a different body it is a Conflict. Token and resource commit together.
   */
  async idempotent(
    operation: string,
    token: string | undefined,
    bodyHash: string,
    create: (tx: Tx) => Promise<string>,
  ): Promise<{ id: string; replayed: boolean }> {
    if (!token) return { id: await this.commit.transaction(create), replayed: false };
    return this.commit.transaction(async (tx) => {
      const now = Date.now();
      const prior = await tx
        .selectFrom('retry_tokens')
        .selectAll()
        .where('token', '=', token)
        .where('operation', '=', operation)
        .executeTakeFirst();
      if (prior && now - Number(prior.created_ms) < RETRY_TOKEN_TTL_MS) {
        if (prior.body_hash !== bodyHash) {
          throw new DsError(
            'InvalidatedRetryToken',
            'opc-retry-token was already used with a different request body; use a new token for a different request',
          );
        }
        return { id: prior.resource_id, replayed: true };
      }
      if (prior) await tx.deleteFrom('retry_tokens').where('token', '=', token).where('operation', '=', operation).execute();
      const id = await create(tx);
      await tx
        .insertInto('retry_tokens')
        .values({ token, operation, body_hash: bodyHash, resource_id: id, created_ms: now })
        .execute();
      return { id, replayed: false };
    });
  }

  /**
   * Deletes the retry tokens past their 24 hours (a token is checked against its age when it is reused) of up to
   * `limit` tokens, in one statement: every expired row of those tokens goes (one per operation it was used for).
   */
  async deleteExpired(tx: Tx, nowMs: number, limit: number): Promise<number> {
    const expiredBefore = nowMs - RETRY_TOKEN_TTL_MS;
    const tokens = (await tx.selectFrom('retry_tokens').select('token').where('created_ms', '<', expiredBefore).limit(limit).execute()).map((t) => t.token);
    if (tokens.length === 0) return 0;
    const res = await tx.deleteFrom('retry_tokens').where('created_ms', '<', expiredBefore).where('token', 'in', tokens).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
