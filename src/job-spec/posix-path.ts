// POSIX path functions for the job-spec reader, which runs in Node and in the browser alike (no node:path there).
// resolve() resolves against `/`: the reader is always given an absolute spec directory.

function normalizeParts(p: string): string[] {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!p.startsWith('/')) out.push('..');
    } else out.push(seg);
  }
  return out;
}

function normalize(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const trailing = p.endsWith('/');
  const body = normalizeParts(p).join('/');
  if (abs) return '/' + body + (trailing && body ? '/' : '');
  return (body || '.') + (trailing && body ? '/' : '');
}

function join(...parts: string[]): string {
  const joined = parts.filter((x) => x !== '').join('/');
  return joined === '' ? '.' : normalize(joined);
}

function resolve(...parts: string[]): string {
  let acc = '';
  for (let i = parts.length - 1; i >= 0 && !acc.startsWith('/'); i--) {
    if (parts[i]) acc = acc ? `${parts[i]}/${acc}` : parts[i];
  }
  const abs = '/' + normalizeParts(acc.startsWith('/') ? acc : `/${acc}`).join('/');
  return abs;
}

function basename(p: string, ext?: string): string {
  const trimmed = p.replace(/\/+$/, '');
  let base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  if (ext && base.endsWith(ext) && base !== ext) base = base.slice(0, -ext.length);
  return base;
}

function dirname(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : trimmed.slice(0, i);
}

export { normalize, join, resolve, basename, dirname };
