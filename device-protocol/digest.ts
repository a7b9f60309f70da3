// Order-independent digest of a set of face tokens.
//
// digest(S) = (sum over t in S of H(t)) mod 2^64, where H(t) is the first 8
// bytes of SHA-256(UTF-8 t) read as an unsigned little-endian integer.
// A sum (rather than XOR) keeps it incremental in both directions: the server
// adds H(t) on bind and subtracts it on unbind, so the digest of a group is
// always current without rescanning it; a terminal does the same while it
// applies a delta and compares the result with the group's digest.
import { createHash } from 'node:crypto';

const MOD = 1n << 64n;

/** H(t): the per-token term of the digest. */
export function faceTokenHash(token: string): bigint {
  const sha = createHash('sha256').update(token, 'utf8').digest();
  return sha.readBigUInt64LE(0);
}

/** The digest of an empty set. */
export const EMPTY_DIGEST = 0n;

export function digestAdd(digest: bigint, token: string): bigint {
  return (digest + faceTokenHash(token)) % MOD;
}

export function digestRemove(digest: bigint, token: string): bigint {
  return (digest - faceTokenHash(token) + MOD) % MOD;
}

export function digestOf(tokens: Iterable<string>): bigint {
  let digest = EMPTY_DIGEST;
  for (const token of tokens) digest = digestAdd(digest, token);
  return digest;
}

/** 16 lowercase hex digits, big-endian; how the digest is stored and shown in JSON. */
export function digestToHex(digest: bigint): string {
  return digest.toString(16).padStart(16, '0');
}

export function digestFromHex(hex: string): bigint {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new RangeError(`not a 16-digit hex digest: ${hex}`);
  return BigInt('0x' + hex);
}
