/** What a masked value is replaced by in a run's log. */
export const MASK = '***';
const MASK_BYTES = Buffer.from(MASK, 'latin1');

/**
 * Values (and forms of them) shorter than this are not masked: a marker no longer than what it hides means masking
 * never makes a log longer (the quota's arithmetic holds), and a 1-3 byte "secret" would mask half of every log.
 */
export const MIN_MASK_BYTES = 4;
/** Base64 fragments of a value at another alignment are masked from this many characters (6 bytes of the value) on. */
const MIN_SHIFTED_BASE64_CHARS = 8;

/** RFC 3986's unreserved characters, and those encodeURIComponent also leaves alone (!*'()). */
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const COMPONENT_SAFE = /[A-Za-z0-9\-._~!*'()]/;

/** Percent-encodes bytes: every byte outside `safe` becomes %XX (upper or lower case hex), spaces `+` if asked. */
function percentEncode(value: Buffer, safe: RegExp, lower: boolean, plusForSpace: boolean): string {
  let out = '';
  for (const b of value) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && safe.test(c)) out += c;
    else if (b === 0x20 && plusForSpace) out += '+';
    else {
      const hex = b.toString(16).padStart(2, '0');
      out += `%${lower ? hex : hex.toUpperCase()}`;
    }
  }
  return out;
}

/** `value` split at line breaks (\n, \r\n, \r): each line of a multi-line value reaches the log as its own record. */
function lines(value: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c !== 0x0a && c !== 0x0d) continue;
    out.push(value.subarray(start, i));
    if (c === 0x0d && value[i + 1] === 0x0a) i++;
    start = i + 1;
  }
  out.push(value.subarray(start));
  return out;
}

/**
 * Every form of a secret value that the masker looks for:
 * - the bytes themselves, and each line of a multi-line value (the log stores one record per line);
 * - standard Base64 (with and without padding) and Base64url of the whole value;
 * - Base64 of the value inside a larger string: the encoding of bytes depends on their offset mod 3 in what is
 *   encoded, so for each of the 3 offsets the characters that encode the value's bits alone (they do not depend on
 *   the bytes around it) are a form of their own, in both alphabets. The one character at each end that mixes the
 *   value's bits with its neighbours' stays visible (it carries at most 4 bits of the value);
 * - percent-encoded: RFC 3986 (only unreserved characters left) and encodeURIComponent's set, each with upper and
 *   lower case hex, with spaces as %20 or `+` (form encoding).
 * Forms shorter than MIN_MASK_BYTES are left out, and every form of a value that is itself shorter.
 */
export function maskForms(value: Buffer): Buffer[] {
  const forms = new Map<string, Buffer>();
  const add = (b: Buffer, min = MIN_MASK_BYTES) => {
    if (b.length >= min) forms.set(b.toString('latin1'), b);
  };
  const text = (s: string, min?: number) => add(Buffer.from(s, 'latin1'), min);
  // A value too short to mask is not masked in any form either (its Base64 would be long enough, and as common).
  if (value.length < MIN_MASK_BYTES) return [];
  add(value);
  for (const line of lines(value)) add(line);
  const b64 = value.toString('base64');
  text(b64);
  text(b64.replace(/=+$/, ''));
  text(value.toString('base64url'));
  for (let offset = 0; offset < 3; offset++) {
    // The value's bits span [8*offset, 8*(offset+length)) of the encoded bit stream; character j encodes bits
    // [6j, 6j+6). The characters that lie wholly inside the value's bits are the same whatever surrounds it.
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + value.length)) / 6);
    const padded = Buffer.concat([Buffer.alloc(offset), value, Buffer.alloc(2)]);
    text(padded.toString('base64').slice(first, end), MIN_SHIFTED_BASE64_CHARS);
    text(padded.toString('base64url').slice(first, end), MIN_SHIFTED_BASE64_CHARS);
  }
  for (const safe of [UNRESERVED, COMPONENT_SAFE]) {
    for (const lower of [false, true]) for (const plus of [false, true]) text(percentEncode(value, safe, lower, plus));
  }
  return [...forms.values()];
}

/**
 * The secret values one run has read, in every form maskForms makes, and where they occur in its output. Matches
 * that overlap or touch (two secrets side by side, one inside another) become one marker, so no part of either shows.
 */
export class SecretMasker {
  private readonly patterns = new Map<string, Buffer>();
  /** The longest form: a cut within this distance of a match may split it. */
  maxLength = 0;

  /** Adds values (their raw bytes); returns whether anything new is masked. */
  add(values: readonly Buffer[]): boolean {
    let added = false;
    for (const v of values) {
      for (const form of maskForms(v)) {
        const key = form.toString('latin1');
        if (this.patterns.has(key)) continue;
        this.patterns.set(key, form);
        this.maxLength = Math.max(this.maxLength, form.length);
        added = true;
      }
    }
    return added;
  }

  get size(): number {
    return this.patterns.size;
  }

  /** The merged [start, end) ranges of every match that lies wholly in buf[from, to), in order. */
  ranges(buf: Buffer, from: number, to: number): [number, number][] {
    const found: [number, number][] = [];
    for (const p of this.patterns.values()) {
      let i = buf.indexOf(p, from);
      // Every occurrence, overlapping ones too (aaaa in aaaaa): the merge below joins them.
      while (i !== -1 && i + p.length <= to) {
        found.push([i, i + p.length]);
        i = buf.indexOf(p, i + 1);
      }
    }
    if (found.length === 0) return found;
    found.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [found[0]];
    for (let k = 1; k < found.length; k++) {
      const last = merged[merged.length - 1];
      const [s, e] = found[k];
      if (s <= last[1]) last[1] = Math.max(last[1], e);
      else merged.push([s, e]);
    }
    return merged;
  }

  /** Whether any form occurs in buf[from, to): one search per form over a whole read, before any per-line work. */
  occursIn(buf: Buffer, from: number, to: number): boolean {
    for (const p of this.patterns.values()) {
      const i = buf.indexOf(p, from);
      if (i !== -1 && i + p.length <= to) return true;
    }
    return false;
  }

  /** buf[from, to) with every match replaced by the marker; null when nothing matched (the bytes stay as they are). */
  mask(buf: Buffer, from: number, to: number): Buffer | null {
    const ranges = this.ranges(buf, from, to);
    if (ranges.length === 0) return null;
    const parts: Buffer[] = [];
    let at = from;
    for (const [s, e] of ranges) {
      parts.push(buf.subarray(at, s), MASK_BYTES);
      at = e;
    }
    parts.push(buf.subarray(at, to));
    return Buffer.concat(parts);
  }

  /**
   * Where to cut a line that is too long near `at` (lineStart < at) so that no match is split between two records:
   * `at` itself, or the start of a match that spans it, or that match's end when it starts the line. `to` must lie
   * at least maxLength past `at` (or be the line's true end), so that every match spanning `at` is seen.
   */
  safeCut(buf: Buffer, lineStart: number, at: number, to: number): number {
    // From the line's start: a chain of overlapping matches may begin more than maxLength before `at`.
    for (const [s, e] of this.ranges(buf, lineStart, Math.min(to, at + this.maxLength))) {
      if (s < at && at < e) return s > lineStart ? s : e;
    }
    return at;
  }
}
