/**
 * Polls `fn` every `everyMs` until it gives a truthy value, and returns that value; past `timeoutMs` it fails naming
 * what it waited for. Tests wait on conditions with generous bounds (the suite runs two files at once on small, busy
 * machines), never on fixed sleeps; the bound only decides how long a broken test takes to fail.
 */
export async function until<T>(
  what: string,
  fn: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 90_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
