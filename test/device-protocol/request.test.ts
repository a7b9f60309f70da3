import { expect } from 'chai';
import {
  buildSyncRequest,
  negotiateProtocolVersion,
  parseSyncRequest,
  SyncErrorCode,
  TerminalGallery,
  type SyncRequestBody,
} from '../../device-protocol/index.js';
import { chunksOf, MiniSyncServer } from './helpers.js';
import { applySyncStream } from '../../device-protocol/index.js';

describe('buildSyncRequest', () => {
  it('builds the spec request: groups without id until the first sync', () => {
    const gallery = new TerminalGallery({ searchModel: '1017', groups: ['group_a', 'group_b'] });
    expect(buildSyncRequest(gallery, { clientVersion: 'v1.0.0' })).to.deep.equal({
      info: { search_model: '1017', version: 'v1.0.0', feature_encoding: 'float32', protocol_version: 1 },
      groups: [
        { group_name: 'group_a', local_version: 0 },
        { group_name: 'group_b', local_version: 0 },
      ],
    });
  });

  it('sends the group id and local version once synced', async () => {
    const server = new MiniSyncServer();
    server.createGroup('group_a');
    const gallery = new TerminalGallery({ groups: ['group_a'] });
    await applySyncStream(gallery, chunksOf(server.respond(buildSyncRequest(gallery, { clientVersion: 'v' }))));
    const request = buildSyncRequest(gallery, { clientVersion: 'v', featureEncoding: 'float32' });
    expect(request.info.search_model).to.equal('model-2');
    expect(request.groups).to.deep.equal([{ group_id: server.groups.get('group_a')!.id, group_name: 'group_a', local_version: 1 }]);
  });
});

describe('parseSyncRequest', () => {
  const valid: SyncRequestBody = {
    info: { search_model: '1017', version: 'v1.0.0' },
    groups: [{ group_name: 'group_a', group_id: 0, local_version: 0 }, { group_name: 'group_b', group_id: 7, local_version: 3 }],
  };

  it('parses the spec example, reading group_id 0 as absent and filling defaults', () => {
    expect(parseSyncRequest(valid)).to.deep.equal({
      searchModel: '1017',
      clientVersion: 'v1.0.0',
      featureEncoding: 'float32',
      protocolVersion: 1,
      groups: [
        { groupName: 'group_a', groupId: null, localVersion: 0 },
        { groupName: 'group_b', groupId: 7, localVersion: 3 },
      ],
    });
  });

  it('names missing and illegal arguments', () => {
    const error = (body: unknown) => {
      try {
        parseSyncRequest(body);
      } catch (err) {
        return err as { code: string; details: { missing: string[]; illegal: string[] } };
      }
      throw new Error('no error');
    };
    expect(error({ groups: [] }).details).to.deep.equal({ missing: ['info'], illegal: [] });
    expect(error({ info: { search_model: 1, version: 'v' }, groups: [{ group_name: 'a' }] }).details)
      .to.deep.equal({ missing: ['local_version'], illegal: ['search_model'] });
    expect(error({ info: { search_model: 'm', version: 'v', feature_encoding: 'float64' }, groups: [] }).details.illegal)
      .to.deep.equal(['feature_encoding']);
    expect(error({ ...valid, groups: [valid.groups[0], valid.groups[0]] }).details.illegal).to.deep.equal(['group_name']);
    expect(error('[]').code).to.equal(SyncErrorCode.BadRequest);
  });
});

describe('negotiateProtocolVersion', () => {
  it('picks the highest version both sides speak', () => {
    expect(negotiateProtocolVersion(undefined)).to.equal(1);
    expect(negotiateProtocolVersion(5)).to.equal(1);
    expect(negotiateProtocolVersion(3, { min: 1, max: 2 })).to.equal(2);
    expect(negotiateProtocolVersion(1, { min: 1, max: 2 })).to.equal(1);
  });

  it('fails when the peer is older than the minimum', () => {
    expect(() => negotiateProtocolVersion(1, { min: 2, max: 3 })).to.throw().with.property('code', SyncErrorCode.ProtocolVersion);
  });
});
