// Public surface of the face engine package: the contract, the ONNX factory
// and the errors a caller may need to tell apart.
export * from './engine.js';
export { createOnnxEngine, DEFAULT_MODEL_DIR, MODEL_FILES, searchModelOf } from './onnx-engine.js';
export type { ModelName, OnnxEngineOptions, OnnxFaceEngine } from './onnx-engine.js';
export type { DetectOptions } from './detect.js';
export { ModelIntegrityError } from './manifest.js';
export type { SessionStats } from './session-queue.js';
export { createPooledEngine } from './pool-engine.js';
export type { PooledEngineOptions, PooledFaceEngine, PoolStats, WorkerMemory } from './pool-engine.js';
