// Random, unguessable identifiers. 18 random bytes in base64url are exactly
// 24 characters of [A-Za-z0-9_-], inside the spec's alphabet [A-Za-z0-9=_-].
import { randomBytes } from 'node:crypto';
import type { FaceToken, ImageId } from './ids.js';

const TOKEN_PATTERN = /^[A-Za-z0-9=_-]{24}$/;

export const newFaceToken = (): FaceToken => randomBytes(18).toString('base64url') as FaceToken;
export const newImageId = (): ImageId => randomBytes(18).toString('base64url') as ImageId;

/** Well-formed per the spec (24 characters of [A-Za-z0-9=_-]); says nothing about existence. */
export const isFaceToken = (value: unknown): value is FaceToken => typeof value === 'string' && TOKEN_PATTERN.test(value);
export const isImageId = (value: unknown): value is ImageId => typeof value === 'string' && TOKEN_PATTERN.test(value);
