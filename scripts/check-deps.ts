/**
 * Dependency rule: each room of src/ may import only the rooms listed here, so the arrows point one way
 * (request -> api -> service -> store / events / scheduler / executors / logs; domain imports nothing of ours).
 * Run by the test script; exits non-zero naming each forbidden import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ALLOWED: Record<string, string[]> = {
  domain: [],
  config: ['domain'],
  store: ['domain'],
  logs: [],
  archive: [],
  'job-spec': ['domain'],
  executors: ['domain', 'archive'],
  events: ['domain', 'store'],
  service: ['domain', 'store', 'executors', 'logs', 'events', 'archive'],
  scheduler: ['domain', 'service'],
  api: ['domain', 'service', 'store', 'events'],
  sdk: ['api'],
  cli: ['sdk', 'config', 'domain', 'job-spec', 'server.ts'],
  'server.ts': ['api', 'archive', 'config', 'domain', 'events', 'executors', 'logs', 'scheduler', 'service', 'store', 'metrics-registry.ts'],
  'metrics-registry.ts': ['scheduler', 'service', 'store'],
};
/** Rooms the web console bundles: Node's modules are not there. */
const BROWSER_ROOMS = ['job-spec'];
// sdk may import api only for types (erased at build): checked below.
const TYPE_ONLY: Record<string, string[]> = { sdk: ['api'], api: ['store'] };

const root = path.resolve(process.argv[2] ?? 'src');
const problems: string[] = [];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const roomOf = (file: string) => path.relative(root, file).split(path.sep)[0];

/**
 * Whether an import statement brings in types only, so that it is erased at build: `import type {...}`, or braces in
 * which every name is marked `type`. A default or namespace import (`import x from`, `import * as x from`) or a
 * re-export of values is a runtime import.
 */
function importsTypesOnly(statement: string): boolean {
  if (/^\s*(import|export)\s+type\s/.test(statement)) return true;
  const braces = /^\s*(?:import|export)\s*\{([^}]*)\}\s*from/.exec(statement);
  if (!braces) return false;
  const names = braces[1].split(',').map((n) => n.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => /^type\s/.test(n));
}

for (const file of walk(root)) {
  const room = roomOf(file);
  const allowed = ALLOWED[room];
  if (!allowed) {
    problems.push(`${path.relative(root, file)}: room '${room}' has no dependency rule in scripts/check-deps.ts`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  // The job-spec reader is bundled into the web console as it is: no Node module may reach it.
  if (BROWSER_ROOMS.includes(room)) {
    for (const n of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'((?:node:)?(?:fs|os|path|url|child_process|crypto|process|buffer)(?:\/[\w/]+)?)'/gm)) {
      problems.push(`${path.relative(root, file)}: room '${room}' runs in the browser too and may not import '${n[1]}'`);
    }
  }
  const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'|^\s*import\s*\(\s*'(\.[^']+)'\s*\)|await import\('(\.[^']+)'\)/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const spec = m[3] ?? m[4] ?? m[5];
    const typeOnly = Boolean(m[2]);
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    const targetRoom = roomOf(target);
    if (targetRoom === room) continue;
    if (allowed.includes(targetRoom)) {
      // api may use store record types only; sdk may use api schema types only: erased at build, no runtime arrow.
      if (TYPE_ONLY[room]?.includes(targetRoom) && !typeOnly && !importsTypesOnly(m[0])) {
        problems.push(`${path.relative(root, file)}: '${spec}' may only be imported for types ('import type' or every name marked 'type')`);
      }
      continue;
    }
    problems.push(`${path.relative(root, file)}: room '${room}' may not import '${spec}' (room '${targetRoom}')`);
  }
}

// The web console (console/src) is a client of the REST API like any other: of our code it may import the SDK and
// the YAML job-spec reader (src/job-spec, which therefore imports no Node module: checked below), nothing else.
const consoleRoot = path.resolve(root, '..', 'console', 'src');
const CONSOLE_ALLOWED = [path.join(root, 'sdk') + path.sep, path.join(root, 'job-spec') + path.sep];
let consoleFiles: string[] = [];
try {
  consoleFiles = walkAll(consoleRoot);
} catch {
  /* no console in this tree */
}
function walkAll(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walkAll(p) : /\.tsx?$/.test(p) ? [p] : [];
  });
}
for (const file of consoleFiles) {
  const text = readFileSync(file, 'utf8');
  const re = /(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const target = path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '');
    const candidates = [target, `${target}.ts`, `${target}.tsx`];
    if (candidates.some((c) => c.startsWith(consoleRoot + path.sep) || c.endsWith('.css'))) continue;
    if (candidates.some((c) => CONSOLE_ALLOWED.some((a) => (a.endsWith(path.sep) ? c.startsWith(a) : c === a)))) continue;
    problems.push(`console/src/${path.relative(consoleRoot, file)}: the console may import only src/sdk and src/job-spec, not '${m[1]}'`);
  }
}

if (problems.length) {
  console.error(`dependency rule violations:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('dependency rule: ok');
