import { parseCondition, STATEMENT_VARIABLES, type Condition } from './conditions.js';
import { isResourceType, isVerb, type Verb } from './resource-types.js';
import { PolicySyntaxError } from './syntax-error.js';
import { tokenize, TokenCursor } from './tokens.js';

/** Who a statement is about. Names are kept lower-cased: OCI's group names are case-insensitive. */
export type Subject =
  | { kind: 'group'; names: string[] }
  | { kind: 'dynamic-group'; names: string[] }
  | { kind: 'any-user' }
  | { kind: 'any-group' };

/**
 * Where a statement applies, relative to the compartment its policy is attached to: the whole tenancy, a
 * compartment by name or `a:b:c` path below the policy's compartment, or one by OCID.
 */
export type Location = { kind: 'tenancy' } | { kind: 'path'; names: string[] } | { kind: 'id'; id: string };

export interface Statement {
  subject: Subject;
  verb: Verb;
  resourceType: string;
  location: Location;
  condition: Condition | null;
}

/**
 * Parses one statement of the supported subset of OCI's policy language:
 *
 *   Allow group <name>[, [group] <name>...] | dynamic-group <name>[, ...] | any-user | any-group
 *     to <inspect|read|use|manage> <resource-type>
 *     in tenancy | compartment <name> | compartment <a:b:c> | compartment id <ocid>
 *     [where <condition>]
 *
 * Keywords, verbs and resource types are case-insensitive. Throws PolicySyntaxError naming the column and reason.
 */
export function parseStatement(text: string): Statement {
  const cur = new TokenCursor(tokenize(text));
  if (cur.acceptWord('deny') || cur.acceptWord('endorse') || cur.acceptWord('admit') || cur.acceptWord('define')) {
    throw new PolicySyntaxError("only 'Allow' statements are supported", 1);
  }
  cur.expectWord('allow');
  const subject = parseSubject(cur);
  cur.expectWord('to');
  const verbTok = cur.peek();
  if (verbTok.kind === 'punct' && verbTok.text === '{') {
    throw new PolicySyntaxError('permission lists ({PERMISSION, ...}) are not supported; use a verb: inspect, read, use or manage', verbTok.column);
  }
  const verb = verbTok.kind === 'word' ? verbTok.text.toLowerCase() : '';
  if (!isVerb(verb)) return cur.fail('expected a verb (inspect, read, use or manage)');
  cur.next();
  const typeTok = cur.expectValue('a resource type');
  const resourceType = typeTok.text.toLowerCase();
  if (!isResourceType(resourceType)) {
    throw new PolicySyntaxError(`unknown resource type '${typeTok.text}'`, typeTok.column);
  }
  cur.expectWord('in');
  const location = parseLocation(cur);
  let condition: Condition | null = null;
  if (cur.acceptWord('where')) condition = parseCondition(cur, STATEMENT_VARIABLES);
  cur.expectEnd();
  return { subject, verb, resourceType, location, condition };
}

function parseSubject(cur: TokenCursor): Subject {
  if (cur.acceptWord('any-user')) return { kind: 'any-user' };
  if (cur.acceptWord('any-group')) return { kind: 'any-group' };
  const kind = cur.acceptWord('group') ? 'group' : cur.acceptWord('dynamic-group') ? 'dynamic-group' : null;
  if (!kind) return cur.fail("expected 'group', 'dynamic-group', 'any-user' or 'any-group'");
  const names = [subjectName(cur, kind)];
  // `group A, B` and `group A, group B` both list several groups, as OCI accepts.
  while (cur.acceptPunct(',')) {
    cur.acceptWord(kind);
    names.push(subjectName(cur, kind));
  }
  return { kind, names };
}

function subjectName(cur: TokenCursor, kind: string): string {
  const t = cur.peek();
  if (t.kind === 'word' && t.text.toLowerCase() === 'id') {
    throw new PolicySyntaxError(`${kind}s are named by name here ('${kind} id <ocid>' is not supported)`, t.column);
  }
  if (t.kind === 'word' && t.text.toLowerCase() === 'to') cur.fail(`expected a ${kind} name`);
  return cur.expectValue(`a ${kind} name`).text.toLowerCase();
}

function parseLocation(cur: TokenCursor): Location {
  if (cur.acceptWord('tenancy')) return { kind: 'tenancy' };
  cur.expectWord('compartment');
  const t = cur.peek();
  if (t.kind === 'word' && t.text.toLowerCase() === 'id') {
    cur.next();
    const id = cur.expectValue('a compartment OCID');
    if (!/^ocid1\.(compartment|tenancy)\./i.test(id.text)) {
      throw new PolicySyntaxError(`'${id.text}' is not a compartment OCID`, id.column);
    }
    return { kind: 'id', id: id.text };
  }
  const name = cur.expectValue("a compartment name, an 'a:b:c' path or 'id <ocid>'");
  const names = name.text.split(':');
  if (names.some((n) => n === '')) throw new PolicySyntaxError(`'${name.text}' has an empty compartment name in its path`, name.column);
  return { kind: 'path', names };
}
