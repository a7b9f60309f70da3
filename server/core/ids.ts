// The core's identifiers live in storage/ids.ts (the lowest layer that stores
// them); re-exported here so the core and the dialects name one module.
export * from '../../storage/ids.js';
