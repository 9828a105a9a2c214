/**
 * `tinykv ctl`: an operator's view of a cluster and its manual controls, in
 * the spirit of PD's pd-ctl and TiKV's tikv-ctl.
 *
 * - Reads (`stores`, `regions`, `region`) ask the scheduler (service
 *   `schedulerpb.Scheduler`): what it shows is the scheduler's view, which
 *   trails the stores by up to one heartbeat.
 * - Operators (`transfer-leader`, `add-peer`, `remove-peer`) are queued with
 *   `adminpb.SchedulerAdmin.AddOperator` at the same address; the scheduler
 *   carries them out through region heartbeats, so `--wait` polls the
 *   scheduler until the effect shows in the region (or the operator ended).
 * - `split` goes to the store leading the region (`adminpb.StoreAdmin`),
 *   found through the scheduler; a NotLeader or EpochNotMatch answer is
 *   definite (nothing happened), so it is retried a bounded number of times
 *   with a fresh lookup. A lost answer is not retried: a second split could
 *   split again.
 *
 * Operating errors are printed as `error: <message>` with exit code 1; usage
 * errors (UsageError) go to main, which exits 2 (docs/CLI.md).
 */
import * as grpc from '@grpc/grpc-js';
import { Command, Option } from 'commander';
import { Backoff, pause } from '../client/backoff.js';
import { ClientError, CLIENT_ERROR_CODES, fromServiceError, SchedulerError, schedulerErrorCode } from '../client/errors.js';
import { PdClient } from '../client/scheduler_client.js';
import type { RegionInfo } from '../client/scheduler_client.js';
import { clientDeadlineMsDefault, grpcMessageBytesMax } from '../config/limits.js';
import { OperatorKind, SchedulerAdminClient, StoreAdminClient } from '../pb/adminpb.js';
import type { AddOperatorResponse, SplitRegionRequest, SplitRegionResponse } from '../pb/adminpb.js';
import type { Peer, Region, Store } from '../pb/metapb.js';
import { StoreState } from '../pb/metapb.js';
import { ErrorType, OperatorStatus, SchedulerClient } from '../pb/schedulerpb.js';
import type { GetOperatorResponse, GetStoreResponse, ResponseHeader, StoreStats } from '../pb/schedulerpb.js';
import { compareBytes, toHex } from '../util/bytes.js';
import { CodedError } from '../util/errors.js';
import { EXIT } from './exit_codes.js';
import {
  DEFAULT_PD_ADDRS, parseBytes, parsePdAddrs, parsePositiveId, processIo, render, renderKeyForTable, renderTable, UsageError,
} from './format.js';
import type { CliIo } from './format.js';

/** Regions asked for per ScanRegions call. */
const regionsPageSize = 1000;
/** Most ScanRegions pages one listing reads (10M regions): the loop is bounded even if the scheduler misbehaves. */
const regionsPagesMax = 10_000;
/** Pause between two polls of `--wait`, ms. */
const waitPollMs = 200;
/** `--wait` without a value, ms. */
const waitMsDefault = 30_000;
/** Longest `--wait` accepted, ms (10 minutes). */
const waitMsMax = 600_000;
/** Attempts of `split` (each with a fresh lookup) before giving up on NotLeader / EpochNotMatch. */
const splitAttemptsMax = 5;
/** Pauses between split attempts, ms: the scheduler learns of a new leader or epoch within a heartbeat. */
const splitRetryPauseMs = 100;
const splitRetryPauseMsMax = 800;

export const CTL_ERROR_CODES = {
  /** The scheduler knows no such region, or no region holds the key. */
  RegionNotFound: 'REGION_NOT_FOUND',
  /** The store refused the split, or kept answering NotLeader / EpochNotMatch. */
  SplitFailed: 'SPLIT_FAILED',
  /** `--wait` ran out before the operator's effect showed. */
  WaitExpired: 'WAIT_EXPIRED',
  /** The scheduler reports the operator ended without success (timeout, cancel, replace). */
  OperatorEnded: 'OPERATOR_ENDED',
  /** An answer that breaks the protocol (a scan that does not advance, a split without two regions). */
  BadAnswer: 'BAD_ANSWER',
} as const;
export type CtlErrorCode = (typeof CTL_ERROR_CODES)[keyof typeof CTL_ERROR_CODES];

/** A `ctl` operation failed for a reason the operator can act on (exit code 1). */
export class CtlError extends CodedError<CtlErrorCode> {
  override readonly name = 'CtlError';
}

export type CtlFormat = 'table' | 'json';

interface CtlOptions {
  pd: string[];
  format: CtlFormat;
  timeout: number;
}

interface KeyOptions extends CtlOptions {
  hex: boolean;
}

/** @throws {UsageError} unless "table" or "json" */
export function parseCtlFormat(value: string): CtlFormat {
  if (value !== 'table' && value !== 'json') throw new UsageError(`--format must be "table" or "json", got "${value}"`);
  return value;
}

/** @throws {UsageError} unless a positive number of ms up to 10 minutes */
function parseWaitMs(value: string): number {
  const ms = parsePositiveId(value, '--wait');
  if (ms > waitMsMax) throw new UsageError(`--wait must be at most ${waitMsMax} ms, got "${value}"`);
  return ms;
}

function withCtlOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--pd <addrs>', 'scheduler address(es), comma-separated host:port').default(parsePdAddrs(DEFAULT_PD_ADDRS), DEFAULT_PD_ADDRS).argParser(parsePdAddrs))
    .addOption(new Option('--format <table|json>', 'table, or json: one object per line').default('table').argParser(parseCtlFormat))
    .addOption(new Option('--timeout <ms>', 'deadline of each call in milliseconds').default(clientDeadlineMsDefault).argParser((v) => parsePositiveId(v, '--timeout')));
}

function withKeyOptions(cmd: Command): Command {
  return withCtlOptions(cmd).option('--hex', 'keys on the command line are hex, and keys are printed as hex', false);
}

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;

/**
 * The connections of one ctl command: `PdClient` for the scheduler calls it
 * wraps, and generated clients for the calls it does not (GetStore with its
 * stats, GetOperator, AddOperator, SplitRegion).
 */
class CtlSession {
  readonly pd: PdClient;
  private readonly schedulers: (SchedulerClient | undefined)[];
  private readonly admins: (SchedulerAdminClient | undefined)[];
  private readonly storeAdmins = new Map<string, StoreAdminClient>();
  readonly abort = new AbortController();

  constructor(private readonly addrs: readonly string[], readonly timeoutMs: number) {
    this.pd = new PdClient({ addrs, deadlineMs: timeoutMs });
    this.schedulers = addrs.map(() => undefined);
    this.admins = addrs.map(() => undefined);
  }

  /** GetStore with the store's last reported statistics. @throws {ClientError | SchedulerError} */
  getStore(storeId: number): Promise<GetStoreResponse> {
    return this.onScheduler('GetStore', (i) => (this.schedulers[i] ??= new SchedulerClient(this.addr(i), ...channel())), (c, clusterId, md, o, cb) =>
      c.getStore({ header: { clusterId }, storeId }, md, o, cb),
    );
  }

  /** The region's running operator, else the last one that ended. @throws {ClientError | SchedulerError} */
  getOperator(regionId: number): Promise<GetOperatorResponse> {
    return this.onScheduler('GetOperator', (i) => (this.schedulers[i] ??= new SchedulerClient(this.addr(i), ...channel())), (c, clusterId, md, o, cb) =>
      c.getOperator({ header: { clusterId }, regionId }, md, o, cb),
    );
  }

  /** @throws {ClientError | SchedulerError} */
  addOperator(regionId: number, kind: OperatorKind, storeId: number): Promise<AddOperatorResponse> {
    return this.onScheduler('AddOperator', (i) => (this.admins[i] ??= new SchedulerAdminClient(this.addr(i), ...channel())), (c, clusterId, md, o, cb) =>
      c.addOperator({ header: { clusterId }, regionId, kind, storeId }, md, o, cb),
    );
  }

  /** SplitRegion on the store at `addr`; not retried here (see the file comment). @throws {ClientError} */
  splitRegion(addr: string, req: SplitRegionRequest): Promise<SplitRegionResponse> {
    let client = this.storeAdmins.get(addr);
    if (client === undefined) {
      client = new StoreAdminClient(addr, ...channel());
      this.storeAdmins.set(addr, client);
    }
    const c = client;
    return new Promise((resolve, reject) => {
      c.splitRegion(req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err !== null) reject(fromServiceError('SplitRegion', err));
        else resolve(res);
      });
    });
  }

  close(): void {
    this.abort.abort();
    this.pd.close();
    for (const c of [...this.schedulers, ...this.admins, ...this.storeAdmins.values()]) c?.close();
  }

  private addr(index: number): string {
    const addr = this.addrs[index];
    if (addr === undefined) throw new RangeError(`CtlSession: no scheduler address at index ${index}`);
    return addr;
  }

  /**
   * One call stamped with the cluster id, tried at each scheduler address in
   * turn while the failure is UNAVAILABLE (not delivered); a refusal in the
   * response header becomes a SchedulerError, as PdClient does.
   */
  private async onScheduler<C, Res extends { header: ResponseHeader | undefined }>(
    method: string, client: (index: number) => C,
    invoke: (c: C, clusterId: number, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: Callback<Res>) => void,
  ): Promise<Res> {
    const deadline = Date.now() + this.timeoutMs;
    const clusterId = await this.pd.clusterId({ deadline });
    let lastFailure: ClientError | undefined;
    for (let index = 0; index < this.addrs.length; index++) {
      let res: Res;
      try {
        res = await new Promise<Res>((resolve, reject) => {
          invoke(client(index), clusterId, new grpc.Metadata(), { deadline }, (err, r) => (err !== null ? reject(fromServiceError(method, err)) : resolve(r)));
        });
      } catch (err: unknown) {
        if (!(err instanceof ClientError) || err.code !== CLIENT_ERROR_CODES.Unavailable) throw err;
        lastFailure = err;
        continue;
      }
      const error = res.header?.error;
      if (error !== undefined && error.type !== ErrorType.OK) {
        throw new SchedulerError(error.type, schedulerErrorCode(error.type), `${method} failed: the scheduler answered ${ErrorType[error.type] ?? error.type}: ${error.message}`);
      }
      return res;
    }
    throw lastFailure ?? new ClientError(CLIENT_ERROR_CODES.Unavailable, `${method} failed: no scheduler address`);
  }
}

function channel(): [grpc.ChannelCredentials, Partial<grpc.ClientOptions>] {
  return [grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': grpcMessageBytesMax, 'grpc.max_send_message_length': grpcMessageBytesMax }];
}

/**
 * Runs `body` with a session and reports its outcome: operating errors as
 * `error: …` (exit 1); UsageError and bugs are rethrown to main.
 */
async function run(setExit: (code: number) => void, io: CliIo, opts: CtlOptions, body: (s: CtlSession) => Promise<void>): Promise<void> {
  const session = new CtlSession(opts.pd, opts.timeout);
  try {
    await body(session);
    setExit(EXIT.ok);
  } catch (err: unknown) {
    if (!(err instanceof ClientError || err instanceof SchedulerError || err instanceof CtlError)) throw err;
    io.err(`error: ${err.message}\n`);
    setExit(EXIT.failed);
  } finally {
    session.close();
  }
}

// ---------------------------------------------------------------------------
// Rendering. JSON field names are stable (docs/CLI.md); keys in JSON follow
// the raw command: text (UTF-8), or hex with --hex.

interface PeerJson { id: number; storeId: number }

export interface RegionJson {
  id: number;
  startKey: string;
  endKey: string;
  epoch: { confVer: number; version: number };
  peers: PeerJson[];
  /** Null when the scheduler knows no leader (or the answer carries none, as after a split). */
  leader: PeerJson | null;
}

export interface StoreJson {
  id: number;
  address: string;
  state: string;
  /** Regions with a peer on the store, counted from ScanRegions. */
  regionCount: number;
  /** Regions whose leader is on the store, counted from ScanRegions. */
  leaderCount: number;
  /** ISO-8601 UTC; null when the scheduler has no statistics for the store. */
  startTime: string | null;
  /** End of the last statistics interval (ISO-8601 UTC), i.e. the last store heartbeat; null when unknown. */
  lastHeartbeat: string | null;
  capacityBytes: number | null;
  availableBytes: number | null;
}

function regionJson(region: Region, leader: Peer | undefined, hex: boolean): RegionJson {
  const peer = (p: Peer): PeerJson => ({ id: p.id, storeId: p.storeId });
  return {
    id: region.id,
    startKey: render(region.startKey, hex ? 'hex' : 'text'),
    endKey: render(region.endKey, hex ? 'hex' : 'text'),
    epoch: { confVer: region.regionEpoch?.confVer ?? 0, version: region.regionEpoch?.version ?? 0 },
    peers: sortedPeers(region).map(peer),
    leader: leader === undefined ? null : peer(leader),
  };
}

function sortedPeers(region: Region): Peer[] {
  return [...region.peers].sort((a, b) => a.id - b.id);
}

/** `peerId@storeId`, the leader marked with `*`. */
function renderPeers(region: Region, leader: Peer | undefined): string {
  return sortedPeers(region).map((p) => `${p.id}@${p.storeId}${p.id === leader?.id ? '*' : ''}`).join(',');
}

function renderBoundary(key: Uint8Array, hex: boolean, empty: string): string {
  return key.length === 0 ? empty : renderKeyForTable(key, hex);
}

function renderEpoch(region: Region): string {
  return `${region.regionEpoch?.confVer ?? 0}/${region.regionEpoch?.version ?? 0}`;
}

function printRegions(io: CliIo, infos: readonly RegionInfo[], format: CtlFormat, hex: boolean): void {
  if (format === 'json') {
    for (const { region, leader } of infos) io.out(`${JSON.stringify(regionJson(region, leader, hex))}\n`);
    return;
  }
  const rows = infos.map(({ region, leader }) => [
    String(region.id), renderBoundary(region.startKey, hex, '-inf'), renderBoundary(region.endKey, hex, '+inf'), renderEpoch(region), renderPeers(region, leader),
  ]);
  io.out(renderTable(['ID', 'START', 'END', 'EPOCH', 'PEERS'], rows));
}

function storeStateName(state: StoreState): string {
  switch (state) {
    case StoreState.Up:
      return 'Up';
    case StoreState.Offline:
      return 'Offline';
    case StoreState.Tombstone:
      return 'Tombstone';
    default:
      // UNRECOGNIZED or a value newer than this build.
      return `Unknown(${state})`;
  }
}

/** Unix seconds as ISO-8601 UTC without milliseconds; 0 (proto3 "unset") is null. */
function isoSeconds(seconds: number | undefined): string | null {
  if (seconds === undefined || seconds <= 0) return null;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------
// Reads.

/**
 * Up to `limit` regions (all when undefined) in key order, paging by end key.
 * @throws {CtlError} BAD_ANSWER when a page does not advance
 */
async function scanAllRegions(pd: PdClient, limit: number | undefined): Promise<RegionInfo[]> {
  const out: RegionInfo[] = [];
  const seen = new Set<number>();
  let start: Uint8Array = new Uint8Array(0);
  for (let page = 0; page < regionsPagesMax; page++) {
    const want = limit === undefined ? regionsPageSize : Math.min(regionsPageSize, limit - out.length);
    if (want <= 0) break;
    const batch = await pd.scanRegions(start, new Uint8Array(0), want);
    for (const info of batch) {
      // A stale overlapping region in the scheduler's view could show up on two pages.
      if (!seen.has(info.region.id) && (limit === undefined || out.length < limit)) out.push(info);
      seen.add(info.region.id);
    }
    // A short page is not the end: a scheduler may cap its answers below the limit asked.
    const last = batch[batch.length - 1];
    if (last === undefined || last.region.endKey.length === 0) break;
    if (compareBytes(last.region.endKey, start) <= 0) {
      throw new CtlError(CTL_ERROR_CODES.BadAnswer, `Cannot list regions: the scheduler's ScanRegions from ${toHex(start)} did not advance`);
    }
    start = last.region.endKey;
  }
  return out;
}

async function storesCommand(s: CtlSession, opts: CtlOptions, io: CliIo): Promise<void> {
  const stores = (await s.pd.getAllStores()).sort((a, b) => a.id - b.id);
  const regions = await scanAllRegions(s.pd, undefined);
  const stats = await Promise.all(stores.map((store) => storeStats(s, store.id)));
  const list = stores.map((store, i) => storeJson(store, regions, stats[i]));
  if (opts.format === 'json') {
    for (const st of list) io.out(`${JSON.stringify(st)}\n`);
    return;
  }
  const rows = list.map((st) => [
    String(st.id), st.address, st.state, String(st.regionCount), String(st.leaderCount), st.startTime ?? '-', st.lastHeartbeat ?? '-',
  ]);
  io.out(renderTable(['ID', 'ADDRESS', 'STATE', 'REGIONS', 'LEADERS', 'STARTED', 'LAST_HEARTBEAT'], rows));
}

/** The store's statistics, or undefined when the scheduler has none or will not say: they only decorate the listing. */
async function storeStats(s: CtlSession, storeId: number): Promise<StoreStats | undefined> {
  try {
    return (await s.getStore(storeId)).stats;
  } catch (err: unknown) {
    if (err instanceof ClientError || err instanceof SchedulerError) return undefined;
    throw err;
  }
}

function storeJson(store: Store, regions: readonly RegionInfo[], stats: StoreStats | undefined): StoreJson {
  const regionCount = regions.filter((r) => r.region.peers.some((p) => p.storeId === store.id)).length;
  const leaderCount = regions.filter((r) => r.leader?.storeId === store.id).length;
  return {
    id: store.id, address: store.address, state: storeStateName(store.state), regionCount, leaderCount,
    startTime: isoSeconds(stats?.startTime), lastHeartbeat: isoSeconds(stats?.interval?.endTimestamp),
    capacityBytes: stats === undefined ? null : stats.capacity, availableBytes: stats === undefined ? null : stats.available,
  };
}

async function regionCommand(s: CtlSession, id: number | undefined, opts: KeyOptions & { key?: string }, io: CliIo): Promise<void> {
  let info: RegionInfo | undefined;
  if (id !== undefined) {
    info = await s.pd.getRegionById(id);
    if (info === undefined) throw new CtlError(CTL_ERROR_CODES.RegionNotFound, `Region ${id} not found: the scheduler does not know it`);
  } else {
    const key = parseBytes(opts.key ?? '', opts.hex, '--key');
    info = await s.pd.getRegion(key);
    if (info === undefined) throw new CtlError(CTL_ERROR_CODES.RegionNotFound, `No region holds key ${renderKeyForTable(key, opts.hex)}: the scheduler knows none`);
  }
  const { region, leader } = info;
  if (opts.format === 'json') {
    io.out(`${JSON.stringify(regionJson(region, leader, opts.hex))}\n`);
    return;
  }
  const addresses = new Map((await s.pd.getAllStores()).map((st) => [st.id, st.address] as const));
  const fields: [string, string][] = [
    ['id', String(region.id)],
    ['start key', renderBoundary(region.startKey, opts.hex, '-inf')],
    ['end key', renderBoundary(region.endKey, opts.hex, '+inf')],
    ['epoch', `conf_ver ${region.regionEpoch?.confVer ?? 0}, version ${region.regionEpoch?.version ?? 0}`],
    ['leader', leader === undefined ? 'unknown' : `${leader.id}@${leader.storeId}`],
  ];
  for (const [name, value] of fields) io.out(`${`${name}:`.padEnd(11)}${value}\n`);
  io.out('peers:\n');
  const rows = sortedPeers(region).map((p) => [String(p.id), String(p.storeId), addresses.get(p.storeId) ?? '?', p.id === leader?.id ? 'leader' : 'follower']);
  for (const line of renderTable(['PEER', 'STORE', 'ADDRESS', 'ROLE'], rows).split('\n')) if (line !== '') io.out(`  ${line}\n`);
}

// ---------------------------------------------------------------------------
// Operators.

interface OperatorSpec {
  readonly name: 'transfer-leader' | 'add-peer' | 'remove-peer';
  readonly kind: OperatorKind;
  readonly summary: string;
  /** Whether the region, as the scheduler shows it, has the operator's effect. */
  readonly done: (info: RegionInfo, storeId: number) => boolean;
  /** The effect, in words, for messages. */
  readonly effect: (regionId: number, storeId: number) => string;
}

const hasPeerOn = (info: RegionInfo, storeId: number): boolean => info.region.peers.some((p) => p.storeId === storeId);

const OPERATORS: readonly OperatorSpec[] = [
  {
    name: 'transfer-leader', kind: OperatorKind.TRANSFER_LEADER, summary: "move a region's leadership to its peer on a store",
    done: (info, storeId) => info.leader?.storeId === storeId,
    effect: (regionId, storeId) => `region ${regionId}'s leader is on store ${storeId}`,
  },
  {
    name: 'add-peer', kind: OperatorKind.ADD_PEER, summary: 'add a peer of a region on a store',
    // The conf change is applied; the new peer may still be receiving its snapshot.
    done: (info, storeId) => hasPeerOn(info, storeId),
    effect: (regionId, storeId) => `region ${regionId} has a peer on store ${storeId}`,
  },
  {
    name: 'remove-peer', kind: OperatorKind.REMOVE_PEER, summary: "remove a region's peer from a store, moving leadership away first",
    done: (info, storeId) => !hasPeerOn(info, storeId),
    effect: (regionId, storeId) => `region ${regionId} has no peer on store ${storeId}`,
  },
];

interface OperatorJson {
  operator: OperatorSpec['name'];
  regionId: number;
  storeId: number;
  description: string;
  /** Null without --wait; true once the effect showed; false when the wait ran out. */
  done: boolean | null;
}

async function operatorCommand(
  s: CtlSession, spec: OperatorSpec, regionId: number, storeId: number, opts: CtlOptions & { wait?: number }, io: CliIo,
): Promise<void> {
  const { description } = await s.addOperator(regionId, spec.kind, storeId);
  const report = (done: boolean | null): void => {
    if (opts.format === 'json') {
      const out: OperatorJson = { operator: spec.name, regionId, storeId, description, done };
      io.out(`${JSON.stringify(out)}\n`);
    } else if (done === true) {
      io.out(`done: ${spec.effect(regionId, storeId)}\n`);
    }
  };
  if (opts.format === 'table') io.out(`${description}\n`);
  if (opts.wait === undefined) return report(null);
  try {
    await waitForEffect(s, spec, regionId, storeId, opts.wait);
  } catch (err: unknown) {
    if (err instanceof CtlError) report(false);
    throw err;
  }
  report(true);
}

/**
 * Polls the scheduler until the region shows the operator's effect, or the
 * scheduler reports the operator ended otherwise, or `waitMs` is over.
 * GetOperator is advisory: a scheduler without it is polled by region only.
 * @throws {CtlError} WAIT_EXPIRED, OPERATOR_ENDED, REGION_NOT_FOUND
 */
async function waitForEffect(s: CtlSession, spec: OperatorSpec, regionId: number, storeId: number, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  let askOperator = true;
  // Each round pauses waitPollMs (or less at the end): the bound holds even if calls answer instantly.
  const roundsMax = Math.ceil(waitMs / waitPollMs) + 2;
  for (let round = 0; round < roundsMax; round++) {
    const info = await s.pd.getRegionById(regionId);
    if (info === undefined) throw new CtlError(CTL_ERROR_CODES.RegionNotFound, `Region ${regionId} not found while waiting: the scheduler no longer knows it`);
    if (spec.done(info, storeId)) return;
    if (askOperator) askOperator = await checkOperator(s, regionId);
    const left = until - Date.now();
    if (left <= 0) break;
    await pause(Math.min(waitPollMs, left), s.abort.signal);
  }
  throw new CtlError(
    CTL_ERROR_CODES.WaitExpired,
    `Waited ${waitMs} ms and the scheduler does not show that ${spec.effect(regionId, storeId)} yet; the operator may still finish (see tinykv ctl region ${regionId})`,
  );
}

/**
 * @returns whether to keep asking (false when the scheduler does not serve GetOperator)
 * @throws {CtlError} OPERATOR_ENDED when the region's operator ended without success
 */
async function checkOperator(s: CtlSession, regionId: number): Promise<boolean> {
  let res: GetOperatorResponse;
  try {
    res = await s.getOperator(regionId);
  } catch (err: unknown) {
    if (err instanceof ClientError && err.code === CLIENT_ERROR_CODES.Unimplemented) return false;
    // A failed poll is not the operator failing: the region poll decides.
    if (err instanceof ClientError || err instanceof SchedulerError) return true;
    throw err;
  }
  // An admin operator is never replaced by a scheduler-made one, so the
  // region's latest operator is ours (src/scheduler/operator_controller.ts).
  if (res.status === OperatorStatus.TIMEOUT || res.status === OperatorStatus.CANCEL || res.status === OperatorStatus.REPLACE) {
    const desc = Buffer.from(res.desc).toString('utf8');
    throw new CtlError(CTL_ERROR_CODES.OperatorEnded, `The operator for region ${regionId} ended with ${OperatorStatus[res.status]}${desc === '' ? '' : `: ${desc}`}`);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Split.

/**
 * Splits region `regionId` at `splitKey` (empty: where the split checker
 * would) on its leader's store. NotLeader and EpochNotMatch mean nothing
 * happened: retried with a fresh lookup, preferring the answer's own hint
 * (the leader it names, the current region) over the scheduler's view,
 * which may trail by a heartbeat.
 * @throws {CtlError} REGION_NOT_FOUND, SPLIT_FAILED, BAD_ANSWER; {ClientError | SchedulerError}
 */
async function splitRegion(s: CtlSession, regionId: number, splitKey: Uint8Array): Promise<Region[]> {
  const backoff = new Backoff({ baseMs: splitRetryPauseMs, maxMs: splitRetryPauseMsMax });
  let hint: { leaderStoreId?: number; region?: Region } = {};
  let lastRefusal = '';
  for (let attempt = 1; attempt <= splitAttemptsMax; attempt++) {
    if (attempt > 1) await pause(backoff.next(), s.abort.signal);
    const info = await s.pd.getRegionById(regionId);
    if (info === undefined) throw new CtlError(CTL_ERROR_CODES.RegionNotFound, `Cannot split region ${regionId}: the scheduler does not know it`);
    const region = newer(info.region, hint.region);
    const leaderStoreId = hint.leaderStoreId ?? info.leader?.storeId;
    hint = {};
    if (leaderStoreId === undefined) {
      lastRefusal = 'the scheduler knows no leader for it';
      continue;
    }
    const store = await s.pd.getStore(leaderStoreId);
    if (store === undefined || store.address === '') {
      lastRefusal = `the scheduler has no address for store ${leaderStoreId}`;
      continue;
    }
    const res = await s.splitRegion(store.address, { regionId, regionEpoch: region.regionEpoch, splitKey: Buffer.from(splitKey) });
    const regionError = res.regionError;
    if (regionError?.notLeader !== undefined) {
      const leader = regionError.notLeader.leader;
      if (leader !== undefined && leader.storeId !== 0) hint.leaderStoreId = leader.storeId;
      lastRefusal = `store ${leaderStoreId} answered NotLeader`;
      continue;
    }
    if (regionError?.epochNotMatch !== undefined) {
      const current = regionError.epochNotMatch.currentRegions.find((r) => r.id === regionId);
      if (current !== undefined) hint.region = current;
      lastRefusal = `store ${leaderStoreId} answered EpochNotMatch`;
      continue;
    }
    if (regionError !== undefined) throw new CtlError(CTL_ERROR_CODES.SplitFailed, `Cannot split region ${regionId}: store ${leaderStoreId} answered ${regionError.message}`);
    if (res.error !== '') throw new CtlError(CTL_ERROR_CODES.SplitFailed, `Cannot split region ${regionId}: ${res.error}`);
    if (res.regions.length !== 2) {
      throw new CtlError(CTL_ERROR_CODES.BadAnswer, `Split of region ${regionId}: store ${leaderStoreId} answered ${res.regions.length} regions instead of 2`);
    }
    return res.regions;
  }
  throw new CtlError(CTL_ERROR_CODES.SplitFailed, `Cannot split region ${regionId} after ${splitAttemptsMax} attempts: ${lastRefusal}`);
}

/** The later of two versions of a region (epochs only grow). */
function newer(a: Region, b: Region | undefined): Region {
  if (b === undefined) return a;
  const ea = a.regionEpoch;
  const eb = b.regionEpoch;
  if (ea === undefined || eb === undefined) return eb === undefined ? a : b;
  return eb.version > ea.version || (eb.version === ea.version && eb.confVer > ea.confVer) ? b : a;
}

// ---------------------------------------------------------------------------
// The command tree.

const idArg = (what: string) => (value: string): number => parsePositiveId(value, what);

/**
 * `tinykv ctl`: cluster inspection and manual operators (docs/CLI.md).
 * @param io where output goes. @default processIo (stdout and stderr)
 */
export function ctlCommand(setExit: (code: number) => void, io: CliIo = processIo): Command {
  const ctl = new Command('ctl').description("inspect and operate a cluster through its scheduler (--pd)");
  withCtlOptions(ctl.command('stores').description('list the stores: address, state, region and leader counts, start and last heartbeat'))
    .action((opts: CtlOptions) => run(setExit, io, opts, (s) => storesCommand(s, opts, io)));
  withKeyOptions(ctl.command('regions').description('list the regions in key order: range, epoch conf_ver/version, peers peerId@storeId (* = leader)'))
    .addOption(new Option('--limit <n>', 'most regions to list (default: all)').argParser(idArg('--limit')))
    .action((opts: KeyOptions & { limit?: number }) =>
      run(setExit, io, opts, async (s) => printRegions(io, await scanAllRegions(s.pd, opts.limit), opts.format, opts.hex)));
  withKeyOptions(ctl.command('region').description('show one region in detail, by id or by a key it holds').argument('[regionId]', 'region id', idArg('regionId')))
    .option('--key <key>', 'the region holding this key instead of an id')
    .action((id: number | undefined, opts: KeyOptions & { key?: string }) => {
      if ((id === undefined) === (opts.key === undefined)) throw new UsageError('ctl region needs exactly one of <regionId> and --key <key>');
      return run(setExit, io, opts, (s) => regionCommand(s, id, opts, io));
    });
  for (const spec of OPERATORS) {
    withCtlOptions(ctl.command(spec.name).description(`${spec.summary} (an operator queued at the scheduler)`))
      .argument('<regionId>', 'region id', idArg('regionId'))
      .argument('<storeId>', 'store id', idArg('storeId'))
      .addOption(new Option('--wait [ms]', 'wait until the scheduler shows the effect, up to <ms> (exit 1 after)').preset(String(waitMsDefault)).argParser(parseWaitMs))
      .action((regionId: number, storeId: number, opts: CtlOptions & { wait?: number }) =>
        run(setExit, io, opts, (s) => operatorCommand(s, spec, regionId, storeId, opts, io)));
  }
  withKeyOptions(ctl.command('split').description("split a region on its leader's store, at --key or where the split checker would"))
    .argument('<regionId>', 'region id', idArg('regionId'))
    .option('--key <key>', 'split key: the right region starts here (default: the middle of the data)')
    .action((regionId: number, opts: KeyOptions & { key?: string }) => {
      const splitKey = opts.key === undefined ? new Uint8Array(0) : parseBytes(opts.key, opts.hex, '--key');
      return run(setExit, io, opts, async (s) => {
        const regions = await splitRegion(s, regionId, splitKey);
        printRegions(io, regions.map((region) => ({ region, leader: undefined })), opts.format, opts.hex);
      });
    });
  const output = { writeOut: (text: string) => io.out(text), writeErr: (text: string) => io.err(text) };
  ctl.configureOutput(output);
  for (const sub of ctl.commands) sub.configureOutput(output);
  return ctl;
}
