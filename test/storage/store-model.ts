// Test helpers for the FaceStore contract suite: ids, records, a seeded PRNG,
// and a brute-force model of groups/bindings/versions that random operation
// sequences are checked against.
import { expect } from 'chai';
import { digestOf, digestToHex } from '../../device-protocol/digest.js';
import { isFaceError, type ErrorCode } from '../../server/core/errors.js';
import type { FaceToken, GroupId, GroupName, ImageId, LibraryId } from '../../server/core/ids.js';
import type { FaceQuality } from '../../models/engine.js';
import type { CommittedChange, FaceRecord, FaceStore, GroupDelta, ImageRecord } from '../../storage/store.js';

/** mulberry32: small, fast, seedable. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

const pad24 = (prefix: string, n: number) => (prefix + String(n).padStart(24 - prefix.length, '0')).slice(0, 24);
export const faceToken = (n: number, prefix = 'F') => pad24(prefix, n) as FaceToken;
export const imageId = (n: number, prefix = 'I') => pad24(prefix, n) as ImageId;
export const lib = (s: string) => s as LibraryId;
export const gname = (s: string) => s as GroupName;
export const gid = (n: number) => n as GroupId;

export const QUALITY: FaceQuality = {
  yaw: 1.5,
  pitch: -2.25,
  roll: 0.125,
  blur: 0.05,
  brightness: 128,
  brightnessStd: 40.5,
  size: 180,
  completeness: 1,
};

export function featureFor(n: number): Float32Array {
  const f = new Float32Array(512);
  let norm = 0;
  for (let i = 0; i < f.length; i++) {
    f[i] = Math.sin(n * 7.1 + i * 0.37) + (i === n % 512 ? 0.5 : 0);
    norm += f[i]! * f[i]!;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < f.length; i++) f[i]! /= norm;
  return f;
}

export function imageRecord(n: number, bytes = new Uint8Array([0xff, 0xd8, n & 0xff, 0xff, 0xd9])): ImageRecord {
  return { imageId: imageId(n), mime: 'image/jpeg', bytes, width: 640, height: 480, createdAt: 1_700_000_000_000 + n };
}

export function faceRecord(n: number, library: LibraryId, prefix = 'F'): FaceRecord {
  return {
    faceToken: faceToken(n, prefix),
    library,
    imageId: imageId(n),
    rect: { left: 10 + n, top: 20, right: 210 + n, bottom: 240 },
    quality: QUALITY,
    createdAt: 1_700_000_000_000 + n,
    modelVersion: 'test-model-1',
    feature: featureFor(n),
    deletedAt: null,
  };
}

/** Adds faces n in [from, from+count) with their images; returns their tokens. */
export async function addFaces(store: FaceStore, library: LibraryId, from: number, count: number, prefix = 'F'): Promise<FaceToken[]> {
  const tokens: FaceToken[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const face = faceRecord(from + i, library, prefix);
      tokens.push(face.faceToken);
      return store.addImage({ ...imageRecord(from + i), imageId: face.imageId }, face);
    }),
  );
  return tokens.sort();
}

export async function expectFaceError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(isFaceError(error), `expected a FaceError, got ${String(error)}`).to.equal(true);
    expect((error as { code: string }).code).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}, but the call succeeded`);
}

export const digestHex = (tokens: Iterable<string>) => digestToHex(digestOf(tokens));

export interface ModelChange {
  version: number;
  op: 'create' | 'delete' | 'bind' | 'unbind';
  faceToken?: string;
  at: number;
}

/** One incarnation of a group (one group id). */
export interface ModelGroup {
  groupId: number;
  library: string;
  name: string;
  createVersion: number;
  version: number;
  deleted: boolean;
  bound: Set<string>;
  /** Bound set after each version, createVersion..version. */
  states: Map<number, string[]>;
  log: ModelChange[];
}

/** Brute-force reference: what the store must hold after the same operations. */
export class StoreModel {
  readonly groups = new Map<number, ModelGroup>();
  /** [library, name] -> live group id */
  readonly live = new Map<string, number>();
  readonly nameVersion = new Map<string, number>();
  readonly liveFaces = new Set<string>();
  readonly deletedFaces = new Set<string>();
  effectiveChanges = 0;

  private key(library: string, name: string) {
    return `${library}\u0000${name}`;
  }

  liveGroup(library: string, name: string): ModelGroup | undefined {
    const id = this.live.get(this.key(library, name));
    return id === undefined ? undefined : this.groups.get(id);
  }

  private record(group: ModelGroup, change: CommittedChange, op: ModelChange['op'], token?: string) {
    group.version++;
    expect(change.change.version, `${op} version`).to.equal(group.version);
    expect(change.group.version).to.equal(group.version);
    expect(change.change.groupId).to.equal(group.groupId);
    expect(change.change.op).to.equal(op);
    expect(change.change.faceToken).to.equal(token);
    const entry: ModelChange = { version: group.version, op, at: change.change.at };
    if (token !== undefined) entry.faceToken = token;
    group.log.push(entry);
    group.states.set(group.version, [...group.bound].sort());
    this.effectiveChanges++;
    expect(change.group.faceCount).to.equal(group.bound.size);
    expect(change.group.tokenDigest).to.equal(digestHex(group.bound));
  }

  created(library: string, name: string, change: CommittedChange) {
    const k = this.key(library, name);
    const version = (this.nameVersion.get(k) ?? 0) + 1;
    for (const g of this.groups.values()) expect(g.groupId).to.not.equal(change.group.groupId, 'group ids are never reused');
    const group: ModelGroup = {
      groupId: change.group.groupId,
      library,
      name,
      createVersion: version,
      version: version - 1,
      deleted: false,
      bound: new Set(),
      states: new Map(),
      log: [],
    };
    this.groups.set(group.groupId, group);
    this.live.set(k, group.groupId);
    this.record(group, change, 'create');
    this.nameVersion.set(k, version);
  }

  deletedGroup(group: ModelGroup, change: CommittedChange) {
    group.bound.clear();
    group.deleted = true;
    this.live.delete(this.key(group.library, group.name));
    this.record(group, change, 'delete');
    this.nameVersion.set(this.key(group.library, group.name), group.version);
    expect(change.group.deletedAt).to.not.equal(null);
  }

  bound(group: ModelGroup, token: string, change: CommittedChange) {
    group.bound.add(token);
    this.record(group, change, 'bind', token);
  }

  unbound(group: ModelGroup, token: string, change: CommittedChange) {
    group.bound.delete(token);
    this.record(group, change, 'unbind', token);
  }

  stateAt(group: ModelGroup, version: number): string[] {
    if (version < group.createVersion) return [];
    const state = group.states.get(version);
    if (!state) throw new Error(`no model state for group ${group.groupId} v${version}`);
    return state;
  }

  /** Faces with a change after `from` that are bound now (an exact delta upserts exactly these). */
  changedAfter(group: ModelGroup, from: number): Set<string> {
    const out = new Set<string>();
    for (const c of group.log) if (c.version > from && c.faceToken !== undefined) out.add(c.faceToken);
    return out;
  }
}

/**
 * Checks a delta against the model: applying it to the state at `from` gives
 * the state now; nothing bound now is removed, nothing unbound now upserted;
 * every face bound now that changed after `from` is upserted (its binding may
 * differ). With `exact`, also no redundant entries.
 */
export function checkDelta(model: StoreModel, group: ModelGroup, from: number, delta: GroupDelta, exact: boolean): void {
  const ctx = `group ${group.groupId} from v${from} to v${group.version}`;
  expect(delta.fromVersion, ctx).to.equal(from);
  expect(delta.toVersion, ctx).to.equal(group.version);
  expect(delta.upserted, `${ctx}: upserted sorted`).to.deep.equal([...delta.upserted].sort());
  expect(delta.removed, `${ctx}: removed sorted`).to.deep.equal([...delta.removed].sort());
  expect(new Set(delta.upserted).size, `${ctx}: upserted unique`).to.equal(delta.upserted.length);
  expect(new Set(delta.removed).size, `${ctx}: removed unique`).to.equal(delta.removed.length);
  const before = model.stateAt(group, from);
  const now = new Set(group.bound);
  const applied = new Set(before);
  for (const t of delta.removed) {
    expect(now.has(t), `${ctx}: removed ${t} is bound now`).to.equal(false);
    applied.delete(t);
  }
  for (const t of delta.upserted) {
    expect(now.has(t), `${ctx}: upserted ${t} is not bound now`).to.equal(true);
    applied.add(t);
  }
  expect([...applied].sort(), `${ctx}: state(from) + delta = state(now)`).to.deep.equal([...now].sort());
  const changed = model.changedAfter(group, from);
  const mustUpsert = [...now].filter((t) => changed.has(t)).sort();
  for (const t of mustUpsert) expect(delta.upserted, `${ctx}: rebound/bound ${t} must be upserted`).to.include(t);
  if (exact) {
    expect(delta.upserted, `${ctx}: exact upserted`).to.deep.equal(mustUpsert);
    const mustRemove = before.filter((t) => !now.has(t)).sort();
    expect(delta.removed, `${ctx}: exact removed`).to.deep.equal(mustRemove);
  }
}

export interface RandomOpsOptions {
  library: LibraryId;
  names: readonly string[];
  /** Tokens of live faces available to bind; grows when faces are added. */
  facePool: FaceToken[];
  nextFace: { n: number };
  prefix?: string;
}

/** Applies `count` random operations to the store and the model, checking each outcome. */
export async function randomOps(
  store: FaceStore,
  model: StoreModel,
  rng: ReturnType<typeof prng>,
  count: number,
  opts: RandomOpsOptions,
): Promise<void> {
  const { library } = opts;
  for (let i = 0; i < count; i++) {
    const name = rng.pick(opts.names);
    const group = model.liveGroup(library, name);
    if (!group) {
      const change = await store.createGroup(library, gname(name));
      model.created(library, name, change);
      continue;
    }
    const roll = rng.next();
    if (roll < 0.5) {
      const token = rng.pick(opts.facePool);
      const change = await store.bind(library, gname(name), token, rng.next() < 0.5 ? { userId: `u${i}`, userInfo: `info ${i}` } : undefined);
      if (group.bound.has(token)) expect(change, 'bind of a bound face').to.equal(null);
      else model.bound(group, token, change!);
    } else if (roll < 0.85) {
      const bound = [...group.bound] as FaceToken[];
      const token = bound.length > 0 && rng.next() < 0.85 ? rng.pick(bound) : rng.pick(opts.facePool);
      if (group.bound.has(token)) model.unbound(group, token, await store.unbind(library, gname(name), token));
      else await expectFaceError(store.unbind(library, gname(name), token), 'BINDING_NOT_FOUND');
    } else if (roll < 0.9) {
      // Delete a face: every group it is bound to logs an unbind.
      const token = rng.pick(opts.facePool);
      const changes = await store.deleteFace(token);
      const holders = [...model.groups.values()].filter((g) => !g.deleted && g.bound.has(token)).sort((a, b) => a.groupId - b.groupId);
      expect(changes.map((c) => c.group.groupId).sort((a, b) => a - b)).to.deep.equal(holders.map((g) => g.groupId));
      for (const change of changes) model.unbound(model.groups.get(change.group.groupId)!, token, change);
      opts.facePool.splice(opts.facePool.indexOf(token), 1);
      model.liveFaces.delete(token);
      model.deletedFaces.add(token);
      await expectFaceError(store.bind(library, gname(name), token), 'FACE_TOKEN_NOT_FOUND');
      opts.facePool.push(...(await addFaces(store, library, opts.nextFace.n++, 1, opts.prefix)));
    } else if (roll < 0.95) {
      await expectFaceError(store.createGroup(library, gname(name)), 'GROUP_NAME_CONFLICT');
      if (rng.next() < 0.5) {
        const token = rng.pick(opts.facePool);
        if (!group.bound.has(token)) model.bound(group, token, (await store.bind(library, gname(name), token))!);
      }
    } else {
      model.deletedGroup(group, await store.deleteGroup(library, gname(name)));
    }
  }
}

/** Store state equals the model: versions, counts, digests, bindings, complete logs. */
export async function checkAgainstModel(store: FaceStore, model: StoreModel, opts: { completeLog: boolean }): Promise<void> {
  for (const group of model.groups.values()) {
    const record = await store.getGroupById(gid(group.groupId));
    expect(record, `group ${group.groupId}`).to.not.equal(undefined);
    expect(record!.version).to.equal(group.version);
    expect(record!.faceCount).to.equal(group.bound.size);
    expect(record!.tokenDigest).to.equal(digestHex(group.bound));
    expect(record!.deletedAt === null).to.equal(!group.deleted);
    const snapshot = await store.snapshotGroup(gid(group.groupId));
    expect(snapshot!.group.version).to.equal(group.version);
    expect(snapshot!.bindings.map((b) => b.faceToken)).to.deep.equal([...group.bound].sort());
    if (!group.deleted) {
      expect((await store.getGroup(lib(group.library), gname(group.name)))!.groupId).to.equal(group.groupId);
    }
    const log = await store.readChanges(gid(group.groupId), { afterVersion: 0, limit: 1_000_000 });
    const byVersion = new Map(group.log.map((c) => [c.version, c]));
    let previous = -Infinity;
    for (const entry of log) {
      expect(entry.version, 'log in version order').to.be.greaterThan(previous);
      previous = entry.version;
      const expected = byVersion.get(entry.version);
      expect(expected, `log entry v${entry.version} of group ${group.groupId} exists in the model`).to.not.equal(undefined);
      expect(entry.groupId).to.equal(group.groupId);
      expect(entry.op).to.equal(expected!.op);
      expect(entry.faceToken).to.equal(expected!.faceToken);
      expect(entry.at).to.equal(expected!.at);
    }
    if (opts.completeLog) {
      expect(log.map((c) => c.version)).to.deep.equal(group.log.map((c) => c.version));
    }
  }
}
