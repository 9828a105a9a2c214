/**
 * Assembles a scheduler from its storage: loads everything once, then builds
 * the id allocator, the TSO, the cluster and the coordinator over it. This is
 * the one entry point the service needs at process start.
 */
import type { Rng } from '../util/prng.js';
import { RaftCluster } from './cluster.js';
import type { ScheduleConfig } from './config.js';
import { Coordinator } from './coordinator.js';
import { IdAllocator } from './id_allocator.js';
import type { OperatorDispatch } from './operator_controller.js';
import type { SchedulerStorage } from './storage.js';
import { Tso } from './tso.js';

export interface OpenSchedulerOptions {
  /** The injected wall clock (ms since the unix epoch). */
  readonly nowMs: () => number;
  readonly rng: Rng;
  /** Used until bootstrap saves one; a loaded cluster keeps its own. @default 0 */
  readonly clusterId?: number;
  /** Its maxReplicas applies until bootstrap; after it, the saved meta's max_peer_count wins. */
  readonly config?: ScheduleConfig;
  /** Ids reserved per save. @default 1000 */
  readonly idStep?: number;
  /** TSO save window. @default 3000 */
  readonly tsoSaveWindowMs?: number;
  readonly onOperatorStep?: (dispatch: OperatorDispatch) => void;
}

export interface SchedulerCore {
  readonly cluster: RaftCluster;
  readonly coordinator: Coordinator;
  readonly ids: IdAllocator;
  readonly tso: Tso;
}

/** @throws whatever `storage.load()` throws. */
export async function openScheduler(storage: SchedulerStorage, opts: OpenSchedulerOptions): Promise<SchedulerCore> {
  const loaded = await storage.load();
  const ids = new IdAllocator({
    savedBound: loaded.idBound, persist: (b) => storage.saveIdBound(b), ...(opts.idStep === undefined ? {} : { step: opts.idStep }),
  });
  const tso = new Tso({
    savedBoundMs: loaded.tsoBoundMs, persist: (b) => storage.saveTsoBound(b), nowMs: opts.nowMs,
    ...(opts.tsoSaveWindowMs === undefined ? {} : { saveWindowMs: opts.tsoSaveWindowMs }),
  });
  const cluster = new RaftCluster({
    storage, ids, loaded, nowMs: opts.nowMs(),
    ...(opts.clusterId === undefined ? {} : { clusterId: opts.clusterId }),
    ...(opts.config === undefined ? {} : { config: opts.config }),
    ...(opts.onOperatorStep === undefined ? {} : { onOperatorStep: opts.onOperatorStep }),
  });
  // PutClusterConfig saved max_peer_count in the meta: it wins over the config the process was
  // started with, as PD's persisted config wins over its config file after the first start.
  if (loaded.meta !== undefined && cluster.config.maxReplicas !== loaded.meta.maxPeerCount) {
    cluster.updateConfig({ maxReplicas: loaded.meta.maxPeerCount });
  }
  const coordinator = new Coordinator(cluster, { rng: opts.rng });
  return { cluster, coordinator, ids, tso };
}
