/**
 * Ops that make tensors rather than transform them: constants, shapes and sizes, ranges, random draws. None carries
 * a gradient. Shape and Size read the batch size when their input carries samples (see batch-axis.ts).
 */
import {
  attr,
  attrFloats,
  attrInt,
  attrInts,
  attrTensor,
  DT,
  normAxis,
  tensorDims,
  tensorValues,
  type Dim,
  type ValueInfo,
} from '../ir.js';
import { NO_BATCH_RULE } from './batch-context.js';
import { contents, isStatic, prod, SMALL, sym, UNKNOWN } from './shapes.js';
import { family, NOT_DIFFERENTIABLE, type BatchSpec, type InferRule, type OpDef } from './types.js';

const isInt = (dt: number | undefined): boolean => dt === DT.INT64 || dt === DT.INT32;

const constantShape: InferRule = ({ node }) => {
  const t = attrTensor(node, 'value');
  if (t) {
    const dims = tensorDims(t);
    const info: ValueInfo = { dtype: t.dataType ?? 0, shape: dims };
    if (isInt(t.dataType ?? 0) && prod(dims) <= SMALL) {
      const v = tensorValues(t);
      if (v) info.value = Array.from(v);
    }
    return [info];
  }
  if (attr(node, 'value_int')) return [{ dtype: DT.INT64, shape: [], value: [attrInt(node, 'value_int', 0)] }];
  const ints = attrInts(node, 'value_ints');
  if (ints) return [{ dtype: DT.INT64, shape: [ints.length], value: ints }];
  if (attr(node, 'value_float')) return [{ dtype: DT.FLOAT, shape: [] }];
  const floats = attrFloats(node, 'value_floats');
  if (floats) return [{ dtype: DT.FLOAT, shape: [floats.length] }];
  return [UNKNOWN];
};

const shapeShape: InferRule = ({ node, x }) => {
  if (!x.shape) return [{ dtype: DT.INT64, shape: [null] }];
  const r = x.shape.length;
  const clamp = (a: number): number => Math.min(Math.max(normAxis(a, r), 0), r);
  const dims = x.shape.slice(clamp(attrInt(node, 'start', 0)), clamp(attrInt(node, 'end', r)));
  return [{ dtype: DT.INT64, shape: [dims.length], ...contents(dims) }];
};

const constantOfShapeShape: InferRule = ({ node, x }) => {
  const t = attrTensor(node, 'value');
  const dtype = t?.dataType ?? DT.FLOAT;
  const v = x.value;
  const shape = sym(x) ?? (x.shape && typeof x.shape[0] === 'number' ? new Array<Dim>(x.shape[0]).fill(null) : null);
  let value: number[] | undefined;
  if (v && isInt(dtype) && prod(v) <= SMALL) value = new Array<number>(prod(v)).fill(t ? (tensorValues(t)?.[0] ?? 0) : 0);
  return [{ dtype, shape, ...(value ? { value } : {}) }];
};

const rangeShape: InferRule = ({ x, ins }) => {
  const [s, l, d] = ins.map((i) => i.value?.[0]);
  const n = s !== undefined && l !== undefined && d !== undefined ? Math.max(Math.ceil((l - s) / d), 0) : null;
  // Range(0, dim, 1) has length dim, also when dim is symbolic.
  const ls = sym(ins[1])?.[0];
  return [{ dtype: x.dtype, shape: [n ?? (s === 0 && d === 1 && ls !== undefined ? ls : null)] }];
};

/** Like the input in shape; dtype from the `dtype` attribute, else the input's (EyeLike, Random*Like, Bernoulli). */
const likeInput: InferRule = ({ node, x }) => [{ dtype: attrInt(node, 'dtype', x.dtype), shape: x.shape }];
/** Random draws of a `shape` attribute (float unless `dtype` says otherwise). */
const ofShapeAttr: InferRule = ({ node }) => [{ dtype: attrInt(node, 'dtype', DT.FLOAT), shape: attrInts(node, 'shape') ?? null }];

const shapeOnly: BatchSpec = { ...NO_BATCH_RULE, shapeOnly: true };

export const sourceOps: OpDef[] = [
  { op: 'Constant', infer: constantShape, grad: NOT_DIFFERENTIABLE, batch: NO_BATCH_RULE },
  { op: 'Shape', infer: shapeShape, grad: NOT_DIFFERENTIABLE, batch: { ...NO_BATCH_RULE, measures: 'dims' } },
  {
    op: 'Size',
    infer: ({ x }) => [{ dtype: DT.INT64, shape: [], ...(isStatic(x.shape) ? { value: [prod(x.shape)] } : {}) }],
    grad: NOT_DIFFERENTIABLE,
    batch: { ...NO_BATCH_RULE, measures: 'count' },
  },
  { op: 'ConstantOfShape', infer: constantOfShapeShape, grad: NOT_DIFFERENTIABLE, batch: shapeOnly },
  { op: 'Range', infer: rangeShape, grad: NOT_DIFFERENTIABLE, batch: NO_BATCH_RULE },
  ...family(['EyeLike', 'RandomNormalLike', 'RandomUniformLike'], { infer: likeInput, grad: NOT_DIFFERENTIABLE, batch: shapeOnly }),
  ...family(['RandomNormal', 'RandomUniform'], { infer: ofShapeAttr, grad: NOT_DIFFERENTIABLE, batch: NO_BATCH_RULE }),
  { op: 'Bernoulli', infer: likeInput, grad: NOT_DIFFERENTIABLE, batch: NO_BATCH_RULE },
  {
    op: 'Multinomial',
    infer: ({ node, x }) => [
      { dtype: attrInt(node, 'dtype', DT.INT32), shape: x.shape ? [x.shape[0], attrInt(node, 'sample_size', 1)] : null },
    ],
    grad: NOT_DIFFERENTIABLE,
    batch: NO_BATCH_RULE,
  },
];
