/**
 * The transactional service of one simulated store incarnation: the
 * production request handlers (`Server`, src/server/server.ts, with its own
 * `Latches`) over the store's {@link SimRaftStorage}, dispatched by method
 * name as the gRPC service dispatches tinykvpb's Kv* calls. A restarted store
 * gets a new service (new latches, as a restarted process has), so nothing
 * of the old incarnation's in-flight commands leaks into the new one.
 */
import { Server } from '../../server/server.js';
import type { Storage } from '../../storage/storage.js';
import { assertNever } from '../../util/assert.js';
import type { TxnAnswer, TxnCall } from './payload.js';

export class SimTxnService {
  private readonly server: Server;

  constructor(storage: Storage) {
    this.server = new Server(storage);
  }

  /**
   * Runs one request through the Server.
   * @throws whatever the handler throws (region errors are inside responses;
   *   anything thrown is a bug the simulator reports).
   */
  serve(call: TxnCall): Promise<TxnAnswer> {
    const s = this.server;
    switch (call.method) {
      case 'KvGet':
        return s.kvGet(call.request).then((response) => ({ method: call.method, response }));
      case 'KvScan':
        return s.kvScan(call.request).then((response) => ({ method: call.method, response }));
      case 'KvPrewrite':
        return s.kvPrewrite(call.request).then((response) => ({ method: call.method, response }));
      case 'KvCommit':
        return s.kvCommit(call.request).then((response) => ({ method: call.method, response }));
      case 'KvCheckTxnStatus':
        return s.kvCheckTxnStatus(call.request).then((response) => ({ method: call.method, response }));
      case 'KvBatchRollback':
        return s.kvBatchRollback(call.request).then((response) => ({ method: call.method, response }));
      case 'KvResolveLock':
        return s.kvResolveLock(call.request).then((response) => ({ method: call.method, response }));
      default:
        return assertNever(call, 'sim txn service: unknown method');
    }
  }
}
