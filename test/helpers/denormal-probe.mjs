// Worker-thread entry of the denormal probe (test/models/onnx-denormals.test.ts):
// tsx's hooks are registered on the main thread only.
import { tsImport } from 'tsx/esm/api';

await tsImport('./denormal-probe.ts', import.meta.url);
