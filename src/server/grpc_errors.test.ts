// Goal: toServiceError maps each thrown operating error to the gRPC status
// docs/ERRORS.md promises, and never maps a broken invariant. In particular a
// region error that escapes a handler is UNAVAILABLE (retry after refreshing
// the route), not INVALID_ARGUMENT (do not retry), and keeps its message.
// Method: call toServiceError on one value of each kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { notLeader, outcomeUnknown } from '../raftstore/region_errors.js';
import { EngineError, ENGINE_ERROR_CODES } from '../storage/engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import { AssertionError } from '../util/assert.js';
import { toServiceError } from './grpc_errors.js';
import { UnimplementedError } from './server.js';

test('toServiceError() maps an escaped STORAGE_REGION_ERROR to UNAVAILABLE with its message', () => {
  const definite = toServiceError(StorageError.region(notLeader(1, { id: 2, storeId: 1 })));
  assert.equal(definite.code, status.UNAVAILABLE);
  assert.equal(definite.details, 'Region error: peer is not the leader of region 1');
  const unknown = toServiceError(StorageError.region(outcomeUnknown('store 1 is stopping')));
  assert.equal(unknown.code, status.UNAVAILABLE);
  assert.match(unknown.details, /OutcomeUnknown: store 1 is stopping/);
});

test('toServiceError() maps the other storage and engine errors', () => {
  const cases: [unknown, status][] = [
    [new StorageError(STORAGE_ERROR_CODES.Stopped, 'Storage is not running'), status.UNAVAILABLE],
    [new StorageError(STORAGE_ERROR_CODES.InvalidCf, 'Column family "raft" is internal'), status.INVALID_ARGUMENT],
    [new EngineError(ENGINE_ERROR_CODES.Closed, 'closed'), status.UNAVAILABLE],
    [new EngineError(ENGINE_ERROR_CODES.Io, 'disk on fire'), status.INTERNAL],
    [new UnimplementedError('KvScan is not implemented'), status.UNIMPLEMENTED],
    [new Error('surprise'), status.INTERNAL],
  ];
  for (const [err, code] of cases) assert.equal(toServiceError(err).code, code, String(err));
});

test('toServiceError() rethrows an AssertionError', () => {
  assert.throws(() => toServiceError(new AssertionError('broken')), AssertionError);
});
