// A one-node ONNX model (y = x * c, float32, shape [n]) encoded by hand, for
// tests of what ONNX Runtime does with particular float values.
import protobuf from 'protobufjs';

const FLOAT = 1;

function shapeType(n: number): Uint8Array {
  const dim = protobuf.Writer.create().uint32((1 << 3) | 0).int64(n).finish(); // Dimension.dim_value
  const shape = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(dim).finish(); // TensorShapeProto.dim
  const tensor = protobuf.Writer.create().uint32((1 << 3) | 0).int32(FLOAT).uint32((2 << 3) | 2).bytes(shape).finish(); // elem_type, shape
  return protobuf.Writer.create().uint32((1 << 3) | 2).bytes(tensor).finish(); // TypeProto.tensor_type
}

const valueInfo = (name: string, n: number) =>
  protobuf.Writer.create().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).bytes(shapeType(n)).finish();

/**
 * The model's bytes. `constant` is stored as the initializer c in raw_data,
 * or in float_data when `asFloatData` (both encodings occur in real models).
 */
export function mulModel(constant: Float32Array, asFloatData = false): Uint8Array {
  const n = constant.length;
  const init = protobuf.Writer.create().uint32((1 << 3) | 0).int64(n).uint32((2 << 3) | 0).int32(FLOAT).uint32((8 << 3) | 2).string('c');
  // Packed float_data holds the same little-endian bytes as raw_data; written
  // as bytes, not converted value by value (a conversion would flush a
  // denormal on a thread with FTZ set).
  init.uint32(((asFloatData ? 4 : 9) << 3) | 2).bytes(new Uint8Array(constant.buffer, constant.byteOffset, constant.byteLength));
  const node = protobuf.Writer.create().uint32((1 << 3) | 2).string('x').uint32((1 << 3) | 2).string('c').uint32((2 << 3) | 2).string('y').uint32((4 << 3) | 2).string('Mul').finish();
  const graph = protobuf.Writer.create()
    .uint32((1 << 3) | 2).bytes(node)
    .uint32((2 << 3) | 2).string('mul')
    .uint32((5 << 3) | 2).bytes(init.finish())
    .uint32((11 << 3) | 2).bytes(valueInfo('x', n))
    .uint32((12 << 3) | 2).bytes(valueInfo('y', n))
    .finish();
  const opset = protobuf.Writer.create().uint32((1 << 3) | 2).string('').uint32((2 << 3) | 0).int64(13).finish();
  return protobuf.Writer.create().uint32((1 << 3) | 0).int64(8).uint32((7 << 3) | 2).bytes(graph).uint32((8 << 3) | 2).bytes(opset).finish();
}
