/** The raft core's public surface. */
export { RawNode, SnapshotStatus } from './raw_node.js';
export type { Status } from './raw_node.js';
export type { Ready } from './ready.js';
export { isEmptyReady } from './ready.js';
export type { Config } from './config.js';
export { Raft, CampaignType } from './raft.js';
export { MemoryStorage, RaftStorageError, RAFT_STORAGE_ERROR_CODES } from './storage.js';
export type { Storage, InitialState } from './storage.js';
export { ReadOnlyOption } from './read_only.js';
export type { ReadState } from './read_only.js';
export * from './types.js';
export * from './describe.js';
export { encodeConfChange, decodeConfChangeEntry } from './conf_change_codec.js';
