// Prints the BackendInfo that initBackend chooses in a fresh process (as JSON), or the error: the
// selection tests run it under different BALLAST_BACKEND / BALLAST_WASM_THREADS settings.
import { initBackend } from '../select-backend.ts';

try {
  process.stdout.write(`${JSON.stringify(await initBackend())}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message, errorName: (error as Error).name })}\n`);
}
