/**
 * The replicated {@link Storage} of a simulated store, the simulator's twin
 * of `RaftStorage` (src/server/raft_storage.ts): a reader is a Snap command
 * (a ReadIndex read on the leader) whose read view is bounded to its region
 * by the shared {@link RegionReader}; a write is one command of puts and
 * deletes, resolved once applied here. The commands and the region-error
 * mapping are the shared ones (src/raftstore/storage_commands.ts), so the
 * txn commands see exactly what they see in production.
 *
 * The commands go through a {@link RaftCommandPort} of one store incarnation
 * (sim_store.ts), which answers from clock events and tells the cluster a
 * promise settled (the async driver then runs its continuations). A port
 * whose incarnation crashed takes nothing and answers nothing: its promises
 * stay pending forever, as a request to a dead process does, and never
 * resolve into the restarted store.
 */
import type { RaftCmdRequest, RaftCmdResponse, RaftRequestHeader } from '../../pb/raft_cmdpb.js';
import type { RegionView } from '../../raftstore/reads.js';
import { regionNotFound } from '../../raftstore/region_errors.js';
import { RegionReader } from '../../raftstore/region_reader.js';
import { modifyRequest, routedHeader, snapRequest, throwRegionError } from '../../raftstore/storage_commands.js';
import { StorageError } from '../../storage/storage.js';
import type { Modify, Storage, StorageContext, StorageReader } from '../../storage/storage.js';
import { assert } from '../../util/assert.js';

/** A command's answer: the response, and the read view of a successful Snap (the receiver closes it). */
export type CommandAnswer = (response: RaftCmdResponse, regionView: RegionView | undefined) => void;

/** Proposes commands through one store incarnation's raftstore. */
export interface RaftCommandPort {
  /**
   * Hands `request` to the raftstore; `onAnswer` runs exactly once with its
   * answer, unless the incarnation ends first (then never).
   */
  command(request: RaftCmdRequest, onAnswer: CommandAnswer): void;
}

export class SimRaftStorage implements Storage {
  constructor(private readonly port: RaftCommandPort) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /**
   * Proposes `batch` as one command; resolves once it is applied here.
   * @throws {StorageError} STORAGE_REGION_ERROR when the raftstore refuses it; STORAGE_INVALID_CF.
   */
  async write(ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    const requests = batch.map(modifyRequest);
    if (requests.length === 0) return;
    const { response, regionView } = await this.command({ header: header(ctx), requests, adminRequest: undefined });
    regionView?.view.close();
    throwRegionError(response);
  }

  /**
   * A reader over a read view of the region, taken once a ReadIndex read
   * confirmed this store's peer leads it. Close it when done.
   * @throws {StorageError} STORAGE_REGION_ERROR.
   */
  async reader(ctx: StorageContext): Promise<StorageReader> {
    const { response, regionView } = await this.command({ header: header(ctx), requests: [snapRequest()], adminRequest: undefined });
    if (response.header?.error !== undefined) {
      regionView?.view.close();
      throwRegionError(response);
    }
    assert(regionView !== undefined, 'sim raft storage: a successful Snap read came without a read view');
    return new RegionReader(regionView);
  }

  private command(request: RaftCmdRequest): Promise<{ response: RaftCmdResponse; regionView: RegionView | undefined }> {
    return new Promise((resolve) => {
      let answered = false;
      this.port.command(request, (response, regionView) => {
        // Every proposal gets exactly one answer (STYLE 10, C3).
        assert(!answered, `sim raft storage: command for region ${request.header?.regionId ?? 0} answered twice`);
        answered = true;
        resolve({ response, regionView });
      });
    });
  }
}

/**
 * The command header of a request context. Clients in the simulator always
 * route (SimTxnRpc fills the context), so region id 0, which `RaftStorage`
 * takes as "the store's only region", is refused as RegionNotFound here.
 */
function header(ctx: StorageContext): RaftRequestHeader {
  if (ctx.regionId === 0) throw StorageError.region(regionNotFound(0));
  return routedHeader(ctx);
}
