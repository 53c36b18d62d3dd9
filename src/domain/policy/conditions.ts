import { PolicySyntaxError } from './syntax-error.js';
import type { TokenCursor } from './tokens.js';

/**
 * Conditions, shared by a statement's `where` clause and a dynamic group's matching rule: `variable = 'value'`,
 * `variable != 'value'`, and `all {...}` / `any {...}` over a comma-separated list (which may nest).
 */
export type Condition =
  | { kind: 'all' | 'any'; items: Condition[] }
  | { kind: 'compare'; variable: string; op: '=' | '!='; value: string };

/** Values a condition is evaluated against; a variable the request has no value for is absent. */
export type Variables = Readonly<Record<string, string | undefined>>;

/** Variables a `where` clause may test. */
export const STATEMENT_VARIABLES = [
  'request.operation',
  'request.user.id',
  'target.compartment.id',
  'target.compartment.name',
  'resource.type',
] as const;

/** Variables a dynamic group's matching rule may test (the run being matched). */
export const RULE_VARIABLES = ['resource.type', 'resource.id', 'resource.compartment.id'] as const;

export function parseCondition(cur: TokenCursor, variables: readonly string[]): Condition {
  const t = cur.peek();
  const word = t.kind === 'word' ? t.text.toLowerCase() : '';
  if (word === 'all' || word === 'any') {
    cur.next();
    cur.expectPunct('{');
    const items: Condition[] = [parseCondition(cur, variables)];
    while (cur.acceptPunct(',')) items.push(parseCondition(cur, variables));
    cur.expectPunct('}');
    return { kind: word, items };
  }
  const v = cur.peek();
  if (v.kind !== 'word') cur.fail("expected a condition (a variable, or 'all {' / 'any {')");
  const variable = v.text.toLowerCase();
  if (!variables.includes(variable)) {
    throw new PolicySyntaxError(`unknown variable '${v.text}' (known here: ${variables.join(', ')})`, v.column);
  }
  cur.next();
  let op: '=' | '!=';
  if (cur.acceptPunct('=')) op = '=';
  else if (cur.acceptPunct('!=')) op = '!=';
  else return cur.fail("expected '=' or '!='");
  const value = cur.expectValue('a value (quote it: \'...\')').text;
  return { kind: 'compare', variable, op, value };
}

/**
 * A condition compiled to a function. Comparisons are case-insensitive, as OCI's are. A comparison on a variable
 * the request has no value for is false, for `=` and `!=` alike (OCI: a condition that does not apply to the
 * request does not match), so `request.user.id != 'x'` never admits a run principal.
 */
export function compileCondition(c: Condition): (vars: Variables) => boolean {
  if (c.kind === 'compare') {
    const want = c.value.toLowerCase();
    const { variable } = c;
    return c.op === '='
      ? (vars) => vars[variable] !== undefined && vars[variable]!.toLowerCase() === want
      : (vars) => vars[variable] !== undefined && vars[variable]!.toLowerCase() !== want;
  }
  const parts = c.items.map(compileCondition);
  return c.kind === 'all' ? (vars) => parts.every((p) => p(vars)) : (vars) => parts.some((p) => p(vars));
}
