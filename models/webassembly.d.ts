// The part of the WebAssembly JS API that models/image-ops.ts uses. The
// project compiles against ES2023 and @types/node 20 only (no DOM lib),
// which declare no WebAssembly classes.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
  class Global {
    value: unknown;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}
