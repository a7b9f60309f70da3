// The worker thread's entry for piscina. The server runs TypeScript through
// tsx; tsx's loader hooks are registered on the main thread only, so the
// worker loads its TypeScript module through tsx's API itself.
import { tsImport } from 'tsx/esm/api';

const worker = await tsImport('./engine-worker.ts', import.meta.url);
export default worker.default;
