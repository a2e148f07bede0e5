/**
 * Parameters: a model's float initializers as named Float32Arrays (the values fed to the graphs' parameter inputs),
 * and the vector arithmetic over such sets that optimisers, curves and the Hessian need. All sums accumulate in
 * float64. Flat vectors follow the order of the ParamSpec list.
 */
import { WeightscopeError } from '../errors.js';
import { replaceInitializers, tensorDType, tensorProtoToFloat64, tensorShape, type ModelProto } from '../io/onnx-model.js';
import { FLOAT_DTYPES } from '../io/types.js';

export interface ParamSpec {
  readonly name: string;
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
}

/** Parameter name → values (float32, the graphs' parameter type). */
export type ParamMap = Map<string, Float32Array>;

export function specOf(name: string, dims: readonly number[]): ParamSpec {
  return { name, dims: [...dims], size: dims.reduce((p, d) => p * d, 1) };
}

export function totalSize(specs: readonly ParamSpec[]): number {
  let n = 0;
  for (const s of specs) n += s.size;
  return n;
}

/** Names of the model's float initializers, in graph order. */
export function floatInitializerNames(model: ModelProto): string[] {
  const out: string[] = [];
  for (const t of model.graph?.initializer ?? []) {
    const d = tensorDType(t);
    if (FLOAT_DTYPES.has(d)) out.push(t.name ?? '');
  }
  return out;
}

/**
 * Values of the named initializers (default: every float initializer) as float32. `baseDir` resolves external
 * data. Unknown names are a 'not-found' error.
 */
export async function loadParams(
  model: ModelProto,
  baseDir: string,
  names: readonly string[] = floatInitializerNames(model),
): Promise<{ specs: ParamSpec[]; values: ParamMap }> {
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const specs: ParamSpec[] = [];
  const values: ParamMap = new Map();
  for (const name of names) {
    const t = byName.get(name);
    if (!t) throw new WeightscopeError('not-found', `ONNX model has no initializer named '${name}'`);
    const v = Float32Array.from(await tensorProtoToFloat64(t, baseDir));
    specs.push(specOf(name, tensorShape(t)));
    values.set(name, v);
  }
  return { specs, values };
}

/** A copy of the model holding these parameter values as its initializers. */
export function storeParams(model: ModelProto, values: ParamMap): ModelProto {
  return replaceInitializers(model, values);
}

/** Check that `values` holds exactly the spec'd parameters with the right sizes. */
export function checkParams(specs: readonly ParamSpec[], values: ReadonlyMap<string, Float32Array>, what = 'parameters'): void {
  for (const s of specs) {
    const v = values.get(s.name);
    if (!v) throw new WeightscopeError('invalid-input', `${what}: missing '${s.name}'`);
    if (v.length !== s.size) {
      throw new WeightscopeError(
        'shape-mismatch',
        `${what}: '${s.name}' has ${v.length} values, expected ${s.size} ([${s.dims.join(', ')}])`,
      );
    }
  }
}

export function flatten(specs: readonly ParamSpec[], values: ReadonlyMap<string, Float32Array>): Float64Array {
  checkParams(specs, values);
  const out = new Float64Array(totalSize(specs));
  let o = 0;
  for (const s of specs) {
    out.set(values.get(s.name) as Float32Array, o);
    o += s.size;
  }
  return out;
}

export function unflatten(specs: readonly ParamSpec[], flat: ArrayLike<number>): ParamMap {
  const n = totalSize(specs);
  if (flat.length !== n) throw new WeightscopeError('shape-mismatch', `flat vector has ${flat.length} values, parameters have ${n}`);
  const out: ParamMap = new Map();
  let o = 0;
  for (const s of specs) {
    const v = new Float32Array(s.size);
    for (let i = 0; i < s.size; i++) v[i] = flat[o + i];
    out.set(s.name, v);
    o += s.size;
  }
  return out;
}

function pair(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>, name: string): Float32Array {
  const v = b.get(name);
  const u = a.get(name) as Float32Array;
  if (!v || v.length !== u.length) throw new WeightscopeError('shape-mismatch', `parameter sets differ at '${name}'`);
  return v;
}

/** ⟨a, b⟩ over all parameters of a (b must have the same ones). */
export function dot(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const [name, u] of a) {
    const v = pair(a, b, name);
    for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  }
  return s;
}

export function norm(a: ReadonlyMap<string, Float32Array>): number {
  return Math.sqrt(dot(a, a));
}

/** y ← y + alpha·x, in place (over y's parameters). */
export function axpy(alpha: number, x: ReadonlyMap<string, Float32Array>, y: ParamMap): void {
  for (const [name, w] of y) {
    const u = pair(y, x, name);
    for (let i = 0; i < w.length; i++) w[i] += alpha * u[i];
  }
}

/** x ← alpha·x, in place. */
export function scale(alpha: number, x: ParamMap): void {
  for (const w of x.values()) for (let i = 0; i < w.length; i++) w[i] *= alpha;
}

export function clone(x: ReadonlyMap<string, Float32Array>): ParamMap {
  return new Map([...x].map(([k, v]) => [k, v.slice()]));
}

export function zerosLike(x: ReadonlyMap<string, Float32Array>): ParamMap {
  return new Map([...x].map(([k, v]) => [k, new Float32Array(v.length)]));
}

/** Σ coefs[k]·xs[k] (e.g. a point on a Bezier curve), accumulated in float64 per element. */
export function combine(coefs: readonly number[], xs: readonly ReadonlyMap<string, Float32Array>[]): ParamMap {
  if (coefs.length !== xs.length || xs.length === 0)
    throw new WeightscopeError('invalid-input', 'combine needs one coefficient per parameter set');
  const out: ParamMap = new Map();
  for (const [name, first] of xs[0]) {
    const parts = xs.map((x) => pair(xs[0], x, name));
    const w = new Float32Array(first.length);
    for (let i = 0; i < w.length; i++) {
      let s = 0;
      for (let k = 0; k < parts.length; k++) s += coefs[k] * parts[k][i];
      w[i] = s;
    }
    out.set(name, w);
  }
  return out;
}
