/** Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by module. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function moduleOf(url: string, root: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = p.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  return path.relative(root, p);
}

/**
 * `window` (ms since the process started, approximately: the profile's start) limits the summary to the measured
 * phase; without it the whole process life is summarized (start-up included).
 */
export function summarizeProfile(file: string, root: string, top = 25): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  let window: { fromMs: number; toMs: number | null } | null = null;
  try {
    window = JSON.parse(readFileSync(file.replace(/\.cpuprofile$/, '.window.json'), 'utf8'));
  } catch {
    /* whole profile */
  }
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    const ms = t / 1000;
    if (window && (ms < window.fromMs || (window.toMs !== null && ms > window.toMs))) continue;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    const m = moduleOf(cf.url, root);
    const key = `${cf.functionName || '(anonymous)'} ${m}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  // Bottom-up: for the heaviest functions, the call paths (a few frames up, skipping node internals) they ran under.
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}@${moduleOf(n.callFrame.url, root)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  const keyOf = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url, root)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  const callers = new Map<string, Map<string, number>>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const path: string[] = [];
    let p = parent.get(id);
    while (p !== undefined && path.length < 4) {
      const pn = byId.get(p)!;
      const m = moduleOf(pn.callFrame.url, root);
      if (pn.callFrame.url && !m.startsWith('node:')) path.push(label(pn));
      p = parent.get(p);
    }
    const k = keyOf(n);
    const m = callers.get(k) ?? new Map<string, number>();
    const pk = path.join(' < ') || '(top)';
    m.set(pk, (m.get(pk) ?? 0) + us);
    callers.set(k, m);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const span = window ? ` (measured phase only: ${(window.fromMs / 1000).toFixed(1)} s to ${window.toMs === null ? 'end' : (window.toMs / 1000).toFixed(1) + ' s'} after start)` : ' (whole process)';
  const lines = [`profile ${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled${span}`, '  self time by module:'];
  for (const [k, v] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`    ${pct(v)}  ${k}`);
  lines.push('  self time by function:');
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(v)}  ${k}`);
  lines.push('  call paths of the heaviest functions:');
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    if (k.startsWith('(idle)') || k.startsWith('(garbage') || k.startsWith('(program)')) continue;
    lines.push(`    ${pct(v)}  ${k}`);
    for (const [c, u] of [...(callers.get(k) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 5)) lines.push(`        ${pct(u)}  < ${c}`);
  }
  return lines.join('\n');
}
