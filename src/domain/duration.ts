/** A maximum runtime that could not be read; the message says what is expected. Callers name the field or flag. */
export class DurationError extends Error {
  override name = 'DurationError';
}

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };

/**
 * The one reading of a maximum runtime written by a person (`dsjobs job create --max-runtime`, `job run
 * --max-runtime`, a YAML spec's `maxRunTime`/`maximumRuntimeInMinutes`): a number of minutes (`90`, `"90"`) or
 * units `d h m s` combined (`30m`, `2h`, `1d`, `1h30m`, `1.5h`). OCI's maximumRuntimeInMinutes is a whole number of
 * minutes, so the result is one too: anything between is rounded up to the next minute (`45s` and `0.75` are 1), so
 * a limit is never shorter than what was written. (The API also takes fractions of a minute, a dsjobs extension for
 * clients that set the field themselves.)
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text <= 0) throw new DurationError(`invalid duration ${text}: expected a positive number of minutes`);
    return Math.ceil(text);
  }
  if (typeof text !== 'string') throw new DurationError('invalid duration: expected minutes or a string like 30m');
  const s = text.trim();
  const bad = () => new DurationError(`invalid duration '${text}' (expected minutes, or a value like 45s, 30m, 2h, 1d, 1h30m)`);
  let seconds = 0;
  if (/^\d+(?:\.\d+)?$/.test(s)) {
    seconds = Number(s) * 60;
  } else {
    const part = /(\d+(?:\.\d+)?)\s*([dhms])\s*/y;
    const seen = new Set<string>();
    let pos = 0;
    while (pos < s.length) {
      part.lastIndex = pos;
      const m = part.exec(s);
      if (!m || seen.has(m[2])) throw bad();
      seen.add(m[2]);
      seconds += Number(m[1]) * UNIT_SECONDS[m[2]];
      pos = part.lastIndex;
    }
    if (seen.size === 0) throw bad();
  }
  // Rounded to the millisecond first so that 1.1h is 66 minutes, not 67 from float noise.
  const minutes = Math.ceil(Math.round(seconds * 1000) / 60_000);
  if (!(minutes > 0)) throw new DurationError(`invalid duration '${text}': must be longer than zero`);
  return minutes;
}
