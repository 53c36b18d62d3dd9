/**
 * A policy statement or matching rule that does not parse: the 1-based column where the problem is, and why. The
 * message reads `expected 'to' at column 23, found 'manage'`: what was wrong, where, and what stood there instead.
 */
export class PolicySyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number,
    readonly found?: string,
  ) {
    super(`${reason} at column ${column}${found ? `, found ${found}` : ''}`);
    this.name = 'PolicySyntaxError';
  }
}
