/** `--layers` / `options.layers`: keep layers by id or by a glob on the layer or tensor name. */
import { WeightscopeError } from '../errors.js';
import type { LayerPlan } from './types.js';

/** `*` matches any run of characters (dots included), `?` one character; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let src = '';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${src}$`);
}

/**
 * The layers that match any selector. A selector that matches nothing is an error (a typo would otherwise
 * silently give an empty report).
 */
export function selectLayers(layers: readonly LayerPlan[], selectors: readonly (number | string)[] | undefined): LayerPlan[] {
  if (!selectors || selectors.length === 0) return [...layers];
  const keep = new Set<LayerPlan>();
  for (const s of selectors) {
    const hits =
      typeof s === 'number' || /^\d+$/.test(s)
        ? layers.filter((l) => l.layer_id === Number(s))
        : layers.filter((l) => globToRegExp(s).test(l.name) || globToRegExp(s).test(l.tensor));
    if (hits.length === 0) throw new WeightscopeError('not-found', `no analysable layer matches ${JSON.stringify(s)}`);
    for (const h of hits) keep.add(h);
  }
  return layers.filter((l) => keep.has(l));
}
