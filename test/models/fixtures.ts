// Shared test inputs for the engine tests: the photos in ../shared/faces
// (resolved from this file, not the working directory) and decode limits.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodeLimits } from '../../models/engine.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FACES_DIR = resolve(PROJECT_ROOT, '..', 'shared', 'faces');
export const MODEL_DIR = join(PROJECT_ROOT, 'models', 'weights');

export const PEOPLE = readdirSync(join(FACES_DIR, 'people')).sort();
export const PEOPLE_PHOTOS = PEOPLE.flatMap((person) =>
  readdirSync(join(FACES_DIR, 'people', person)).sort().map((file) => ({ person, file, path: join(FACES_DIR, 'people', person, file) })));

export const scene = (name: string) => readFileSync(join(FACES_DIR, 'scenes', name));

export const LIMITS: DecodeLimits = { maxBytes: 8 << 20, maxPixels: 20_000_000, minSide: 16, formats: ['jpeg', 'png', 'bmp'] };
