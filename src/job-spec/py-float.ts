/** A YAML float, kept apart from ints while the ADS document is read. */
export class PyFloat {
  constructor(readonly value: number) {}
  /** Python's str()/repr() of a float. */
  toString(): string {
    const x = this.value;
    if (Number.isNaN(x)) return 'nan';
    if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
    if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
    const [mantissa, expText] = x.toExponential().split('e');
    const exp = Number(expText);
    if (exp >= -4 && exp < 16) {
      const fixed = String(x);
      return fixed.includes('.') ? fixed : `${fixed}.0`;
    }
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
}
