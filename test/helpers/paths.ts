// Locations of the test photos, copied into the project (test/fixtures/faces,
// with their licence notice) so that a fresh clone passes `npm test` alone.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FACES_DIR = resolve(PROJECT_ROOT, 'test', 'fixtures', 'faces');

export const PEOPLE = readdirSync(join(FACES_DIR, 'people')).sort();

export const personPhotoPath = (person: string, n: number) => join(FACES_DIR, 'people', person, `${n}.png`);
export const scenePath = (name: string) => join(FACES_DIR, 'scenes', name);

export const readPersonPhoto = (person: string, n: number) => readFileSync(personPhotoPath(person, n));
export const readScene = (name: string) => readFileSync(scenePath(name));
