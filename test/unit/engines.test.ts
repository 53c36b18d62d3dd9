/**
 * Every package npm ci installs supports the node this runs on (issue 24.2): cookie@2, pulled in by fastify's
 * light-my-request, wanted node >= 22 while dsjobs says node >= 20, and npm ci warned EBADENGINE. Read from
 * package-lock.json, which is exactly what npm ci installs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from '../support/server.js';

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
}

// semver comes with npm's own dependency tree (no @types): the two calls used here, typed by hand.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
  minVersion(range: string): { version: string } | null;
};

const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };

test("every locked package's engines.node admits the node version in use", () => {
  const bad: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    // Optional platform packages (esbuild's per-OS binaries) are skipped by npm where they do not apply.
    if (!range || entry.optional) continue;
    if (!semver.satisfies(process.version, range, { includePrerelease: true })) bad.push(`${where || 'dsjobs'}@${entry.version ?? ''} wants node ${range}`);
  }
  assert.deepEqual(bad, [], `node ${process.version}`);
});

test("dsjobs's own engines range is no wider than what its dependencies allow", () => {
  const own = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const lowest = semver.minVersion(own)!;
  const bad: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (!where || !range || entry.optional) continue;
    if (!semver.satisfies(lowest.version, range)) bad.push(`${where}@${entry.version ?? ''} wants node ${range}`);
  }
  assert.deepEqual(bad, [], `dsjobs says node ${own}, so node ${lowest.version} must work`);
});
