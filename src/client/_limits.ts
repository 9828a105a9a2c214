/**
 * Bounds and defaults of the routing client and the scheduler client, named
 * with units and qualifiers last (STYLE 11). They live beside the client
 * rather than in `src/config/limits.ts` only because this change may not
 * touch that file; they belong there, and should move.
 */
import { clientDeadlineMsDefault } from '../config/limits.js';
import { assert } from '../util/assert.js';

/**
 * First pause after an error answer that taught nothing (TinyKV's 100 ms,
 * the simulator's settled rule: docs/RAFTSTORE.md, "EpochNotMatch and
 * region caches"). Doubles with each such answer in a row.
 */
export const retryPauseMsDefault = 100;

/** The longest pause: bounded backoff, four doublings of nothing learnt (the simulator's 400 ms). */
export const retryPauseMsMaxDefault = 4 * retryPauseMsDefault;

/**
 * How long one attempt at one store may take before the client treats the
 * store as silent and tries another peer. Shorter than the operation's
 * deadline so that a black-holed leader (no RST, no answer) costs one
 * attempt, not the whole operation.
 */
export const attemptTimeoutMsDefault = 2_000;

/**
 * Retries made at once in a row (an answer taught a leader or newer
 * regions) before the next one waits a pause anyway: two stores naming
 * each other as leader must not spin the client.
 */
export const retryImmediateMax = 10;

/** Most timestamps one TsoRequest asks for; callers beyond it go in the next request. */
export const tsoBatchMax = 1_000;

/** TSO logical bits (TinyKV / PD: ts = physical << 18 | logical). */
export const tsoLogicalBits = 18;

/** Longest pause before re-opening a broken scheduler stream (Tso, RegionHeartbeat). */
export const streamReopenPauseMsMax = 2_000;

/**
 * Most regions one routed scan may visit (each visit is at least one round
 * trip, so the deadline ends a scan long before; this makes the loop's
 * bound explicit).
 */
export const scanRegionVisitsMax = 100_000;

assert(retryPauseMsDefault > 0, 'retryPauseMsDefault must be positive');
assert(retryPauseMsMaxDefault >= retryPauseMsDefault, 'the longest pause must not be shorter than the first');
assert(attemptTimeoutMsDefault < clientDeadlineMsDefault, 'an attempt must leave room for retries within the deadline');
assert(retryPauseMsMaxDefault < attemptTimeoutMsDefault, 'a pause must be shorter than an attempt');
assert(tsoBatchMax > 0 && tsoBatchMax < 2 ** tsoLogicalBits, 'a TSO batch must fit the logical part');
assert(streamReopenPauseMsMax >= retryPauseMsDefault, 'stream re-open pauses start at retryPauseMsDefault');
