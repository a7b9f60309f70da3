// The JSON body of POST /api/service/sync/v1 (spec: 底库同步), built by the
// terminal and parsed by the server, plus protocol version negotiation.
import {
  DEFAULT_FEATURE_ENCODING,
  DEFAULT_PROTOCOL_VERSION,
  isFeatureEncoding,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  type FeatureEncoding,
} from './constants.js';
import { syncError, SyncErrorCode } from './errors.js';
import { isValidGroupName, isValidInfoString, MAX_GROUPS_PER_REQUEST } from './limits.js';
import type { TerminalGallery } from './gallery.js';

/** The request body exactly as it travels (snake_case, spec field names). */
export interface SyncRequestBody {
  info: {
    search_model: string;
    version: string;
    feature_encoding?: FeatureEncoding;
    protocol_version?: number;
  };
  groups: Array<{ group_id?: number; group_name: string; local_version: number }>;
}

/** A validated request, as the server works with it. */
export interface SyncRequest {
  /** Model of the terminal's local features. */
  searchModel: string;
  /** The terminal software version (`info.version`). */
  clientVersion: string;
  featureEncoding: FeatureEncoding;
  /** Highest protocol version the terminal speaks. */
  protocolVersion: number;
  groups: Array<{ groupName: string; groupId: number | null; localVersion: number }>;
}

export interface SyncRequestOptions {
  /** `info.version`: the terminal software version. */
  clientVersion: string;
  /** The encoding wanted for this response (default float32). */
  featureEncoding?: FeatureEncoding;
  /** Highest protocol version the terminal speaks (default PROTOCOL_VERSION_MAX). */
  protocolVersion?: number;
}

/**
 * The request for every group the gallery holds. When the wanted encoding
 * differs from the one the local features were received in, every group is
 * sent as new (no id, version 0): the server then sends full copies, and
 * applying them drops all old features first, as for a model change.
 */
export function buildSyncRequest(gallery: TerminalGallery, options: SyncRequestOptions): SyncRequestBody {
  const featureEncoding = options.featureEncoding ?? DEFAULT_FEATURE_ENCODING;
  const fresh = featureEncoding !== gallery.featureEncoding;
  const groups: SyncRequestBody['groups'] = [];
  for (const [name, group] of gallery.groups) {
    if (fresh || group.groupId === null) groups.push({ group_name: name, local_version: fresh ? 0 : group.version });
    else groups.push({ group_id: group.groupId, group_name: name, local_version: group.version });
  }
  return {
    info: {
      search_model: gallery.searchModel,
      version: options.clientVersion,
      feature_encoding: featureEncoding,
      protocol_version: options.protocolVersion ?? PROTOCOL_VERSION_MAX,
    },
    groups,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Validates a parsed JSON body. Throws SYNC_ERR_BAD_REQUEST with
 * `details.missing` and/or `details.illegal`: the spec's parameter names
 * (search_model, group_name...), ready for MISSING_ARGUMENT/ILLEGAL_ARGUMENT.
 * A group_id of 0 counts as absent (the spec's own example sends it).
 * Strings and the group list are bounded (limits.ts, PROTOCOL.md §15).
 */
export function parseSyncRequest(body: unknown): SyncRequest {
  const missing = new Set<string>();
  const illegal = new Set<string>();
  const field = (obj: Record<string, unknown>, name: string, ok: (v: unknown) => boolean, required: boolean): unknown => {
    const v = obj[name];
    if (v === undefined || v === null) {
      if (required) missing.add(name);
      return undefined;
    }
    if (!ok(v)) illegal.add(name);
    return v;
  };

  let request: SyncRequest | undefined;
  if (!isObject(body)) {
    illegal.add('body');
  } else {
    const info = field(body, 'info', isObject, true) as Record<string, unknown> | undefined;
    const groups = field(body, 'groups', (v) => Array.isArray(v) && v.length <= MAX_GROUPS_PER_REQUEST, true) as unknown[] | undefined;
    const searchModel = info && field(info, 'search_model', isValidInfoString, true);
    const clientVersion = info && field(info, 'version', isValidInfoString, true);
    const encoding = info && field(info, 'feature_encoding', isFeatureEncoding, false);
    const protocolVersion = info && field(info, 'protocol_version', (v) => isCount(v) && v > 0, false);
    const names = new Set<string>();
    const parsedGroups: SyncRequest['groups'] = [];
    for (const g of Array.isArray(groups) && groups.length <= MAX_GROUPS_PER_REQUEST ? groups : []) {
      if (!isObject(g)) {
        illegal.add('groups');
        continue;
      }
      const name = field(g, 'group_name', isValidGroupName, true);
      const groupId = field(g, 'group_id', isCount, false);
      const localVersion = field(g, 'local_version', isCount, true);
      if (typeof name === 'string' && names.has(name)) illegal.add('group_name');
      if (typeof name === 'string') names.add(name);
      parsedGroups.push({
        groupName: name as string,
        groupId: groupId ? (groupId as number) : null,
        localVersion: localVersion as number,
      });
    }
    request = {
      searchModel: searchModel as string,
      clientVersion: clientVersion as string,
      featureEncoding: (encoding as FeatureEncoding | undefined) ?? DEFAULT_FEATURE_ENCODING,
      protocolVersion: (protocolVersion as number | undefined) ?? DEFAULT_PROTOCOL_VERSION,
      groups: parsedGroups,
    };
  }
  if (missing.size > 0 || illegal.size > 0 || request === undefined) {
    throw syncError(SyncErrorCode.BadRequest, 'invalid sync request', { missing: [...missing], illegal: [...illegal] });
  }
  return request;
}

/**
 * The version a server speaking PROTOCOL_VERSION_MIN..MAX uses with a peer
 * whose highest version is `requested`: the highest both speak. Throws
 * SYNC_ERR_PROTOCOL_VERSION when the peer is older than the server's minimum.
 */
export function negotiateProtocolVersion(
  requested: number = DEFAULT_PROTOCOL_VERSION,
  supported: { min: number; max: number } = { min: PROTOCOL_VERSION_MIN, max: PROTOCOL_VERSION_MAX },
): number {
  const version = Math.min(requested, supported.max);
  if (version < supported.min) {
    throw syncError(
      SyncErrorCode.ProtocolVersion,
      `peer speaks up to protocol version ${requested}; this side needs ${supported.min}..${supported.max}`,
      { requested, min: supported.min, max: supported.max },
    );
  }
  return version;
}
