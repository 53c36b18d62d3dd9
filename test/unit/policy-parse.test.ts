/** The policy statement parser: what parses to what, and each way a statement fails with its column and reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatement } from '../../src/domain/policy/statement.js';
import { parseMatchingRule } from '../../src/domain/policy/matching-rule.js';
import { PolicySyntaxError } from '../../src/domain/policy/syntax-error.js';

test('statements parse into subject, verb, resource type, location and condition', () => {
  const cases: [string, unknown][] = [
    [
      'Allow group Administrators to manage all-resources in tenancy',
      { subject: { kind: 'group', names: ['administrators'] }, verb: 'manage', resourceType: 'all-resources', location: { kind: 'tenancy' }, condition: null },
    ],
    [
      'allow GROUP data-scientists, ML_ops to USE Data-Science-Family IN COMPARTMENT Research',
      { subject: { kind: 'group', names: ['data-scientists', 'ml_ops'] }, verb: 'use', resourceType: 'data-science-family', location: { kind: 'path', names: ['Research'] }, condition: null },
    ],
    [
      'Allow group A, group B to read data-science-jobs in compartment Research:Team1:Sandbox',
      { subject: { kind: 'group', names: ['a', 'b'] }, verb: 'read', resourceType: 'data-science-jobs', location: { kind: 'path', names: ['Research', 'Team1', 'Sandbox'] }, condition: null },
    ],
    [
      "Allow group 'Data Scientists' to inspect data-science-projects in compartment id ocid1.compartment.oc1..aaaa",
      { subject: { kind: 'group', names: ['data scientists'] }, verb: 'inspect', resourceType: 'data-science-projects', location: { kind: 'id', id: 'ocid1.compartment.oc1..aaaa' }, condition: null },
    ],
    [
      'Allow dynamic-group job-runs to use data-science-job-runs in tenancy',
      { subject: { kind: 'dynamic-group', names: ['job-runs'] }, verb: 'use', resourceType: 'data-science-job-runs', location: { kind: 'tenancy' }, condition: null },
    ],
    [
      'Allow any-user to inspect data-science-jobs in tenancy',
      { subject: { kind: 'any-user' }, verb: 'inspect', resourceType: 'data-science-jobs', location: { kind: 'tenancy' }, condition: null },
    ],
    [
      "Allow group A to manage data-science-job-runs in tenancy where request.operation = 'CancelJobRun'",
      {
        subject: { kind: 'group', names: ['a'] },
        verb: 'manage',
        resourceType: 'data-science-job-runs',
        location: { kind: 'tenancy' },
        condition: { kind: 'compare', variable: 'request.operation', op: '=', value: 'CancelJobRun' },
      },
    ],
    [
      "Allow group A to manage data-science-family in tenancy where all {target.compartment.name != 'prod', any {resource.type = 'data-science-jobs', request.user.id = \"ocid1.user.oc1..x\"}}",
      {
        subject: { kind: 'group', names: ['a'] },
        verb: 'manage',
        resourceType: 'data-science-family',
        location: { kind: 'tenancy' },
        condition: {
          kind: 'all',
          items: [
            { kind: 'compare', variable: 'target.compartment.name', op: '!=', value: 'prod' },
            {
              kind: 'any',
              items: [
                { kind: 'compare', variable: 'resource.type', op: '=', value: 'data-science-jobs' },
                { kind: 'compare', variable: 'request.user.id', op: '=', value: 'ocid1.user.oc1..x' },
              ],
            },
          ],
        },
      },
    ],
    // Unquoted OCIDs are values too; spacing around punctuation does not matter.
    [
      'Allow group A to read buckets in tenancy where target.compartment.id=ocid1.compartment.oc1..bbb',
      {
        subject: { kind: 'group', names: ['a'] },
        verb: 'read',
        resourceType: 'buckets',
        location: { kind: 'tenancy' },
        condition: { kind: 'compare', variable: 'target.compartment.id', op: '=', value: 'ocid1.compartment.oc1..bbb' },
      },
    ],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseStatement(text), want, text);
});

test('a statement that does not parse names the column and the reason', () => {
  const cases: [string, string, number][] = [
    //        1        10        20        30        40        50
    //        |        |         |         |         |         |
    ['Allow group Admins manage all-resources in tenancy', "expected 'to' at column 20, found 'manage'", 20],
    ['Permit group A to manage all-resources in tenancy', "expected 'allow' at column 1, found 'Permit'", 1],
    ['Deny group A to manage all-resources in tenancy', "only 'Allow' statements are supported at column 1", 1],
    ['Allow users A to manage all-resources in tenancy', "expected 'group', 'dynamic-group', 'any-user' or 'any-group' at column 7, found 'users'", 7],
    ['Allow group A to own all-resources in tenancy', "expected a verb (inspect, read, use or manage) at column 18, found 'own'", 18],
    ['Allow group A to manage data-science-widgets in tenancy', "unknown resource type 'data-science-widgets' at column 25", 25],
    ['Allow group A to manage all-resources on tenancy', "expected 'in' at column 39, found 'on'", 39],
    ['Allow group A to manage all-resources in', "expected 'compartment' at column 41, found the end of the statement", 41],
    ['Allow group A to manage all-resources in compartment', "expected a compartment name, an 'a:b:c' path or 'id <ocid>' at column 53, found the end of the statement", 53],
    ['Allow group A to manage all-resources in compartment id ocid1.user.oc1..x', "'ocid1.user.oc1..x' is not a compartment OCID at column 57", 57],
    ['Allow group A to manage all-resources in compartment a::b', "'a::b' has an empty compartment name in its path at column 54", 54],
    ['Allow group A to manage all-resources in tenancy please', "expected the end of the statement at column 50, found 'please'", 50],
    ["Allow group A to manage all-resources in tenancy where request.colour = 'x'", 'unknown variable', 56],
    ["Allow group A to manage all-resources in tenancy where request.operation == 'x'", "expected a value (quote it: '...') at column 75, found '='", 75],
    ["Allow group A to manage all-resources in tenancy where request.operation = 'x", 'unterminated quoted value', 76],
    ["Allow group A to manage all-resources in tenancy where all {request.operation = 'x'", "expected '}' at column 84, found the end of the statement", 84],
    ['Allow group A to {JOB_READ} all-resources in tenancy', 'permission lists', 18],
    ['Allow group id ocid1.group.oc1..x to manage all-resources in tenancy', "'group id <ocid>' is not supported", 13],
    ['Allow group to manage all-resources in tenancy', "expected a group name at column 13, found 'to'", 13],
    ['Allow group A; to manage all-resources in tenancy', "unexpected character ';' at column 14", 14],
    ["Allow group A to manage all-resources in tenancy where all = 'x'", "expected '{' at column 60, found '='", 60],
    ["Allow group A to manage all-resources in tenancy where any {request.operation = 'x',}", "expected a condition (a variable, or 'all {' / 'any {') at column 85, found '}'", 85],
  ];
  for (const [text, message, column] of cases) {
    assert.throws(
      () => parseStatement(text),
      (err: unknown) => {
        assert.ok(err instanceof PolicySyntaxError, text);
        assert.equal(err.column, column, `${text}: ${err.message}`);
        assert.ok(err.message.includes(message), `${text}: got "${err.message}", want "${message}"`);
        return true;
      },
    );
  }
});

test('matching rules: ALL / ANY / one comparison, with their own variables', () => {
  assert.deepEqual(parseMatchingRule("ALL {resource.type = 'datasciencejobrun', resource.compartment.id = 'ocid1.compartment.oc1..c'}"), {
    kind: 'all',
    items: [
      { kind: 'compare', variable: 'resource.type', op: '=', value: 'datasciencejobrun' },
      { kind: 'compare', variable: 'resource.compartment.id', op: '=', value: 'ocid1.compartment.oc1..c' },
    ],
  });
  assert.deepEqual(parseMatchingRule("resource.id = 'ocid1.datasciencejobrun.x'"), {
    kind: 'compare',
    variable: 'resource.id',
    op: '=',
    value: 'ocid1.datasciencejobrun.x',
  });
  assert.throws(() => parseMatchingRule("ALL {request.operation = 'x'}"), /unknown variable 'request.operation' .* at column 6/);
  assert.throws(() => parseMatchingRule("ANY {resource.type = 'x'} extra"), /expected the end of the statement at column 27, found 'extra'/);
  assert.throws(() => parseMatchingRule(''), /expected a condition .* at column 1, found the end of the statement/);
});
