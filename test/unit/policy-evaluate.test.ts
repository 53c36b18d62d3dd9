/**
 * The policy engine as a table: verbs, resource types and families, compartment inheritance and name resolution,
 * conditions, dynamic groups for run principals, and deny by default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compilePolicySet, evaluate, type DynamicGroupInput, type PolicyInput } from '../../src/domain/policy/evaluate.js';
import { StaticCompartmentTree } from '../../src/domain/policy/compartment-tree.js';
import { OPERATIONS, PUBLIC_OPERATIONS, readOperationForOcid } from '../../src/domain/policy/operations.js';
import { FAMILIES, VERB_RANK, VERBS } from '../../src/domain/policy/resource-types.js';
import type { Principal } from '../../src/domain/principal.js';

// tenancy
// ├── Research
// │   └── Team1
// │       └── Sandbox
// └── Prod
const T = 'ocid1.tenancy.oc1..root';
const R = 'ocid1.compartment.oc1..research';
const R1 = 'ocid1.compartment.oc1..team1';
const S = 'ocid1.compartment.oc1..sandbox';
const P = 'ocid1.compartment.oc1..prod';
const UNKNOWN = 'ocid1.compartment.oc1..nowhere';
const tree = new StaticCompartmentTree([
  { id: T, parentId: null, name: 'acme' },
  { id: R, parentId: T, name: 'Research' },
  { id: R1, parentId: R, name: 'Team1' },
  { id: S, parentId: R1, name: 'Sandbox' },
  { id: P, parentId: T, name: 'Prod' },
]);

const user = (...groupNames: string[]): Principal => ({ kind: 'user', userId: 'ocid1.user.oc1..alice', groupNames });
const run = (compartmentId: string, runId = 'ocid1.datasciencejobrun.oc1..r1'): Principal => ({ kind: 'run', runId, compartmentId });

let n = 0;
const policy = (compartmentId: string, ...statements: string[]): PolicyInput => ({ id: `ocid1.policy.oc1..p${++n}`, name: `p${n}`, compartmentId, statements });

function allowed(principal: Principal, operation: string, target: string, policies: PolicyInput[], groups: DynamicGroupInput[] = []): boolean {
  return evaluate({ principal, operation, targetCompartmentId: target }, compilePolicySet(policies, groups), tree).allowed;
}

test('the bootstrap policy lets Administrators do every operation in every compartment, and nobody else anything', () => {
  const set = compilePolicySet([policy(T, 'Allow group Administrators to manage all-resources in tenancy')], []);
  for (const operation of Object.keys(OPERATIONS)) {
    for (const target of [T, R, S, P]) {
      assert.ok(evaluate({ principal: user('Administrators'), operation, targetCompartmentId: target }, set, tree).allowed, `${operation} in ${target}`);
      assert.ok(evaluate({ principal: user('administrators', 'other'), operation, targetCompartmentId: target }, set, tree).allowed, 'group names are case-insensitive');
      assert.equal(evaluate({ principal: user('Developers'), operation, targetCompartmentId: target }, set, tree).allowed, false);
      assert.equal(evaluate({ principal: run(target), operation, targetCompartmentId: target }, set, tree).allowed, false);
    }
  }
});

test('each verb includes the ones below it: every Data Science operation against every verb', () => {
  const ds = Object.entries(OPERATIONS).filter(([, req]) => FAMILIES['data-science-family'].includes(req.resourceType));
  assert.ok(ds.length >= 40);
  for (const verb of VERBS) {
    const set = compilePolicySet([policy(T, `Allow group G to ${verb} data-science-family in tenancy`)], []);
    for (const [operation, req] of ds) {
      const got = evaluate({ principal: user('G'), operation, targetCompartmentId: R }, set, tree).allowed;
      assert.equal(got, VERB_RANK[verb] >= VERB_RANK[req.verb], `${verb} -> ${operation}`);
    }
  }
  // The table's anchors, spelled out: inspect lists, read gets and reads logs, use updates and starts/cancels
  // runs, manage creates and deletes.
  const cases: [string, string, boolean][] = [
    ['inspect', 'ListJobs', true],
    ['inspect', 'ListJobRuns', true],
    ['inspect', 'GetJob', false],
    ['read', 'GetJob', true],
    ['read', 'GetJobRunLogs', true],
    ['read', 'GetJobRunMetrics', true],
    ['read', 'GetJobArtifactContent', true],
    ['read', 'UpdateJob', false],
    ['read', 'CancelJobRun', false],
    ['use', 'UpdateJob', true],
    ['use', 'CreateJobRun', true],
    ['use', 'CancelJobRun', true],
    ['use', 'CreateJob', false],
    ['use', 'DeleteJobRun', false],
    ['use', 'CreateJobArtifact', false],
    ['manage', 'CreateJob', true],
    ['manage', 'DeleteJob', true],
    ['manage', 'DeleteProject', true],
  ];
  for (const [verb, operation, want] of cases) {
    assert.equal(allowed(user('G'), operation, R, [policy(T, `Allow group G to ${verb} data-science-family in tenancy`)]), want, `${verb} ${operation}`);
  }
});

test('a resource type grants its own operations; a family its members; all-resources everything', () => {
  const jobs = [policy(T, 'Allow group G to manage data-science-jobs in tenancy')];
  assert.ok(allowed(user('G'), 'CreateJob', R, jobs));
  assert.equal(allowed(user('G'), 'CreateJobRun', R, jobs), false);
  assert.equal(allowed(user('G'), 'ListProjects', R, jobs), false);
  const family = [policy(T, 'Allow group G to manage data-science-family in tenancy')];
  for (const op of ['CreateWebhookSubscription', 'CreateTriggerRule', 'CreateSchedule', 'CreateSweep', 'ListEvents', 'DeleteJobRun']) {
    assert.ok(allowed(user('G'), op, R, family), op);
  }
  for (const op of ['CreateBucket', 'GetSecretBundle', 'CreatePolicy', 'ListCompartments', 'SearchLogs']) {
    assert.equal(allowed(user('G'), op, R, family), false, op);
  }
  assert.ok(allowed(user('G'), 'PutObject', R, [policy(T, 'Allow group G to manage object-family in tenancy')]));
  assert.ok(allowed(user('G'), 'GetSecretBundle', R, [policy(T, 'Allow group G to read secret-family in tenancy')]));
  assert.equal(allowed(user('G'), 'GetSecret', R, [policy(T, 'Allow group G to read secret-bundles in tenancy')]), false);
  assert.ok(allowed(user('G'), 'SearchLogs', R, [policy(T, 'Allow group G to read logging-family in tenancy')]));
  assert.ok(allowed(user('G'), 'CreateDynamicGroup', T, [policy(T, 'Allow group G to manage all-resources in tenancy')]));
});

test('compartment inheritance: a statement covers its compartment and everything below, nothing above or beside', () => {
  const cases: [string, string, Record<string, boolean>][] = [
    // policy attached to the tenancy
    [T, 'in tenancy', { [T]: true, [R]: true, [R1]: true, [S]: true, [P]: true, [UNKNOWN]: false }],
    [T, 'in compartment Research', { [T]: false, [R]: true, [R1]: true, [S]: true, [P]: false }],
    [T, 'in compartment research', { [R]: true }],
    [T, 'in compartment Research:Team1', { [R]: false, [R1]: true, [S]: true, [P]: false }],
    [T, 'in compartment Research:Team1:Sandbox', { [R1]: false, [S]: true }],
    [T, `in compartment id ${R1}`, { [R]: false, [R1]: true, [S]: true }],
    [T, 'in compartment Team1', { [R1]: false, [S]: false }], // names resolve from the policy's compartment
    [T, 'in compartment Nowhere', { [T]: false, [R]: false }],
    // policy attached to Research: names resolve from there, and it cannot reach outside its subtree
    [R, 'in compartment Team1', { [R]: false, [R1]: true, [S]: true }],
    [R, 'in compartment Team1:Sandbox', { [R1]: false, [S]: true }],
    [R, `in compartment id ${S}`, { [R1]: false, [S]: true }],
    [R, `in compartment id ${P}`, { [P]: false }],
    [R, 'in compartment Prod', { [P]: false }],
    [R, 'in tenancy', { [T]: false, [R]: false, [P]: false }],
  ];
  for (const [attached, where, expect] of cases) {
    const policies = [policy(attached, `Allow group G to read data-science-jobs ${where}`)];
    for (const [target, want] of Object.entries(expect)) {
      assert.equal(allowed(user('G'), 'GetJob', target, policies), want, `${attached === T ? 'tenancy' : 'Research'} policy "${where}" -> ${tree.nameOf(target) ?? target}`);
    }
  }
});

test('conditions: request.operation, target.compartment.id/name, resource.type, request.user.id; all/any; = and !=', () => {
  const G = user('G');
  const cases: [string, string, string, boolean][] = [
    ["manage data-science-job-runs in tenancy where request.operation = 'CancelJobRun'", 'CancelJobRun', R, true],
    ["manage data-science-job-runs in tenancy where request.operation = 'canceljobrun'", 'CancelJobRun', R, true], // case-insensitive
    ["manage data-science-job-runs in tenancy where request.operation = 'CancelJobRun'", 'DeleteJobRun', R, false],
    ["manage data-science-job-runs in tenancy where request.operation != 'DeleteJobRun'", 'DeleteJobRun', R, false],
    ["manage data-science-job-runs in tenancy where request.operation != 'DeleteJobRun'", 'CreateJobRun', R, true],
    [`read data-science-jobs in tenancy where target.compartment.id = '${P}'`, 'GetJob', P, true],
    [`read data-science-jobs in tenancy where target.compartment.id = '${P}'`, 'GetJob', R, false],
    ["read data-science-jobs in tenancy where target.compartment.name = 'sandbox'", 'GetJob', S, true],
    ["read data-science-jobs in tenancy where target.compartment.name = 'sandbox'", 'GetJob', R1, false],
    ["manage data-science-family in tenancy where resource.type != 'data-science-job-runs'", 'CreateJob', R, true],
    ["manage data-science-family in tenancy where resource.type != 'data-science-job-runs'", 'CreateJobRun', R, false],
    ["read data-science-family in tenancy where request.user.id = 'ocid1.user.oc1..alice'", 'GetJob', R, true],
    ["read data-science-family in tenancy where request.user.id = 'ocid1.user.oc1..bob'", 'GetJob', R, false],
    [`read data-science-family in tenancy where all {target.compartment.name = 'Prod', request.operation = 'GetJob'}`, 'GetJob', P, true],
    [`read data-science-family in tenancy where all {target.compartment.name = 'Prod', request.operation = 'GetJob'}`, 'GetJobRun', P, false],
    [`read data-science-family in tenancy where any {target.compartment.name = 'Prod', request.operation = 'GetJob'}`, 'GetJobRun', P, true],
    [`read data-science-family in tenancy where any {target.compartment.name = 'Prod', request.operation = 'GetJob'}`, 'GetJobRun', R, false],
    [`read data-science-family in tenancy where any {target.compartment.name = 'Prod', all {request.operation = 'GetJob', target.compartment.id = '${S}'}}`, 'GetJob', S, true],
  ];
  for (const [rest, operation, target, want] of cases) {
    assert.equal(allowed(G, operation, target, [policy(T, `Allow group G to ${rest}`)]), want, `${rest} -> ${operation} in ${tree.nameOf(target)}`);
  }
  // A condition on a variable the request has none for is false, for != too: request.user.id never admits a run.
  const anyone = [policy(T, "Allow any-user to read data-science-jobs in tenancy where request.user.id != 'ocid1.user.oc1..bob'")];
  assert.ok(allowed(G, 'GetJob', R, anyone));
  assert.equal(allowed(run(R), 'GetJob', R, anyone), false);
});

test('dynamic groups: a run principal gets the grants of the dynamic groups its run matches, and only those', () => {
  const groups: DynamicGroupInput[] = [
    { id: 'ocid1.dynamicgroup.oc1..a', name: 'ResearchRuns', matchingRule: `ALL {resource.type = 'datasciencejobrun', resource.compartment.id = '${R}'}` },
    { id: 'ocid1.dynamicgroup.oc1..b', name: 'OneRun', matchingRule: "resource.id = 'ocid1.datasciencejobrun.oc1..special'" },
    { id: 'ocid1.dynamicgroup.oc1..c', name: 'EitherPlace', matchingRule: `ANY {resource.compartment.id = '${P}', resource.compartment.id = '${S}'}` },
    { id: 'ocid1.dynamicgroup.oc1..d', name: 'Notebooks', matchingRule: "resource.type = 'datasciencenotebooksession'" },
  ];
  const policies = [
    policy(T, 'Allow dynamic-group ResearchRuns to use data-science-job-runs in compartment Research'),
    policy(T, 'Allow dynamic-group OneRun, EitherPlace to read secret-bundles in tenancy'),
    policy(T, 'Allow dynamic-group Notebooks to manage all-resources in tenancy'),
    policy(T, 'Allow group ResearchRuns to manage all-resources in tenancy'),
  ];
  const cases: [Principal, string, string, boolean][] = [
    [run(R), 'CreateJobRun', R, true],
    [run(R), 'CreateJobRun', R1, true], // the statement's compartment covers its subtree
    [run(R), 'CreateJobRun', P, false],
    [run(R), 'DeleteJobRun', R, false], // use, not manage
    [run(R1), 'CreateJobRun', R, false], // the rule names Research exactly, not its subtree
    [run(P), 'CreateJobRun', R, false],
    [run(R), 'GetSecretBundle', R, false],
    [run(P), 'GetSecretBundle', R, true],
    [run(S), 'GetSecretBundle', P, true],
    [run(R, 'ocid1.datasciencejobrun.oc1..special'), 'GetSecretBundle', T, true],
    [run(R), 'CreateJob', R, false], // the Notebooks rule does not match a job run
    [user('ResearchRuns'), 'CreateJobRun', R, true], // the group of that name, not the dynamic group
    [user('OneRun'), 'GetSecretBundle', R, false], // a user is never in a dynamic group
  ];
  for (const [principal, operation, target, want] of cases) {
    assert.equal(allowed(principal, operation, target, policies, groups), want, `${JSON.stringify(principal)} ${operation} in ${tree.nameOf(target)}`);
  }
  // any-user covers run principals too; any-group only users.
  assert.ok(allowed(run(R), 'GetJob', R, [policy(T, 'Allow any-user to read data-science-jobs in tenancy')]));
  assert.equal(allowed(run(R), 'GetJob', R, [policy(T, 'Allow any-group to read data-science-jobs in tenancy')]), false);
  assert.ok(allowed(user(), 'GetJob', R, [policy(T, 'Allow any-group to read data-science-jobs in tenancy')]));
});

test('deny by default, with a reason; an allow names the statement that allowed it', () => {
  const set = compilePolicySet([policy(T, 'Allow group G to read data-science-jobs in compartment Research')], []);
  const no = evaluate({ principal: user('G'), operation: 'GetJob', targetCompartmentId: P }, set, tree);
  assert.equal(no.allowed, false);
  assert.match(no.reason, /no policy allows user ocid1\.user\.oc1\.\.alice to read data-science-jobs \(GetJob\) in compartment ocid1\.compartment\.oc1\.\.prod/);
  const yes = evaluate({ principal: user('G'), operation: 'GetJob', targetCompartmentId: S }, set, tree);
  assert.deepEqual(yes, { allowed: true, reason: `allowed by policy p${n} statements[0]: Allow group G to read data-science-jobs in compartment Research` });
  assert.equal(evaluate({ principal: user('G'), operation: 'GetJob', targetCompartmentId: S }, compilePolicySet([], []), tree).allowed, false);
  const unknown = evaluate({ principal: user('G'), operation: 'LaunchRocket', targetCompartmentId: S }, set, tree);
  assert.deepEqual(unknown, { allowed: false, reason: 'LaunchRocket is not an operation that policies grant' });
});

test('stored text that no longer parses grants nothing and is reported; the rest still applies', () => {
  const set = compilePolicySet(
    [{ id: 'ocid1.policy.oc1..x', name: 'mixed', compartmentId: T, statements: ['Allow group G to fly all-resources in tenancy', 'Allow group G to read data-science-jobs in tenancy'] }],
    [{ id: 'ocid1.dynamicgroup.oc1..x', name: 'broken', matchingRule: 'ALL {' }],
  );
  assert.equal(set.statements.length, 1);
  assert.deepEqual(set.problems.map((p) => p.replace(/:.*/, '')), ['policy mixed (ocid1.policy.oc1..x) statements[0]', 'dynamic group broken (ocid1.dynamicgroup.oc1..x) matchingRule']);
  assert.ok(evaluate({ principal: user('G'), operation: 'GetJob', targetCompartmentId: R }, set, tree).allowed);
});

test("every API route's operationId is in the operations table, or public (server info, the console's login, session, logout)", () => {
  const dir = path.resolve('src/api/routes');
  const ids = new Set<string>();
  for (const f of readdirSync(dir)) {
    for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/'([A-Z][A-Za-z]+)'/g)) {
      if (/^(Get|List|Create|Update|Delete|Cancel|Head|Test|Fire|Pause|Resume|Activate|Deactivate|Redeliver|Console|Put|Upload|Commit|Abort|Rename|Copy)[A-Z]/.test(m[1])) ids.add(m[1]);
    }
  }
  assert.ok(ids.size >= 45, `found ${ids.size} operationIds`);
  // The public operations are routes, and no policy names them.
  for (const op of PUBLIC_OPERATIONS) {
    assert.ok(ids.has(op), `${op} is no route's operationId`);
    assert.ok(!(op in OPERATIONS), `${op} is public and in the operations table`);
  }
  const missing = [...ids].filter((id) => !(id in OPERATIONS) && !PUBLIC_OPERATIONS.has(id));
  assert.deepEqual(missing, []);
});

test("identity's tenancy and user-state operations need OCI's verbs: inspect compartments, manage users", () => {
  const set = compilePolicySet(
    [{ id: 'ocid1.policy.oc1..i', name: 'identity', compartmentId: T, statements: ['Allow group Viewers to inspect compartments in tenancy', 'Allow group Helpdesk to use users in tenancy', 'Allow group Admins to manage users in tenancy'] }],
    [],
  );
  const may = (group: string, operation: string) => evaluate({ principal: user(group), operation, targetCompartmentId: T }, set, tree).allowed;
  assert.equal(may('Viewers', 'GetTenancy'), true);
  assert.equal(may('Helpdesk', 'GetTenancy'), false);
  assert.equal(may('Helpdesk', 'UpdateUserState'), false);
  assert.equal(may('Admins', 'UpdateUserState'), true);
});

test("an event's resource OCID names the operation that reading it needs", () => {
  assert.equal(readOperationForOcid('ocid1.datascienceproject.dsjobs.local.abc'), 'GetProject');
  assert.equal(readOperationForOcid('ocid1.datasciencejob.dsjobs.local.abc'), 'GetJob');
  assert.equal(readOperationForOcid('ocid1.datasciencejobrun.dsjobs.local.abc'), 'GetJobRun');
  assert.equal(readOperationForOcid('ocid1.policy.oc1..abc'), undefined);
  assert.equal(readOperationForOcid('ocid1.constructor.oc1..abc'), undefined);
  assert.equal(readOperationForOcid('garbage'), undefined);
});
