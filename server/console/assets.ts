// The console's browser code: console/ (TypeScript + preact) bundled by
// esbuild into one ES module, in memory, the first time it is asked for
// (about a tenth of a second; servers that never serve the console never
// pay it). Everything it imports comes from node_modules: no CDN, works
// offline.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface ConsoleAsset {
  body: Buffer;
  type: string;
}

const SOURCE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export class ConsoleAssets {
  #script: Promise<ConsoleAsset> | undefined;
  #style: Promise<ConsoleAsset> | undefined;

  script(): Promise<ConsoleAsset> {
    // A failed build is not cached: the next request tries again (and logs again).
    this.#script ??= bundle().catch((err) => {
      this.#script = undefined;
      throw err;
    });
    return this.#script;
  }

  style(): Promise<ConsoleAsset> {
    this.#style ??= readFile(`${SOURCE_DIR}console.css`).then((body) => ({ body, type: 'text/css; charset=utf-8' }));
    return this.#style;
  }
}

async function bundle(): Promise<ConsoleAsset> {
  const result = await build({
    entryPoints: [`${SOURCE_DIR}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('console bundle produced no output');
  return { body: Buffer.from(file.contents), type: 'text/javascript; charset=utf-8' };
}
