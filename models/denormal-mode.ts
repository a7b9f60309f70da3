// The float mode of the thread that runs an engine's models. ORT wants
// denormals flushed (FTZ/DAZ) and sets the bits on the calling thread only for
// the process's first session (see onnx-denormals.ts); a small Node-API addon
// (denormal-mode/denormal_mode.c, committed built for x86-64 Linux) sets them
// on the thread that asks, so every engine worker runs its graphs with them.
// Elsewhere the addon is absent and the zeroed weights and fr_feature's own
// thread (SessionOptions.ownThread) do what they can.
import { createRequire } from 'node:module';

/** Whether this thread computes with denormals flushed (FTZ/DAZ set): a denormal float32 rounds to zero. */
export function threadFlushesDenormals(): boolean {
  return Math.fround(1e-40) === 0;
}

/** The addon's file for this platform, relative to this module; undefined where none is built. */
export function denormalAddonFile(platform = process.platform, arch = process.arch): string | undefined {
  return platform === 'linux' && arch === 'x64' ? './denormal-mode/denormal_mode.linux-x64.node' : undefined;
}

/**
 * Sets FTZ/DAZ on the calling thread where the addon exists (the thread's
 * JavaScript then computes with denormals flushed too: Math.fround(1e-40)
 * is 0; only values below 1.2e-38 change). Returns whether the thread
 * flushes afterwards. Threads started from this one later inherit the bits.
 */
export function flushDenormalsOnThisThread(): boolean {
  const file = denormalAddonFile();
  try {
    if (file) (createRequire(import.meta.url)(file) as { flushDenormals(): number }).flushDenormals();
  } catch {
    // An addon that cannot load (a filesystem mounted noexec, say) costs
    // speed only: the callers' fallbacks are for a thread that does not flush.
  }
  return threadFlushesDenormals();
}
