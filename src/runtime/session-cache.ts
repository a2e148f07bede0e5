/**
 * Sessions by key (graph hash, device, threads and place): asking again for the same graph — with any weights,
 * since parameters are graph inputs — never builds a second session. Holders are counted, so engines sharing a
 * session do not free it under each other: the last release lets it go.
 */
export class SessionCache<S> {
  readonly #sessions = new Map<string, Promise<S>>();
  /** Holds not yet given back, per cached session. */
  readonly #holders = new Map<string, number>();
  #built = 0;

  /** How many sessions `hold` has built (tests use it to prove the cache works). */
  get built(): number {
    return this.#built;
  }

  /** The session under `key`, built by `create` if there is none (a failed build is forgotten); one hold more. */
  hold(key: string, create: () => Promise<S>): Promise<S> {
    let s = this.#sessions.get(key);
    if (!s) {
      s = create().then((made) => {
        this.#built++;
        return made;
      });
      this.#sessions.set(key, s);
      this.#holders.set(key, 0);
      s.catch(() => {
        this.#sessions.delete(key);
        this.#holders.delete(key);
      });
    }
    this.#holders.set(key, (this.#holders.get(key) ?? 0) + 1);
    return s;
  }

  /** One hold fewer; true when it was the last and the session left the cache (the caller frees it). */
  release(key: string): boolean {
    const left = (this.#holders.get(key) ?? 1) - 1;
    if (left > 0) {
      this.#holders.set(key, left);
      return false;
    }
    this.#holders.delete(key);
    return this.#sessions.delete(key);
  }

  /** Forgets the sessions whose keys end with `suffix` (those of a lane whose worker is gone). */
  dropWhere(suffix: string): void {
    for (const k of [...this.#sessions.keys()]) {
      if (!k.endsWith(suffix)) continue;
      this.#sessions.delete(k);
      this.#holders.delete(k);
    }
  }

  clear(): void {
    this.#sessions.clear();
    this.#holders.clear();
  }
}
