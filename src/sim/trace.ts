/**
 * The event trace of a run, stamped with virtual time (never wall-clock
 * time). It has two streams, both hashed with SHA-256 so that the
 * determinism meta-test can compare whole runs by one digest:
 *
 * - text lines (`record`): significant events (client operations, faults,
 *   crashes, elections), also kept in a short tail for failure reports and
 *   sent to the optional sink (`--verbose`);
 * - numeric events (`event`): high-volume events (every message delivery and
 *   drop), hashed as packed 32-bit words, because formatting a line per
 *   message would cost more than simulating it. With a sink attached,
 *   producers also render them as text through `detail` (sink only).
 *
 * A disabled trace costs one branch per call site (`enabled`).
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { endianness } from 'node:os';
import { assert } from '../util/assert.js';
import { traceTailLinesMax } from './limits.js';

/** Characters of text buffered before they are fed to the hash. */
const textChunkChars = 64 * 1024;
/** Words of numeric events buffered before they are fed to the hash. */
const eventChunkWords = 16 * 1024;
const wordsPerEvent = 6;
/** A Uint32Array's bytes are already little-endian here: hash them as they are. */
const littleEndianHost = endianness() === 'LE';

export interface TraceOptions {
  /** Hash and keep a tail of the events. @default true */
  readonly enabled?: boolean;
  /** Receives every line as it is recorded (the CLI's `--verbose`). */
  readonly sink?: (line: string) => void;
  /** Current virtual time, to stamp lines. */
  readonly nowMs: () => number;
}

export class Trace {
  readonly enabled: boolean;
  /** True when a sink wants text for high-volume events too. */
  readonly verbose: boolean;
  private readonly textHash: Hash | undefined;
  private readonly eventHash: Hash | undefined;
  private readonly sink: ((line: string) => void) | undefined;
  private readonly nowMs: () => number;
  /** Ring buffer of the last lines; `tailNext` is the slot the next line goes to. */
  private readonly tailLines: string[] = [];
  private tailNext = 0;
  private pendingText = '';
  private readonly pendingEvents = new Uint32Array(eventChunkWords);
  private pendingWords = 0;
  private lineCount = 0;
  private eventCount = 0;
  private digestValue: string | undefined;

  constructor(options: TraceOptions) {
    this.enabled = options.enabled ?? true;
    this.textHash = this.enabled ? createHash('sha256') : undefined;
    this.eventHash = this.enabled ? createHash('sha256') : undefined;
    this.sink = options.sink;
    this.verbose = this.enabled && options.sink !== undefined;
    this.nowMs = options.nowMs;
    assert(eventChunkWords % wordsPerEvent !== 0 || eventChunkWords >= wordsPerEvent, 'trace: chunk too small');
  }

  /** Text lines recorded. */
  get lines(): number {
    return this.lineCount;
  }

  /** Numeric events recorded. */
  get events(): number {
    return this.eventCount;
  }

  /** Records a significant event at the current virtual time. Callers check `enabled` before formatting. */
  record(text: string): void {
    if (!this.enabled) return;
    assert(this.digestValue === undefined, 'trace: record after digest');
    const line = `${this.nowMs()} ${text}`;
    this.pendingText += `${line}\n`;
    if (this.pendingText.length >= textChunkChars) this.flushText();
    this.lineCount++;
    this.tailLines[this.tailNext] = line;
    this.tailNext = (this.tailNext + 1) % traceTailLinesMax;
    this.sink?.(line);
  }

  /** Records a high-volume event as numbers (each taken modulo 2^32). */
  event(kind: number, a: number, b: number, c: number, d: number): void {
    if (!this.enabled) return;
    if (this.pendingWords + wordsPerEvent > eventChunkWords) this.flushEvents();
    const words = this.pendingEvents;
    const i = this.pendingWords;
    words[i] = this.nowMs();
    words[i + 1] = kind;
    words[i + 2] = a;
    words[i + 3] = b;
    words[i + 4] = c;
    words[i + 5] = d;
    this.pendingWords = i + wordsPerEvent;
    this.eventCount++;
  }

  /** Text for the sink only (not hashed): the rendering of a numeric event in verbose mode. */
  detail(text: string): void {
    if (this.verbose) this.sink?.(`${this.nowMs()} ${text}`);
  }

  /** The last lines recorded, oldest first. */
  tail(): readonly string[] {
    return [...this.tailLines.slice(this.tailNext), ...this.tailLines.slice(0, this.tailNext)];
  }

  /** Hex SHA-256 over both streams; ends the trace. Empty string when disabled. */
  digest(): string {
    if (this.digestValue !== undefined) return this.digestValue;
    if (this.textHash === undefined || this.eventHash === undefined) {
      this.digestValue = '';
      return this.digestValue;
    }
    this.flushText();
    this.flushEvents();
    const combined = createHash('sha256');
    combined.update(this.textHash.digest('hex'));
    combined.update(this.eventHash.digest('hex'));
    this.digestValue = combined.digest('hex');
    return this.digestValue;
  }

  private flushText(): void {
    if (this.pendingText.length === 0) return;
    this.textHash?.update(this.pendingText);
    this.pendingText = '';
  }

  private flushEvents(): void {
    if (this.pendingWords === 0) return;
    const words = this.pendingEvents.subarray(0, this.pendingWords);
    // Hash the words in little-endian byte order whatever the host's: a digest is comparable everywhere.
    if (littleEndianHost) {
      this.eventHash?.update(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
    } else {
      const bytes = Buffer.alloc(words.length * 4);
      for (let i = 0; i < words.length; i++) bytes.writeUInt32LE(words[i] as number, i * 4);
      this.eventHash?.update(bytes);
    }
    this.pendingWords = 0;
  }
}
