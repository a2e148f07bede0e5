/**
 * The import roots as a jail. Order matters: a path is first checked lexically (nothing on disk is touched, so a
 * path outside every root gets the same 403 whether it exists or not); then each file the import will read — the
 * folder's entries, config.json, refs/<rev> of an HF cache — is resolved through its symlinks and must still be
 * inside a root before it is read (a symlink planted in a shared HF cache cannot turn an import into a file read).
 */
import { lstatSync, readdirSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';

function isInside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export class ImportRoots {
  private constructor(
    /** The roots as configured (resolved), for lexical checks and messages. */
    private readonly given: readonly string[],
    /** Their real paths (symlinks resolved), for checks of real paths. */
    private readonly real: readonly string[],
  ) {}

  static async of(roots: readonly string[]): Promise<ImportRoots> {
    const given = roots.map((r) => resolve(r));
    const real: string[] = [];
    for (const r of given) real.push(await realpath(r).catch(() => r));
    return new ImportRoots(given, real);
  }

  private refuse(p: string, why: string): ServiceError {
    return new ServiceError('path-not-allowed', `${p} ${why} (roots: ${this.given.join(', ')}; allow more with WEIGHTSCOPE_IMPORT_ROOTS)`);
  }

  /** `p` as given must lie under a root, before anything is looked up on disk. Returns it resolved. */
  lexical(p: string): string {
    const abs = resolve(p);
    if (![...this.given, ...this.real].some((r) => isInside(abs, r))) throw this.refuse(p, 'is outside the import roots');
    return abs;
  }

  /** The real path of `p` (inside a root by its name), which must be inside a root too. Missing → 404. */
  async resolve(p: string): Promise<string> {
    const abs = this.lexical(p);
    const real = await realpath(abs).catch(() => {
      throw new WeightscopeError('not-found', `no such file or folder: ${p}`);
    });
    if (!this.real.some((r) => isInside(real, r)))
      throw this.refuse(p, 'is inside an import root but leads outside it (a symlink?); link or copy the model into the root instead');
    return real;
  }

  /** Every entry of `dir` and of its `onnx/` folder that is a symlink must resolve inside a root. */
  async entries(dir: string): Promise<void> {
    for (const sub of ['', 'onnx']) {
      let names: string[];
      try {
        names = readdirSync(join(dir, sub));
      } catch {
        continue;
      }
      for (const n of names) {
        const p = join(dir, sub, n);
        if (lstatSync(p).isSymbolicLink()) await this.resolve(p);
      }
    }
  }

  /** Checks `p` if it exists (a file an import may read when present, e.g. refs/main). */
  async ifPresent(p: string): Promise<void> {
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch {
      return;
    }
    if (isLink) await this.resolve(p);
  }
}
