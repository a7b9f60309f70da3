import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import protobuf from 'protobufjs';
import { SCHEMA_JSON, loadSchema } from '../../device-protocol/schema.js';

const protoText = readFileSync(new URL('../../device-protocol/sync.proto', import.meta.url), 'utf8');

describe('schema', () => {
  it('matches sync.proto exactly', () => {
    const fromProto = protobuf.parse(protoText).root.toJSON();
    const fromCode = protobuf.Root.fromJSON(SCHEMA_JSON).toJSON();
    expect(fromCode).to.deep.equal(fromProto);
  });

  it('resolves every field before use (unresolved protobufjs types encode repeated scalars unpacked)', () => {
    const { root } = loadSchema();
    const types = root.lookup('facepass.sync.v1') as protobuf.Namespace;
    for (const nested of types.nestedArray) {
      if (!(nested instanceof protobuf.Type)) continue;
      for (const field of nested.fieldsArray) expect(field.resolved, `${nested.name}.${field.name}`).to.equal(true);
    }
  });

  it('never uses repeated float for features', () => {
    expect(protoText).to.not.match(/repeated\s+(float|double)/);
    expect(protoText).to.match(/bytes feature = 4;/);
  });
});
