// The message types of sync.proto as a protobufjs JSON descriptor, so the
// module needs no file system access at run time (it also runs in a
// terminal simulator or a browser). test/device-protocol/schema.test.ts parses
// sync.proto and checks that it yields exactly this descriptor: edit both
// together.
import protobuf from 'protobufjs';

const str = (id: number, protoName?: string) => ({ type: 'string', id, ...(protoName ? { protoName } : {}) });
const u32 = (id: number, protoName?: string) => ({ type: 'uint32', id, ...(protoName ? { protoName } : {}) });
const u64 = (id: number, protoName?: string) => ({ type: 'uint64', id, ...(protoName ? { protoName } : {}) });
const msg = (type: string, id: number, protoName?: string) => ({ type, id, ...(protoName ? { protoName } : {}) });
const rep = (type: string, id: number, protoName?: string) => ({ rule: 'repeated', type, id, ...(protoName ? { protoName } : {}) });
const opt = (id: number, protoName: string) => ({ type: 'string', id, protoName, options: { proto3_optional: true } });

export const SCHEMA_PACKAGE = 'facepass.sync.v1';

export const SCHEMA_JSON = {
  nested: {
    facepass: {
      nested: {
        sync: {
          nested: {
            v1: {
              options: { java_package: 'com.facepass.sync.v1', java_multiple_files: true },
              nested: {
                Frame: {
                  oneofs: { kind: { oneof: ['header', 'group', 'faces', 'removed', 'trailer', 'error'] } },
                  fields: {
                    header: msg('StreamHeader', 1),
                    group: msg('GroupResult', 2),
                    faces: msg('FaceBatch', 3),
                    removed: msg('RemovedBatch', 4),
                    trailer: msg('Trailer', 5),
                    error: msg('StreamError', 6),
                  },
                },
                FeatureEncoding: {
                  values: { FEATURE_ENCODING_FLOAT32: 0, FEATURE_ENCODING_FLOAT16: 1, FEATURE_ENCODING_INT8: 2 },
                },
                SyncKind: {
                  values: {
                    SYNC_KIND_UNSPECIFIED: 0,
                    SYNC_KIND_UNCHANGED: 1,
                    SYNC_KIND_DELTA: 2,
                    SYNC_KIND_FULL: 3,
                    SYNC_KIND_GROUP_GONE: 4,
                    SYNC_KIND_RESET: 5,
                  },
                },
                StreamHeader: {
                  fields: {
                    protocolVersion: u32(1, 'protocol_version'),
                    searchModel: str(2, 'search_model'),
                    serverTimeMs: u64(3, 'server_time_ms'),
                    featureEncoding: msg('FeatureEncoding', 4, 'feature_encoding'),
                    featureDim: u32(5, 'feature_dim'),
                  },
                },
                SnapshotRef: {
                  fields: { url: str(1), etag: str(2), byteLength: u64(3, 'byte_length') },
                },
                GroupResult: {
                  fields: {
                    groupName: str(1, 'group_name'),
                    groupId: u64(2, 'group_id'),
                    cloudVersion: u64(3, 'cloud_version'),
                    localVersion: u64(4, 'local_version'),
                    kind: msg('SyncKind', 5),
                    faceCount: u32(6, 'face_count'),
                    tokenDigest: { type: 'fixed64', id: 7, protoName: 'token_digest' },
                    snapshot: msg('SnapshotRef', 8),
                  },
                },
                FaceRecord: {
                  oneofs: { _userId: { oneof: ['userId'] }, _userInfo: { oneof: ['userInfo'] } },
                  fields: {
                    faceToken: str(1, 'face_token'),
                    userId: opt(2, 'user_id'),
                    userInfo: opt(3, 'user_info'),
                    feature: { type: 'bytes', id: 4 },
                  },
                },
                FaceBatch: { fields: { faces: rep('FaceRecord', 1) } },
                RemovedBatch: { fields: { faceTokens: rep('string', 1, 'face_tokens') } },
                Trailer: {
                  fields: {
                    groupCount: u32(1, 'group_count'),
                    faceCount: u32(2, 'face_count'),
                    removedCount: u32(3, 'removed_count'),
                    crc32: { type: 'fixed32', id: 4 },
                  },
                },
                StreamError: { fields: { code: str(1), message: str(2) } },
                PushFrame: {
                  oneofs: { kind: { oneof: ['clientHello', 'serverHello', 'notice', 'error'] } },
                  fields: {
                    clientHello: msg('ClientHello', 1, 'client_hello'),
                    serverHello: msg('ServerHello', 2, 'server_hello'),
                    notice: msg('VersionNotice', 3),
                    error: msg('PushError', 4),
                  },
                },
                GroupVersion: {
                  fields: { groupName: str(1, 'group_name'), groupId: u64(2, 'group_id'), version: u64(3) },
                },
                ClientHello: {
                  fields: {
                    protocolVersion: u32(1, 'protocol_version'),
                    deviceId: str(2, 'device_id'),
                    groups: rep('GroupVersion', 3),
                  },
                },
                ServerHello: {
                  fields: {
                    protocolVersion: u32(1, 'protocol_version'),
                    searchModel: str(2, 'search_model'),
                    serverTimeMs: u64(3, 'server_time_ms'),
                    groups: rep('GroupVersion', 4),
                  },
                },
                VersionNotice: { fields: { groups: rep('GroupVersion', 1) } },
                PushError: { fields: { code: u32(1), reason: str(2) } },
              },
            },
          },
        },
      },
    },
  },
};

export interface SchemaTypes {
  readonly root: protobuf.Root;
  readonly Frame: protobuf.Type;
  readonly PushFrame: protobuf.Type;
}

/**
 * Builds a fresh, fully resolved root. Resolving matters: an unresolved
 * protobufjs type does not know its field types yet and would, e.g., encode
 * repeated scalars unpacked. Called once by each module that needs types.
 */
export function loadSchema(): SchemaTypes {
  const root = protobuf.Root.fromJSON(SCHEMA_JSON);
  root.resolveAll();
  return {
    root,
    Frame: root.lookupType(`${SCHEMA_PACKAGE}.Frame`),
    PushFrame: root.lookupType(`${SCHEMA_PACKAGE}.PushFrame`),
  };
}
