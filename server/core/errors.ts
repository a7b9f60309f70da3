// The one domain error type lives in models/errors.ts, the lowest layer that
// throws it (the engine; the store sits above it); re-exported here so the
// core and the dialects name one module.
export * from '../../models/errors.js';
