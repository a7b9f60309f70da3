// Bytes a store occupies on disk: the file itself, or the files of its folder
// (LMDB keeps data.mdb and lock.mdb there), plus a `-lock` file beside it.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function diskBytes(path: string): number {
  let total = 0;
  for (const candidate of [path, `${path}-lock`]) {
    try {
      const stat = statSync(candidate);
      if (stat.isFile()) total += stat.size;
      else if (stat.isDirectory()) {
        for (const entry of readdirSync(candidate, { withFileTypes: true })) {
          if (entry.isFile()) total += statSync(join(candidate, entry.name)).size;
        }
      }
    } catch {
      // Absent: counts as nothing.
    }
  }
  return total;
}
