// usearch's exactSearch (2.25) reads its inputs from the start of their
// ArrayBuffer, ignoring a typed array's byteOffset: a view into a larger
// buffer must be copied first, or the search silently reads other rows.
// Every int8 matrix and query passed to it goes through here.

/** `codes` itself when it starts its buffer, else a copy that does. */
export function ownBuffer(codes: Int8Array): Int8Array {
  return codes.byteOffset === 0 ? codes : codes.slice();
}
