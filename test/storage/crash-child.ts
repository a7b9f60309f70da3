// Child process for the crash test: binds faces to group "crash" in a burst
// (many in flight at once) and prints "ACK <token> <version>" for each bind
// the store acknowledged. The parent SIGKILLs it mid-burst.
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import { openLmdbStore } from '../../storage/index.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-child.ts <store dir>');
const store = await openLmdbStore({ path: dir });
const group = (await store.getGroup(DEFAULT_LIBRARY, 'crash' as GroupName))!;
const page = await store.listBindings(group.groupId, { limit: 1 });
if (page.length > 0) throw new Error('expected an empty group');

// All enrolled faces, in token order.
const faces: string[] = [];
let next = 1;
for (;;) {
  const token = ('F' + String(next).padStart(23, '0'));
  const face = await store.getFace(token as never);
  if (!face) break;
  faces.push(token);
  next++;
}

const IN_FLIGHT = 32;
let cursor = 0;
async function worker(): Promise<void> {
  while (cursor < faces.length) {
    const token = faces[cursor++]!;
    const change = await store.bind(DEFAULT_LIBRARY, 'crash' as GroupName, token as never);
    process.stdout.write(`ACK ${token} ${change!.change.version}\n`);
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
process.stdout.write('DONE\n');
