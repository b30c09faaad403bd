// Results, checkpoints, run records and downloaded tables are written to a temporary file beside
// the target and renamed over it, so a reader (or a crash) never sees half a file. The pid in the
// temporary name keeps two processes writing the same path from interleaving their bytes.
import { renameSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
