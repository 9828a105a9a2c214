/**
 * Byte-string helpers. Keys are `Uint8Array` everywhere and are ordered by
 * unsigned lexicographic comparison, the order LMDB and TinyKV's badger use.
 */

/** Total order on byte strings: negative if a < b, 0 if equal, positive if a > b. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/** Lower-case hex rendering, for logs and CLI output. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** @throws {TypeError} when `hex` is not an even-length hex string. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`Cannot decode hex: "${hex}" is not an even-length hex string`);
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** A copy that owns its memory (engines may hand out views of shared buffers). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Renders a key for humans: printable ASCII as a quoted string, else hex. */
export function formatKey(bytes: Uint8Array): string {
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e) return `0x${toHex(bytes)}`;
  }
  return JSON.stringify(fromUtf8(bytes));
}
