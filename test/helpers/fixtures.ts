/** Where the shared fixtures live: the `shared/` folder beside the repository checkout. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const SHARED: string = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Absolute path of a file under shared/fixtures, e.g. fixture('gpt2-tiny', 'model.safetensors'). */
export function fixture(...parts: string[]): string {
  return join(SHARED, 'fixtures', ...parts);
}
