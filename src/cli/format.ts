/** Parsing of keys and values from the command line and rendering of results. */
import { fromHex, toHex } from '../util/bytes.js';

export type Encoding = 'text' | 'hex';

export function parseEncoding(value: string): Encoding {
  if (value !== 'text' && value !== 'hex') throw new UsageError(`--format must be "text" or "hex", got "${value}"`);
  return value;
}

/** Bytes from an argument: UTF-8 text, or hex with `--hex`. */
export function parseBytes(arg: string, hex: boolean, what: string): Uint8Array {
  if (!hex) return new TextEncoder().encode(arg);
  try {
    return fromHex(arg);
  } catch (err: unknown) {
    throw new UsageError(`${what} is not valid hex: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function render(bytes: Uint8Array, encoding: Encoding): string {
  return encoding === 'hex' ? toHex(bytes) : Buffer.from(bytes).toString('utf8');
}

/** A mistake in how the command was invoked (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a command writes (injectable so tests can run commands in-process and read what they print). */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** The playground's scheduler: where `raw` and `ctl` go when no address is given. */
export const DEFAULT_PD_ADDRS = '127.0.0.1:2379';

/**
 * Scheduler addresses from `--pd a:1,b:2`: comma-separated `host:port`s
 * (an IPv6 host in brackets), in the order given.
 * @throws {UsageError} on an empty list or an entry without a port
 */
export function parsePdAddrs(value: string): string[] {
  const addrs = value.split(',').map((a) => a.trim());
  for (const addr of addrs) {
    if (!/^[^\s,]+:\d{1,5}$/.test(addr)) throw new UsageError(`--pd must be comma-separated host:port addresses, got "${value}"`);
  }
  return addrs;
}

/**
 * A positive id (region, store) or count from a decimal argument. Strict on
 * purpose: `Number()` would take "0x10", "1e3" and " 7".
 * @throws {UsageError} unless a decimal integer in [1, 2^53)
 */
export function parsePositiveId(value: string, what: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive integer, got "${value}"`);
  return n;
}

/** Whether every byte is printable ASCII (0x20..0x7e), so the key reads as text. */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

/**
 * A key for a table: printable ASCII as it is, anything else as `0x`-prefixed
 * hex (so the two cannot be mistaken), plain hex when `hex` forces it.
 */
export function renderKeyForTable(bytes: Uint8Array, hex: boolean): string {
  if (hex) return toHex(bytes);
  return isPrintableAscii(bytes) ? Buffer.from(bytes).toString('latin1') : `0x${toHex(bytes)}`;
}

/**
 * Rows as aligned columns separated by two spaces, header first, no trailing
 * blanks. Every row must have as many cells as the header.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [header, ...rows].map((r) => `${line(r)}\n`).join('');
}
