/**
 * Validation messages: how a message of the form "`name` must be …; got …" names what arrived.
 * One helper for every module that checks its caller's input, so the same value reads the same
 * in every message.
 */

/**
 * A short description of a received value, for the "got …" part of a validation message:
 * strings quoted, numbers, booleans and bigints as written, `null` and `undefined` by name, an
 * array as "an array", a typed array by its class ("a Float64Array", "an Int32Array"), anything
 * else by its `typeof`.
 *
 * @param v - the value that arrived
 * @returns its description
 * @example
 * `nComponents must be an integer in [1, 7]; got ${describe('3')}`; // …; got "3"
 */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) {
    const name = v.constructor.name;
    return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
  }
  return typeof v;
}
