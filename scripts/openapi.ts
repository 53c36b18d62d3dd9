/**
 * Writes docs/openapi.json: the OpenAPI document a freshly built server serves at /20190101/openapi.json, generated
 * from the route schemas (the single source of the API's shapes). Run after changing routes or schemas:
 * `npm run build && npm run openapi`. test/e2e/openapi.test.ts fails while the committed copy is stale.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = path.join(root, 'docs', 'openapi.json');

/** The document as the file holds it: two-space JSON and a final newline. */
export const formatOpenApi = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;

async function served(): Promise<unknown> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsjobs-openapi-'));
  const proc = spawn(process.execPath, [path.join(root, 'bin', 'dsjobs.js'), 'server', '--port', '0', '--data-dir', dataDir], {
    // Plain directories for block storage: no volumes are mounted, so the data dir goes with one rm.
    env: { ...process.env, DSJOBS_LOG_LEVEL: 'warn', DSJOBS_BLOCK_STORAGE: 'directory', DSJOBS_WARM_SANDBOXES: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${out}`)), 60_000);
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (https?:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.stderr!.on('data', (d) => (out += d));
      proc.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
    });
    const res = await fetch(`${url}/20190101/openapi.json`);
    if (!res.ok) throw new Error(`GET /20190101/openapi.json answered ${res.status}`);
    return await res.json();
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const servedOpenApi = served;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, formatOpenApi(await served()));
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
}
