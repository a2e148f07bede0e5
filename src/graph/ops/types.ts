/**
 * One entry of the op table (ops/index.ts): everything the project knows about an op — its output shapes, its
 * gradient (or why there is none), and where the batch axis goes through it — kept together, as JAX keeps an op's
 * JVP, transpose and batching rules. The passes are interpreters over the table: infer.ts (shapes), autodiff.ts
 * (gradients), decompose.ts (composites), lower.ts (private ops) and batch-axis.ts (sharding).
 */
import type { Emitter } from '../emitter.js';
import type { GNode, ValueInfo } from '../ir.js';
import type { OpDomain, OpName } from '../op-names.js';
import type { BatchSpec } from './batch-context.js';

export type { BatchRule, BatchSpec } from './batch-context.js';

// ---- shapes ----------------------------------------------------------------------------------------------------

export interface InferCtx {
  readonly node: GNode;
  /** Each input's info (unknown where the input is omitted). */
  readonly ins: readonly ValueInfo[];
  /** The first input's info. */
  readonly x: ValueInfo;
  readonly opset: number;
}

/** Best-effort dtype/shape of each output (unknown dims null, unknown rank a null shape). */
export type InferRule = (c: InferCtx) => ValueInfo[];

// ---- gradients -------------------------------------------------------------------------------------------------

export interface GradCtx {
  readonly b: Emitter;
  readonly node: GNode;
  /** Gradient of the first output (zeros when only another output receives one). */
  readonly g: string;
  /** Gradient of each output, undefined where none flows in. */
  readonly dOut: readonly (string | undefined)[];
}

/** Builds one input's gradient when called: the pass calls only those of the inputs it needs. */
export type Thunk = () => string;

/** A thunk per input (by position); undefined for an input the rule gives no gradient. */
export type GradRule = (c: GradCtx) => readonly (Thunk | undefined)[];

/** Rewrites a composite node into ops with gradient rules, binding the node's own output names. */
export type Decomposer = (b: Emitter, node: GNode) => void;

export type GradSpec =
  /** `inputs`: the inputs that carry gradient (default all); the others (shapes, indices, masks) are constants. */
  | { readonly kind: 'rule'; readonly rule: GradRule; readonly inputs?: readonly number[] }
  /** Outputs are piecewise constant in the inputs, or integers: no gradient flows through. */
  | { readonly kind: 'none' }
  /** Rewritten into primitives before differentiation (decompose.ts); its gradient is theirs. */
  | { readonly kind: 'decompose'; readonly decompose: Decomposer }
  /** No rule: on the path from parameters to the loss it is an unsupported-op error. */
  | { readonly kind: 'missing' };

export const differentiable = (rule: GradRule, inputs?: readonly number[]): GradSpec =>
  inputs ? { kind: 'rule', rule, inputs } : { kind: 'rule', rule };
export const NOT_DIFFERENTIABLE: GradSpec = { kind: 'none' };
export const NO_GRADIENT: GradSpec = { kind: 'missing' };
export const decomposed = (decompose: Decomposer): GradSpec => ({ kind: 'decompose', decompose });

/** Builds its value on the first call only: for parts that several inputs' gradients share. */
export function once<T>(build: () => T): () => T {
  let done = false;
  let v: T;
  return () => {
    if (!done) {
      v = build();
      done = true;
    }
    return v;
  };
}

// ---- the entry -------------------------------------------------------------------------------------------------

export interface OpDef {
  readonly op: OpName;
  /** Default '' (ai.onnx). */
  readonly domain?: OpDomain;
  readonly infer: InferRule;
  readonly grad: GradSpec;
  readonly batch: BatchSpec;
  /** Private ops only: how the op becomes standard ONNX ops before serialisation (binds the node's outputs). */
  readonly lower?: (b: Emitter, node: GNode) => void;
}

/** Entries for several ops that share everything but the name. */
export function family(names: readonly OpName[], def: Omit<OpDef, 'op'>): OpDef[] {
  return names.map((op) => ({ op, ...def }));
}
