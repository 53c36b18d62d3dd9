/** Percentiles, the result rows and the markdown table. */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

export const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
}

export interface Row {
  /** Benchmark number and figure, e.g. "1. e2e throughput (16 in flight)". */
  figure: string;
  value: string;
  baseline: string;
  /** "52% of baseline (target >= 50%)" or "target < 10 ms". */
  target: string;
  /** true/false, or null for a figure with no target (reported only). */
  pass: boolean | null;
}

export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  add(row: Row): void {
    this.rows.push(row);
    const mark = row.pass === null ? 'info' : row.pass ? 'PASS' : 'FAIL';
    console.log(`  [${mark}] ${row.figure}: ${row.value}  | baseline: ${row.baseline}  | ${row.target}`);
  }

  note(text: string): void {
    this.notes.push(text);
    console.log(`  note: ${text}`);
  }

  markdown(header: string): string {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    const lines = [
      header,
      '',
      '| figure | dsjobs | baseline (same run) | ratio / target | result |',
      '|---|---|---|---|---|',
      ...this.rows.map(
        (r) => `| ${esc(r.figure)} | ${esc(r.value)} | ${esc(r.baseline)} | ${esc(r.target)} | ${r.pass === null ? 'info' : r.pass ? 'PASS' : '**FAIL**'} |`,
      ),
    ];
    if (this.notes.length) lines.push('', 'Notes:', '', ...this.notes.map((n) => `- ${n}`));
    return lines.join('\n') + '\n';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wall-clock time in ms with sub-ms resolution (same clock as Date.now()). */
export const wallNow = () => performance.timeOrigin + performance.now();
