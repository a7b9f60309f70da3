// The server's version as GET /api/version/v1 reports it ("v1.0.0" format).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { version } = require('../package.json') as { version: string };

export const SERVER_VERSION = `v${version}`;
