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
