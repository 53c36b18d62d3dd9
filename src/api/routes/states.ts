import { invalid } from '../../domain/errors.js';

/** A lifecycleState filter must be one of the resource's states. */
export function checkState(value: string | undefined, allowed: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value)) throw invalid('query lifecycleState', `must be one of ${allowed.join(', ')}`);
  return value;
}
