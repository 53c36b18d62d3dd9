/**
 * The set-up builds native addons from the headers this machine has (issue 24.1): better-sqlite3 compiles with
 * node-gyp where its prebuilt binary cannot be downloaded, and node-gyp downloads Node's headers from nodejs.org
 * unless npm's nodedir names a local copy. Each npm here runs with an empty HOME (no ~/.npmrc) and no npm_config_*
 * from the environment, as on a fresh CI machine, and with header downloads pointed at a closed port, so a build
 * that passes used the local headers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/server.js';

const HEADERS = path.join(ROOT, 'scripts', 'node-headers.sh');
const NPM_WITH_HEADERS = path.join(ROOT, 'scripts', 'npm-with-headers.sh');
const MAJOR = process.versions.node.split('.')[0];

let tmp: string;

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-setup-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The environment of a machine with no npm user config: an empty HOME and no npm_* variables (npm test sets some). */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(path.join(tmp, 'home-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
  }
  return { ...env, HOME: home, npm_config_update_notifier: 'false', ...extra };
}

function sh(cmd: string, args: string[], opts: { cwd?: string; env: Record<string, string>; timeoutMs?: number }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not end in ${opts.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("node-headers.sh finds the headers of node's own major version without any npm config", async () => {
  const r = await sh('bash', [HEADERS], { env: cleanEnv() });
  assert.equal(r.code, 0, r.stderr);
  const dir = r.stdout.trim();
  const version = readFileSync(path.join(dir, 'include', 'node', 'node_version.h'), 'utf8');
  assert.match(version, new RegExp(`#define NODE_MAJOR_VERSION ${MAJOR}\\b`));
});

test('node-headers.sh says what is missing when node has no headers', async () => {
  // A node installed under a prefix without include/node: a wrapper script in a bare prefix.
  const prefix = mkdtempSync(path.join(tmp, 'prefix-'));
  mkdirSync(path.join(prefix, 'bin'));
  writeFileSync(path.join(prefix, 'bin', 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`);
  chmodSync(path.join(prefix, 'bin', 'node'), 0o755);
  const env = cleanEnv({ PATH: `${prefix}/bin:${process.env.PATH}` });
  const r = await sh('bash', [HEADERS], { env });
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`headers of node ${process.versions.node.replace(/\./g, '\\.')} .* are not on this machine`));
  assert.match(r.stderr, new RegExp(`${prefix}/include/node \\(no headers\\)`));
  assert.match(r.stderr, /libnode-dev/);
  assert.match(r.stderr, /npm_config_nodedir=DIR/);
});

test('npm-with-headers.sh builds a native addon with node-gyp from the local headers, downloading none', async () => {
  // A package laid out as npm leaves better-sqlite3 when its prebuilt download failed: node-gyp rebuild at install.
  const proj = mkdtempSync(path.join(tmp, 'proj-'));
  const addon = path.join(proj, 'node_modules', 'probe');
  mkdirSync(addon, { recursive: true });
  writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'proj', version: '1.0.0', private: true, dependencies: { probe: '*' } }));
  writeFileSync(
    path.join(addon, 'package.json'),
    JSON.stringify({ name: 'probe', version: '1.0.0', gypfile: true, scripts: { install: 'node-gyp rebuild' } }),
  );
  writeFileSync(path.join(addon, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'probe', sources: ['probe.cc'] }] }));
  writeFileSync(
    path.join(addon, 'probe.cc'),
    `#include <node.h>
static void Init(v8::Local<v8::Object> exports) {
  v8::Isolate* isolate = exports->GetIsolate();
  exports->Set(isolate->GetCurrentContext(), v8::String::NewFromUtf8Literal(isolate, "major"),
               v8::Integer::New(isolate, NODE_MAJOR_VERSION)).Check();
}
NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
`,
  );
  // Any header download goes to a closed port and fails at once.
  const env = cleanEnv({ npm_config_disturl: 'http://127.0.0.1:9/', npm_config_foreground_scripts: 'true' });
  const r = await sh('bash', [NPM_WITH_HEADERS, 'rebuild', 'probe'], { cwd: proj, env, timeoutMs: 240_000 });
  assert.equal(r.code, 0, `npm rebuild failed:\n${r.stdout}\n${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /127\.0\.0\.1:9/, 'node-gyp tried to download headers');
  const probe = createRequire(path.join(proj, 'index.js'))('probe/build/Release/probe.node') as { major: number };
  assert.equal(String(probe.major), MAJOR);
});
