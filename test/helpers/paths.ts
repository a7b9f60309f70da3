// Locations of the shared test photos (../shared/faces from the project root).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FACES_DIR = resolve(PROJECT_ROOT, '..', 'shared', 'faces');

export const PEOPLE = readdirSync(join(FACES_DIR, 'people')).sort();

export const personPhotoPath = (person: string, n: number) => join(FACES_DIR, 'people', person, `${n}.png`);
export const scenePath = (name: string) => join(FACES_DIR, 'scenes', name);

export const readPersonPhoto = (person: string, n: number) => readFileSync(personPhotoPath(person, n));
export const readScene = (name: string) => readFileSync(scenePath(name));
