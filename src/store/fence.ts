import { AsyncLocalStorage } from 'node:async_hooks';
import { GroupCommit, type Db, type Tx } from './group-commit.js';

/**
 * Checks, inside a transaction, that the authority the work acts on is still held (the coordinator's lease: see
 * replica-store.ts); throws LeaseLostError when it is not, which rolls the transaction's writes back.
 */
export type Fence = (tx: Tx) => Promise<void>;

/** A fenced transaction found that its replica no longer holds the lease it acted under. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

const fences = new AsyncLocalStorage<Fence>();

/**
 * Runs `fn` (and everything it starts: its timers, promises and the listeners it registers) under `fence`: every
 * transaction it asks for checks the fence first, in the same transaction. The work that must happen once (schedules,
 * trigger rules, webhook dispatch, sweeps, retention) is started this way on the replica that holds the lease, so a
 * replica that was paused past its lease and resumes cannot commit what it had decided before: its transactions
 * find another epoch and roll back.
 */
export function runFenced<T>(fence: Fence, fn: () => T): T {
  return fences.run(fence, fn);
}

/**
 * Runs `fn` (and everything it starts) under no fence: for work the lease holder hands to this replica as its own (a
 * lost replica's runs it adopts), which must go on, as any run of this replica does, whoever holds the lease later.
 */
export function runUnfenced<T>(fn: () => T): T {
  return fences.exit(fn);
}

/** `fn` bound to the fence (if any) of the context that calls this: for listeners called from other contexts. */
export function bindFence<A extends unknown[], R>(fn: (...a: A) => R): (...a: A) => R {
  return AsyncLocalStorage.bind(fn);
}

/**
 * Group commit whose transactions check the fence of the context that asked for them (none: as GroupCommit). The
 * check runs after BEGIN, under the writers' advisory lock of PostgreSQL (postgres-connection.ts): a new holder's
 * transactions commit after the old holder's last one, or the old holder's check sees the new epoch.
 */
export class FencedGroupCommit extends GroupCommit {
  override transaction<T>(fn: (tx: Tx) => Promise<T>, opts: { tx?: Db } = {}): Promise<T> {
    // A nested transaction runs inside one that was checked already.
    const fence = opts.tx ? undefined : fences.getStore();
    if (!fence) return super.transaction(fn, opts);
    return super.transaction(async (tx) => {
      await fence(tx);
      return fn(tx);
    }, opts);
  }
}
