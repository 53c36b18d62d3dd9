/**
 * The metrics line a run prints on stdout: `DSJOBS_METRIC name=value [name=value ...]`, values finite numbers. A
 * name may be reported many times; the last value counts. Names: letters, digits, _ . - (starting with a letter or _).
 */
export const METRIC_PREFIX = 'DSJOBS_METRIC';
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export function isMetricName(name: string): boolean {
  return NAME.test(name);
}

/** Adds the metrics of one stdout line to `into`; other lines are ignored. */
export function parseMetricLine(line: string, into: Record<string, number>): void {
  const t = line.trim();
  if (!t.startsWith(METRIC_PREFIX + ' ')) return;
  for (const pair of t.slice(METRIC_PREFIX.length).trim().split(/\s+/)) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const name = pair.slice(0, i);
    const value = Number(pair.slice(i + 1));
    if (NAME.test(name) && pair.slice(i + 1) !== '' && Number.isFinite(value)) into[name] = value;
  }
}
