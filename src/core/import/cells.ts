/**
 * Reading one cell of an imported file straight from its bytes: numbers (correctly rounded, as
 * `Number()` and PostgreSQL's `float8in` read them), RFC 3339 and epoch timestamps, and the
 * description of a cell for an error message. No strings are made on the fast paths.
 */
import { isUtf8 } from 'node:buffer';

const ZERO = 0x30;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const SPACE = 0x20;
const TAB = 0x09;

/** Exact powers of ten: a product or quotient of two exact doubles is correctly rounded. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Earliest and latest instants accepted, in ms: years 0000 – 9999, as RFC 3339 writes them. */
export const MIN_TIME_MS = -62_167_219_200_000;
export const MAX_TIME_MS = 253_402_300_799_999;

/**
 * The fast reading of a plain decimal (`-12.5`, `0.202020`, `3e-4`): digits are accumulated as
 * they are read; up to 15 significant digits and a power of ten within ±22 are exact (Clinger's
 * fast path), anything longer is read by `Number()`. {@link end} is where the number's bytes
 * stopped; the caller checks that the cell ends there.
 */
export class NumberScanner {
  /** Index of the first byte after the number; equal to the start when nothing was read. */
  end = 0;
  /** The record being read and, once a long number needed it, its text (one string a record). */
  private record: Buffer | null = null;
  private recordStart = 0;
  private recordEnd = 0;
  private recordText: string | null = null;

  /** Starts a record: numbers longer than the fast path are cut from one string of it. */
  begin(data: Buffer, s: number, e: number): void {
    this.record = data;
    this.recordStart = s;
    this.recordEnd = e;
    this.recordText = null;
  }

  /** `Number()` of the bytes [s, e) of the record begun (a substring is far cheaper than a new string). */
  private slow(data: Buffer, s: number, e: number): number {
    if (data !== this.record || s < this.recordStart || e > this.recordEnd) return Number(latin1(data, s, e));
    this.recordText ??= latin1(data, this.recordStart, this.recordEnd);
    return Number(this.recordText.slice(s - this.recordStart, e - this.recordStart));
  }

  /**
   * @param data - the bytes
   * @param s - the cell's first byte
   * @param e - the end of the cell's bytes (exclusive; the cell may end earlier, at a comma)
   * @returns the value; meaningful only when {@link end} is after `s` and the cell ends there
   */
  scan(data: Buffer, s: number, e: number): number {
    let p = s;
    let neg = false;
    if (p < e) {
      const b = data[p]!;
      if (b === MINUS) {
        neg = true;
        p++;
      } else if (b === PLUS) p++;
    }
    let m = 0;
    let digits = 0;
    let exp = 0;
    while (p < e) {
      const d = data[p]! - ZERO;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
      digits++;
      p++;
    }
    if (p < e && data[p] === DOT) {
      p++;
      while (p < e) {
        const d = data[p]! - ZERO;
        if (d < 0 || d > 9) break;
        m = m * 10 + d;
        digits++;
        exp--;
        p++;
      }
    }
    if (digits === 0) {
      this.end = s;
      return NaN;
    }
    if (p < e && (data[p]! | 0x20) === 0x65) {
      // An exponent: e, an optional sign, at least one digit.
      let q = p + 1;
      let eneg = false;
      if (q < e && (data[q] === MINUS || data[q] === PLUS)) eneg = data[q++] === MINUS;
      let x = 0;
      const first = q;
      while (q < e) {
        const d = data[q]! - ZERO;
        if (d < 0 || d > 9) break;
        if (x < 100_000) x = x * 10 + d;
        q++;
      }
      if (q === first) {
        this.end = p;
        return NaN;
      }
      exp += eneg ? -x : x;
      p = q;
    }
    this.end = p;
    let v: number;
    if (digits <= 15 && exp >= -22 && exp <= 22) v = exp < 0 ? m / POW10[-exp]! : m * POW10[exp]!;
    else return this.slow(data, s, p);
    return neg ? -v : v;
  }
}

/** The bytes [s, e) as a latin1 string (for ASCII bytes, the text itself). */
export function latin1(data: Buffer, s: number, e: number): string {
  return data.toString('latin1', s, e);
}

/** The bytes [s, e) as UTF-8 text (the caller has checked that they are). */
export function utf8(data: Buffer, s: number, e: number): string {
  return data.toString('utf8', s, e);
}

/** True when the bytes [s, e) are valid UTF-8. */
export function isUtf8Range(data: Buffer, s: number, e: number): boolean {
  for (let p = s; p < e; p++) if (data[p]! >= 0x80) return isUtf8(data.subarray(p, e));
  return true;
}

/** [s, e) without leading and trailing spaces and tabs, as `[s, e]` in `out`. */
function trim(data: Buffer, s: number, e: number, out: Int32Array): void {
  while (s < e && (data[s] === SPACE || data[s] === TAB)) s++;
  while (e > s && (data[e - 1] === SPACE || data[e - 1] === TAB)) e--;
  out[0] = s;
  out[1] = e;
}

const bounds = new Int32Array(2);
const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY_TEXT = /^[+-]?inf(?:inity)?$/i;
const MISSING_TEXT = /^(?:nan|null)$/i;

/**
 * The general reading of a metric cell, for what the fast path did not take: spaces around the
 * number, a missing value (empty, `NaN`, `null`, any case: NaN), `inf` / `infinity` (signed, any
 * case, as PostgreSQL reads them), or a decimal `Number()` reads correctly rounded.
 *
 * @returns the value, NaN for a missing one, or null when the cell is not a number
 */
export function parseNumberText(data: Buffer, s: number, e: number): number | null {
  trim(data, s, e, bounds);
  const a = bounds[0]!;
  const b = bounds[1]!;
  if (a === b) return NaN;
  if (b - a > 400) return null;
  for (let p = a; p < b; p++) if (data[p]! >= 0x80) return null;
  const text = latin1(data, a, b);
  if (NUMBER_TEXT.test(text)) return Number(text);
  if (MISSING_TEXT.test(text)) return NaN;
  if (INFINITY_TEXT.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  return null;
}

/** True when the cell holds a number (an epoch time, say), spaces around it allowed. */
export function looksNumeric(data: Buffer, s: number, e: number): boolean {
  const v = parseNumberText(data, s, e);
  return v !== null && Number.isFinite(v);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `count` decimal digits at `p`, or -1 when one of them is not a digit. */
function digitsAt(data: Buffer, p: number, count: number): number {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const d = data[p + i]! - ZERO;
    if (!(d >= 0 && d <= 9)) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * An RFC 3339 date-time (`2024-01-31T12:00:00Z`, `2024-01-31 12:00:00.250+02:00`; `T`, `t` or a
 * space between date and time; `Z`, `z` or an offset), spaces around it allowed. Seconds may be
 * 60 (a leap second: the next minute's first, as PostgreSQL reads it); fractions are rounded to
 * the microsecond.
 *
 * @returns milliseconds since the Unix epoch, or null when the cell is not RFC 3339
 */
export function parseRfc3339(data: Buffer, s: number, e: number): number | null {
  trim(data, s, e, bounds);
  let p = bounds[0]!;
  const end = bounds[1]!;
  if (end - p < 20) return null;
  const year = digitsAt(data, p, 4);
  const month = digitsAt(data, p + 5, 2);
  const day = digitsAt(data, p + 8, 2);
  const hour = digitsAt(data, p + 11, 2);
  const minute = digitsAt(data, p + 14, 2);
  const second = digitsAt(data, p + 17, 2);
  const sep = data[p + 10]! | 0x20;
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 60 ||
    data[p + 4] !== MINUS ||
    data[p + 7] !== MINUS ||
    data[p + 13] !== 0x3a ||
    data[p + 16] !== 0x3a ||
    (sep !== 0x74 && sep !== SPACE)
  ) {
    return null;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > MONTH_DAYS[month - 1]! + (month === 2 && leap ? 1 : 0)) return null;
  p += 19;
  let micros = 0;
  if (data[p] === DOT) {
    p++;
    const first = p;
    let scale = 100_000;
    while (p < end) {
      const d = data[p]! - ZERO;
      if (d < 0 || d > 9) break;
      if (scale >= 1) micros += d * scale;
      else if (scale === 0.1 && d >= 5) micros += 1;
      scale /= 10;
      p++;
    }
    if (p === first) return null;
  }
  let offsetMin = 0;
  const z = data[p]! | 0x20;
  if (z === 0x7a && p + 1 === end) {
    // Z: UTC.
  } else if ((data[p] === PLUS || data[p] === MINUS) && p + 6 === end && data[p + 3] === 0x3a) {
    const oh = digitsAt(data, p + 1, 2);
    const om = digitsAt(data, p + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
    offsetMin = (data[p] === MINUS ? -1 : 1) * (oh * 60 + om);
  } else return null;
  const seconds =
    daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMin * 60;
  return seconds * 1000 + micros / 1000;
}

/**
 * An epoch time in `unit` as milliseconds, rounded to the microsecond.
 *
 * @param v - the cell's number (finite)
 * @param unit - `s` or `ms`
 */
export function epochToMs(v: number, unit: 's' | 'ms'): number {
  return unit === 's' ? Math.round(v * 1e6) / 1e3 : Math.round(v * 1e3) / 1e3;
}

/**
 * A cell's text for an error message, quoted and cut at 60 characters, or null when its bytes
 * are not UTF-8.
 */
export function showCell(data: Buffer, s: number, e: number): string | null {
  if (!isUtf8Range(data, s, e)) return null;
  const text = utf8(data, s, Math.min(e, s + 240));
  return JSON.stringify(text.length > 60 || e - s > 240 ? `${text.slice(0, 60)}…` : text);
}

const INTERN_SLOTS = 4096;
const INTERN_MAX_BYTES = 64;

/**
 * Remembers the strings of short cells by their bytes (a hash table of 4,096 slots, the newest
 * value winning a slot), so a column of repeated values (hosts, regions) makes and checks each
 * string once, and records share them.
 */
export class Interner {
  private readonly keys: (Uint8Array | null)[] = new Array<Uint8Array | null>(INTERN_SLOTS).fill(null);
  private readonly values: string[] = new Array<string>(INTERN_SLOTS).fill('');
  private slot = 0;

  /** The string remembered for the bytes [s, e), else undefined (then {@link put} may store it). */
  get(data: Buffer, s: number, e: number): string | undefined {
    let h = 0x811c9dc5;
    for (let i = s; i < e; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
    const slot = (h >>> 0) & (INTERN_SLOTS - 1);
    this.slot = slot;
    const k = this.keys[slot];
    if (k === null || k === undefined || k.length !== e - s) return undefined;
    for (let i = 0; i < k.length; i++) if (k[i] !== data[s + i]) return undefined;
    return this.values[slot];
  }

  /** Remembers `text` for the bytes [s, e) of the last {@link get}, if they are short. */
  put(data: Buffer, s: number, e: number, text: string): void {
    if (e - s > INTERN_MAX_BYTES) return;
    this.keys[this.slot] = Uint8Array.from(data.subarray(s, e));
    this.values[this.slot] = text;
  }
}
