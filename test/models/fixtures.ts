// Test inputs for the engine tests: the photos in test/fixtures/faces
// (resolved from this file, not the working directory) and decode limits.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DecodeLimits } from '../../models/engine.js';

import { FACES_DIR, PROJECT_ROOT } from '../helpers/paths.js';

export { FACES_DIR, PROJECT_ROOT };
export const MODEL_DIR = join(PROJECT_ROOT, 'models', 'weights');

export const PEOPLE = readdirSync(join(FACES_DIR, 'people')).sort();
export const PEOPLE_PHOTOS = PEOPLE.flatMap((person) =>
  readdirSync(join(FACES_DIR, 'people', person)).sort().map((file) => ({ person, file, path: join(FACES_DIR, 'people', person, file) })));

export const scene = (name: string) => readFileSync(join(FACES_DIR, 'scenes', name));

export const LIMITS: DecodeLimits = { maxBytes: 8 << 20, maxPixels: 20_000_000, minSide: 16, formats: ['jpeg', 'png', 'bmp'] };
