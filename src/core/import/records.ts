/**
 * Cutting a byte stream into records, whatever the chunk boundaries: a record ends at a line feed
 * outside quotes (RFC 4180: a quoted field may hold line feeds), a CR before it is dropped, a
 * UTF-8 byte order mark before the first record is skipped, and empty lines are skipped (they
 * still count as lines). A record is handed on only when it is complete, so a subclass parses
 * whole records and every error is the same however the bytes were cut; only the unfinished
 * tail of a chunk is copied, and it is scanned once.
 */
import { ImportError } from '../errors.js';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** Longest line (record) accepted, in bytes, without its line end (LF or CRLF): 1 MiB. */
export const MAX_LINE_BYTES = 1024 * 1024;

function tooLong(line: number): ImportError {
  return new ImportError(
    `line ${line}: longer than 1 MiB (${MAX_LINE_BYTES.toLocaleString('en-US')} bytes)`,
    {
      line,
    },
  );
}

/** Whether the record data[s, e) — or the start of one — is longer than the limit, a CR at its end not counted. */
function over(data: Buffer, s: number, e: number): boolean {
  return e - s - (e > s && data[e - 1] === CR ? 1 : 0) > MAX_LINE_BYTES;
}

/**
 * The splitting of chunks into complete records; {@link record} is called once per non-empty
 * record, in order.
 */
export abstract class RecordSplitter {
  /** Lines consumed so far (the next record starts on line `lines + 1`). */
  protected lines = 0;
  /** Bytes pushed so far. */
  bytes = 0;
  private records = 0;
  private carry = Buffer.alloc(0);
  private carryLen = 0;
  /** Whether the carried bytes end inside a quoted field. */
  private carryInQuotes = false;
  private carryHasQuotes = false;
  private ended = false;
  private failure: Error | null = null;

  /**
   * Handles one complete, non-empty record.
   *
   * @param data - bytes holding the record (valid only during the call)
   * @param s - its first byte
   * @param e - its end (exclusive), without the line end
   * @param quoted - whether the record holds a quote character (else it is plain fields)
   * @param line - the 1-based line it starts on
   */
  protected abstract record(data: Buffer, s: number, e: number, quoted: boolean, line: number): void;

  /**
   * Runs `work` unless an earlier call failed: the first failure is kept and thrown again by
   * every later call, so a parser that refused its input never goes on as if it had not.
   */
  protected guard(work: () => void): void {
    if (this.failure !== null) throw this.failure;
    try {
      work();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  /** Feeds one chunk; the chunk is not kept after the call returns. */
  protected split(bytes: Uint8Array): void {
    if (this.ended) throw new Error('the parser has ended: push after end()');
    const chunk = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bytes += chunk.length;
    let from = 0;
    if (this.carryLen > 0) {
      // Continue the carried record: find its end in this chunk.
      let p = 0;
      let inQuotes = this.carryInQuotes;
      let end = -1;
      while (p <= chunk.length) {
        if (inQuotes) {
          const q = chunk.indexOf(QUOTE, p);
          if (q < 0) break;
          inQuotes = false;
          p = q + 1;
          continue;
        }
        const lf = chunk.indexOf(LF, p);
        const q = chunk.indexOf(QUOTE, p);
        if (q >= 0 && (lf < 0 || q < lf)) {
          this.carryHasQuotes = true;
          inQuotes = true;
          p = q + 1;
          continue;
        }
        end = lf;
        break;
      }
      if (end < 0) {
        this.append(chunk, 0, chunk.length);
        this.carryInQuotes = inQuotes;
        if (over(this.carry, 0, this.carryLen)) throw tooLong(this.lines + 1);
        return;
      }
      this.append(chunk, 0, end);
      if (over(this.carry, 0, this.carryLen)) throw tooLong(this.lines + 1);
      this.take(this.carry, 0, this.carryLen, this.carryHasQuotes);
      this.lines += 1;
      this.carryLen = 0;
      this.carryInQuotes = false;
      this.carryHasQuotes = false;
      from = end + 1;
    }
    this.splitComplete(chunk, from);
  }

  /** Ends the input: the record after the last line feed, if any, is complete now. */
  protected finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.carryLen === 0) return;
    if (this.carryInQuotes) {
      const line = this.lines + 1;
      throw new ImportError(`line ${line}: a quoted field is not closed before the end of the input`, {
        line,
      });
    }
    this.take(this.carry, 0, this.carryLen, this.carryHasQuotes);
    this.carryLen = 0;
  }

  /** The complete records of `data` from `p`; its unfinished tail goes to the carry. */
  private splitComplete(data: Buffer, p: number): void {
    const len = data.length;
    let nextQuote = data.indexOf(QUOTE, p);
    while (p < len) {
      let end = data.indexOf(LF, p);
      const quoted = nextQuote >= 0 && (end < 0 || nextQuote < end);
      if (quoted) {
        // Toggle at every quote (a doubled quote toggles twice); the record ends at the first
        // line feed outside quotes.
        let q = nextQuote;
        let inQuotes = true;
        end = -1;
        for (let i = q + 1; i < len; i++) {
          const b = data[i]!;
          if (b === QUOTE) inQuotes = !inQuotes;
          else if (b === LF && !inQuotes) {
            end = i;
            break;
          }
        }
        if (end < 0) {
          this.carryInQuotes = inQuotes;
          this.carryHasQuotes = true;
          this.tail(data, p);
          return;
        }
        q = data.indexOf(QUOTE, end + 1);
        nextQuote = q;
      } else if (end < 0) {
        this.carryInQuotes = false;
        this.carryHasQuotes = false;
        this.tail(data, p);
        return;
      }
      if (over(data, p, end)) throw tooLong(this.lines + 1);
      this.take(data, p, end, quoted);
      this.lines += 1;
      p = end + 1;
    }
  }

  /** Keeps data[p, len) as the start of the next record. */
  private tail(data: Buffer, p: number): void {
    if (over(data, p, data.length)) throw tooLong(this.lines + 1);
    this.carryLen = 0;
    this.append(data, p, data.length);
  }

  private append(data: Buffer, s: number, e: number): void {
    const need = this.carryLen + (e - s);
    if (need > this.carry.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(need, Math.min(2 * this.carry.length, MAX_LINE_BYTES + 2), 256),
      );
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(data.subarray(s, e), this.carryLen);
    this.carryLen = need;
  }

  /** One record [s, e) without its line feed: drops the CR and a first record's BOM. */
  private take(data: Buffer, s: number, e: number, quoted: boolean): void {
    const line = this.lines + 1;
    if (quoted) for (let i = s; i < e; i++) if (data[i] === LF) this.lines += 1;
    if (e > s && data[e - 1] === CR) e--;
    if (this.records === 0 && e - s >= 3 && data[s] === 0xef && data[s + 1] === 0xbb && data[s + 2] === 0xbf)
      s += 3;
    if (e === s) return;
    this.records += 1;
    this.record(data, s, e, quoted, line);
  }
}
