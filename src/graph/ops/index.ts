/**
 * The op table: every op the project knows, keyed by name (and domain), one module per family. Adding an op means
 * adding its entry to one of these files: its shapes, its gradient (or why there is none) and its batch-axis rule.
 * The passes (infer.ts, autodiff.ts, decompose.ts, lower.ts, batch-axis.ts) read nothing else about ops.
 */
import { opKey } from '../op-names.js';
import { CONTROL_FLOW } from './batch-context.js';
import { binaryOps } from './binary.js';
import { convOps } from './conv.js';
import { indexingOps } from './indexing.js';
import { layoutOps } from './layout.js';
import { linalgOps } from './linalg.js';
import { normalizationOps } from './normalization.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { reshapeOps } from './reshape.js';
import { UNKNOWN_OUTPUTS } from './shapes.js';
import { slicingOps } from './slicing.js';
import { softmaxOps } from './softmax.js';
import { sourceOps } from './sources.js';
import { family, NO_GRADIENT, type OpDef } from './types.js';
import { unaryOps } from './unary.js';

/** Ops with subgraphs: nothing is known about their outputs, and their bodies may read any value. */
const controlOps = family(['If', 'Loop', 'Scan', 'SequenceMap'], { infer: UNKNOWN_OUTPUTS, grad: NO_GRADIENT, batch: CONTROL_FLOW });

const FAMILIES: readonly (readonly OpDef[])[] = [
  unaryOps,
  binaryOps,
  linalgOps,
  convOps,
  poolOps,
  reduceOps,
  softmaxOps,
  reshapeOps,
  layoutOps,
  slicingOps,
  indexingOps,
  sourceOps,
  normalizationOps,
  controlOps,
];

const TABLE: ReadonlyMap<string, OpDef> = (() => {
  const m = new Map<string, OpDef>();
  for (const def of FAMILIES.flat()) {
    const key = opKey(def.op, def.domain ?? '');
    if (m.has(key)) throw new Error(`op table: ${key} is declared twice`);
    m.set(key, def);
  }
  return m;
})();

/** The entry of an op, or undefined when the project knows nothing about it. */
export function opDef(opType: string, domain: string): OpDef | undefined {
  return TABLE.get(opKey(opType, domain));
}

/** Every entry, with its key (`name` or `domain:name`). */
export function opTable(): ReadonlyMap<string, OpDef> {
  return TABLE;
}

/** Ops of the default domain that have a gradient rule (for docs and tests). */
export function ruleOps(): string[] {
  return [...TABLE.values()].filter((d) => !d.domain && d.grad.kind === 'rule').map((d) => d.op);
}
