// Denormal float weights in an ONNX model, set to zero in place.
//
// ONNX Runtime's set_denormal_as_zero puts the x86 FTZ/DAZ bits on the
// threads of a session's own pools, but on the thread that calls run() only
// for the first session created in the process (a process-wide once flag in
// InferenceSession's constructor). With intra-op threads = 1 the graph runs
// on the calling thread, so in every engine worker but the first, each
// multiply by a denormal weight took the CPU's microcode assist: the feature
// model ran 6-7x slower there (measured 100 ms against 15 ms per face), and
// a pool of two workers enrolled little faster than one. Zeroing those
// weights before the session is created is exactly what DAZ does with them
// (it reads a denormal operand as zero), on any thread. Denormal results of
// the computation need FTZ on the thread that runs the graph: the engine sets
// it with the denormal-mode addon (denormal-mode.ts), or where there is none
// runs fr_feature on an ORT pool thread (SessionOptions.ownThread).
import protobuf from 'protobufjs';

const { Reader } = protobuf;

/** ONNX TensorProto.DataType FLOAT. */
const FLOAT = 1;
/** Protobuf wire types. */
const VARINT = 0, FIXED32 = 5, LENGTH_DELIMITED = 2;

type FieldVisitor = (field: number, wireType: number, start: number, end: number) => void;

/** Calls `visit` for each field of the message in bytes[start, end): length-delimited fields with their payload's range, others with their value's start. */
function eachField(bytes: Uint8Array, start: number, end: number, visit: FieldVisitor): void {
  const reader = Reader.create(bytes.subarray(0, end));
  reader.pos = start;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3, wireType = tag & 7;
    if (wireType === LENGTH_DELIMITED) {
      const length = reader.uint32();
      const payload = reader.pos;
      if (payload + length > end) throw new RangeError('ONNX model is truncated');
      visit(field, wireType, payload, payload + length);
      reader.pos = payload + length;
    } else {
      visit(field, wireType, reader.pos, -1);
      reader.skipType(wireType);
    }
  }
}

/** Zeroes the denormal float32 values (keeping the sign) in bytes[start, end); returns how many. */
function flushFloats(bytes: Uint8Array, start: number, end: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  let flushed = 0;
  for (let at = 0; at + 4 <= view.byteLength; at += 4) {
    const bits = view.getUint32(at, true);
    if ((bits & 0x7f800000) === 0 && (bits & 0x007fffff) !== 0) {
      view.setUint32(at, bits & 0x80000000, true);
      flushed++;
    }
  }
  return flushed;
}

function tensor(bytes: Uint8Array, start: number, end: number): number {
  let dataType = 0;
  const data: Array<[number, number]> = [];
  eachField(bytes, start, end, (field, wireType, from, to) => {
    if (field === 2 && wireType === VARINT) dataType = Reader.create(bytes.subarray(from, end)).int32();
    // raw_data (9), or float_data (4): packed, or one fixed32 per value.
    else if (field === 9 && wireType === LENGTH_DELIMITED) data.push([from, to]);
    else if (field === 4 && wireType === LENGTH_DELIMITED) data.push([from, to]);
    else if (field === 4 && wireType === FIXED32) data.push([from, from + 4]);
  });
  if (dataType !== FLOAT) return 0;
  return data.reduce((sum, [from, to]) => sum + flushFloats(bytes, from, to), 0);
}

function graph(bytes: Uint8Array, start: number, end: number): number {
  let flushed = 0;
  eachField(bytes, start, end, (field, wireType, from, to) => {
    if (wireType !== LENGTH_DELIMITED) return;
    if (field === 5) flushed += tensor(bytes, from, to); // initializer
    else if (field === 1) flushed += node(bytes, from, to);
  });
  return flushed;
}

function node(bytes: Uint8Array, start: number, end: number): number {
  let flushed = 0;
  eachField(bytes, start, end, (field, wireType, from, to) => {
    if (field !== 5 || wireType !== LENGTH_DELIMITED) return; // attribute
    eachField(bytes, from, to, (attrField, attrWire, a, b) => {
      if (attrWire !== LENGTH_DELIMITED) return;
      if (attrField === 5 || attrField === 10) flushed += tensor(bytes, a, b); // t, tensors (a Constant's value)
      else if (attrField === 6 || attrField === 11) flushed += graph(bytes, a, b); // g, graphs (If, Loop, Scan bodies)
    });
  });
  return flushed;
}

/**
 * Sets every denormal float32 in the model's initializers and constant
 * tensors (subgraphs included) to zero of the same sign, in place; returns
 * how many there were. Nothing else changes: every byte length stays, so the
 * rest of the encoding is untouched. Throws RangeError on a malformed model.
 */
export function flushDenormalWeights(model: Uint8Array): number {
  let flushed = 0;
  eachField(model, 0, model.length, (field, wireType, from, to) => {
    if (field === 7 && wireType === LENGTH_DELIMITED) flushed += graph(model, from, to); // ModelProto.graph
  });
  return flushed;
}
