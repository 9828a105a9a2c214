/**
 * Bounds of the simulator (TigerStyle: put a limit on everything). Units and
 * qualifiers come last. Relationships are asserted when the module loads.
 */
import { assert } from '../util/assert.js';

/** Most events queued in the virtual clock at once. */
export const eventsQueuedMax = 1_000_000;

/** Most events one run may execute (a run that needs more is stuck in a loop). */
export const eventsPerRunMax = 50_000_000;

/** Most messages a clogged link holds; later ones are dropped, as a full socket buffer would. */
export const heldMessagesPerLinkMax = 10_000;

/** Most message filters installed on the network at once. */
export const networkFiltersMax = 64;

/** Most proposals a node tracks waiting for their apply. */
export const pendingProposalsMax = 1_024;

/** Most reads a node tracks waiting for their read index to apply. */
export const pendingReadsMax = 1_024;

/** Most attempts of one client operation (retries after a definite refusal). */
export const retryAttemptsMax = 8;

/** Most operations one history may hold. */
export const historyOperationsMax = 200_000;

/** Most raft entries applied in one Ready (the core bounds them by bytes; this is a sanity bound). */
export const committedEntriesPerReadyMax = 100_000;

/** Most nodes of a simulated raft group. */
export const nodesMax = 9;

/** Most clients of a workload. */
export const clientsMax = 64;

/** Most keys in one scan. */
export const scanLimitMax = 100;

/** Lines kept in the trace's tail for failure reports. */
export const traceTailLinesMax = 60;

/** Node ids are 1..nodesMax; clients are addressed from this id on so the two never collide. */
export const clientIdBase = 1_000;

assert(eventsQueuedMax < eventsPerRunMax, 'a run must be able to drain a full queue');
assert(nodesMax < clientIdBase, 'node ids must stay below client ids');
assert(retryAttemptsMax >= 1, 'an operation needs at least one attempt');
assert(pendingReadsMax > 0 && pendingProposalsMax > 0, 'pending queues must hold something');
