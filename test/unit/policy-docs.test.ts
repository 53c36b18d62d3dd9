/**
 * docs/policies.md stays true: its example statements and matching rules parse, its verbs-to-operations table is
 * the engine's table, and its worked example decides as the document says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseStatement } from '../../src/domain/policy/statement.js';
import { parseMatchingRule } from '../../src/domain/policy/matching-rule.js';
import { OPERATIONS } from '../../src/domain/policy/operations.js';
import { VERBS } from '../../src/domain/policy/resource-types.js';
import { compilePolicySet, evaluate } from '../../src/domain/policy/evaluate.js';
import { StaticCompartmentTree } from '../../src/domain/policy/compartment-tree.js';
import type { Principal } from '../../src/domain/principal.js';

const doc = readFileSync('docs/policies.md', 'utf8');

/** The lines of every fenced block whose info string starts with `info`. */
function blocks(info: string): string[][] {
  const out: string[][] = [];
  for (const m of doc.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)) {
    if (m[1].split(' ')[0] === info.split(' ')[0] && (info.includes(' ') ? m[1] === info : true)) {
      out.push(m[2].split('\n').filter((l) => l.trim() !== ''));
    }
  }
  return out;
}

test('every example statement and matching rule in docs/policies.md parses', () => {
  const statements = blocks('policy').flat();
  assert.ok(statements.length >= 15, `found ${statements.length}`);
  for (const s of statements) assert.doesNotThrow(() => parseStatement(s), s);
  const rules = blocks('matching-rule').flat();
  assert.ok(rules.length >= 3);
  for (const r of rules) assert.doesNotThrow(() => parseMatchingRule(r), r);
});

test("the document's verbs-to-operations table is the engine's table", () => {
  const rows = [...doc.matchAll(/^\| `([a-z-]+)` \| (.*) \|$/gm)];
  const fromDoc: Record<string, string> = {};
  for (const [, type, cells] of rows) {
    cells.split(' | ').forEach((cell, i) => {
      for (const op of cell.split(', ')) if (op !== '—') fromDoc[op] = `${type} ${VERBS[i]}`;
    });
  }
  const fromTable = Object.fromEntries(Object.entries(OPERATIONS).map(([op, r]) => [op, `${r.resourceType} ${r.verb}`]));
  assert.deepEqual(fromDoc, fromTable);
});

test('the worked example decides as the document says', () => {
  const T = 'ocid1.tenancy.oc1..t';
  const ids: Record<string, string> = { Research: 'ocid1.compartment.oc1..r', 'Research:Team1': 'ocid1.compartment.oc1..r1', Prod: 'ocid1.compartment.oc1..p' };
  const tree = new StaticCompartmentTree([
    { id: T, parentId: null, name: 'tenancy' },
    { id: ids.Research, parentId: T, name: 'Research' },
    { id: ids['Research:Team1'], parentId: ids.Research, name: 'Team1' },
    { id: ids.Prod, parentId: T, name: 'Prod' },
  ]);
  const [statements] = blocks('policy worked-example');
  const set = compilePolicySet(
    [{ id: 'ocid1.policy.oc1..w', name: 'worked', compartmentId: T, statements }],
    [{ id: 'ocid1.dynamicgroup.oc1..d', name: 'ResearchRuns', matchingRule: `resource.compartment.id = '${ids.Research}'` }],
  );
  const section = doc.slice(doc.indexOf('## A worked example'));
  const rows = [...section.matchAll(/^\| (user in [A-Za-z ]+|run in [A-Za-z:0-9]+) \| (\w+) \| ([A-Za-z:0-9]+) \| (yes|no) \|$/gm)];
  assert.equal(rows.length, 12);
  for (const [line, who, operation, where, want] of rows) {
    const principal: Principal = who.startsWith('run in ')
      ? { kind: 'run', runId: 'ocid1.datasciencejobrun.oc1..x', compartmentId: ids[who.slice(7)] }
      : { kind: 'user', userId: 'ocid1.user.oc1..u', groupNames: who === 'user in no group' ? [] : [who.slice(8)] };
    assert.equal(evaluate({ principal, operation, targetCompartmentId: ids[where] }, set, tree).allowed, want === 'yes', line);
  }
});
