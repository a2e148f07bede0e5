/** Input i of a campaign: the corpus first, unmutated; then a mutation drawn from input i's own generator. */
import { Rng } from '../src/util/random.js';
import { mutate } from './mutate.js';
import type { Target } from './targets.js';

export function inputAt(target: Pick<Target, 'json'>, corpus: readonly Uint8Array[], seed: number, i: number): Uint8Array {
  if (i < corpus.length) return corpus[i];
  const rng = new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i, 0x85ebca6b)) >>> 0);
  return mutate(corpus[rng.int(corpus.length)], rng, corpus, { json: target.json ?? false });
}
