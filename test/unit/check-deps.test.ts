/**
 * scripts/check-deps.ts on small trees of its own: the rooms' arrows, and the type-only rule (api may use store
 * record types, sdk api schema types, only in imports erased at build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/server.js';

function check(files: Record<string, string>): { ok: boolean; out: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-deps-'));
  try {
    const src = path.join(dir, 'src');
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      writeFileSync(path.join(src, rel), text);
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'check-deps.ts'), src], { cwd: ROOT, encoding: 'utf8' });
    return { ok: r.status === 0, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const store = { 'store/records.ts': 'export interface Rec { id: string }\nexport const make = () => ({ id: "x" });\n' };

test('api may import store types only: import type, or every name marked type', () => {
  assert.ok(check({ ...store, 'api/a.ts': "import type { Rec } from '../store/records.js';\n" }).ok);
  assert.ok(check({ ...store, 'api/a.ts': "import { type Rec } from '../store/records.js';\n" }).ok);
  const mixed = check({ ...store, 'api/a.ts': "import { type Rec, make } from '../store/records.js';\n" });
  assert.equal(mixed.ok, false, 'a value imported beside a type is a runtime import');
  assert.match(mixed.out, /api\/a\.ts: '\.\.\/store\/records\.js' may only be imported for types/);
  assert.equal(check({ ...store, 'api/a.ts': "import { make } from '../store/records.js';\n" }).ok, false);
  assert.equal(check({ ...store, 'api/a.ts': "import * as r from '../store/records.js';\n" }).ok, false);
});

test('arrows point one way: domain imports nothing of ours; executors may use archive, archive nothing', () => {
  const bad = check({ 'domain/d.ts': "import { x } from '../service/s.js';\n", 'service/s.ts': 'export const x = 1;\n' });
  assert.equal(bad.ok, false);
  assert.match(bad.out, /room 'domain' may not import '\.\.\/service\/s\.js'/);
  assert.ok(check({ 'executors/e.ts': "import { a } from '../archive/a.js';\n", 'archive/a.ts': 'export const a = 1;\n' }).ok);
  assert.equal(check({ 'archive/a.ts': "import { d } from '../domain/d.js';\n", 'domain/d.ts': 'export const d = 1;\n' }).ok, false);
});

test('the job-spec reader, bundled into the web console, imports no Node module; the CLI may use it', () => {
  assert.ok(check({ 'job-spec/j.ts': "import { d } from '../domain/d.js';\n", 'domain/d.ts': 'export const d = 1;\n' }).ok);
  for (const mod of ['node:fs', 'path', 'node:url']) {
    const bad = check({ 'job-spec/j.ts': `import x from '${mod}';\n` });
    assert.equal(bad.ok, false, mod);
    assert.match(bad.out, new RegExp(`job-spec/j\\.ts: room 'job-spec' runs in the browser too and may not import '${mod}'`));
  }
  assert.ok(check({ 'cli/c.ts': "import { j } from '../job-spec/j.js';\n", 'job-spec/j.ts': 'export const j = 1;\n' }).ok);
});
