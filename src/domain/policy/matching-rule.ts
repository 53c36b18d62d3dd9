import { compileCondition, parseCondition, RULE_VARIABLES, type Condition, type Variables } from './conditions.js';
import { tokenize, TokenCursor } from './tokens.js';

/**
 * A dynamic group's matching rule, as OCI writes it: `ALL {resource.type = 'datasciencejobrun',
 * resource.compartment.id = 'ocid1...'}`, `ANY {...}`, or one comparison. Throws PolicySyntaxError with the column.
 */
export function parseMatchingRule(text: string): Condition {
  const cur = new TokenCursor(tokenize(text));
  const c = parseCondition(cur, RULE_VARIABLES);
  cur.expectEnd();
  return c;
}

/** The resource a matching rule is tested against: for dsjobs, a job run acting through its run principal. */
export interface MatchedResource {
  type: string;
  id: string;
  compartmentId: string;
}

export function compileMatchingRule(text: string): (resource: MatchedResource) => boolean {
  const test = compileCondition(parseMatchingRule(text));
  return (res) => {
    const vars: Variables = { 'resource.type': res.type, 'resource.id': res.id, 'resource.compartment.id': res.compartmentId };
    return test(vars);
  };
}
