/**
 * The op names a graph may hold: the standard ONNX operators (ai.onnx, through opset 24), the com.microsoft ops the
 * op table knows, and weightscope's private ops (lowered before serialisation). `Builder.op` takes only these, so a
 * misspelt op name is a compile error rather than an onnxruntime failure at run time.
 */

export const ONNX_OPS = [
  'Abs', 'Acos', 'Acosh', 'Add', 'AffineGrid', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'Attention',
  'AveragePool', 'BatchNormalization', 'Bernoulli', 'BitShift', 'BitwiseAnd', 'BitwiseNot', 'BitwiseOr', 'BitwiseXor',
  'BlackmanWindow', 'Cast', 'CastLike', 'Ceil', 'Celu', 'CenterCropPad', 'Clip', 'Col2Im', 'Compress', 'Concat',
  'ConcatFromSequence', 'Constant', 'ConstantOfShape', 'Conv', 'ConvInteger', 'ConvTranspose', 'Cos', 'Cosh', 'CumProd',
  'CumSum', 'DFT', 'DeformConv', 'DepthToSpace', 'DequantizeLinear', 'Det', 'Div', 'Dropout', 'DynamicQuantizeLinear',
  'Einsum', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'EyeLike', 'Flatten', 'Floor', 'GRU', 'Gather', 'GatherElements',
  'GatherND', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'Greater', 'GreaterOrEqual',
  'GridSample', 'GroupNormalization', 'HammingWindow', 'HannWindow', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity',
  'If', 'ImageDecoder', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LRN', 'LSTM', 'LayerNormalization', 'LeakyRelu',
  'Less', 'LessOrEqual', 'Log', 'LogSoftmax', 'Loop', 'LpNormalization', 'LpPool', 'MatMul', 'MatMulInteger', 'Max',
  'MaxPool', 'MaxRoiPool', 'MaxUnpool', 'Mean', 'MeanVarianceNormalization', 'MelWeightMatrix', 'Min', 'Mish', 'Mod',
  'Mul', 'Multinomial', 'Neg', 'NegativeLogLikelihoodLoss', 'NonMaxSuppression', 'NonZero', 'Not', 'OneHot', 'Optional',
  'OptionalGetElement', 'OptionalHasElement', 'Or', 'PRelu', 'Pad', 'Pow', 'QLinearConv', 'QLinearMatMul',
  'QuantizeLinear', 'RMSNormalization', 'RNN', 'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike',
  'Range', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean',
  'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'RegexFullMatch', 'Relu', 'Reshape', 'Resize',
  'ReverseSequence', 'RoiAlign', 'RotaryEmbedding', 'Round', 'STFT', 'Scan', 'Scatter', 'ScatterElements', 'ScatterND',
  'Selu', 'SequenceAt', 'SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength',
  'SequenceMap', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Size', 'Slice', 'Softmax',
  'SoftmaxCrossEntropyLoss', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'SplitToSequence', 'Sqrt', 'Squeeze',
  'StringConcat', 'StringNormalizer', 'StringSplit', 'Sub', 'Sum', 'Swish', 'Tan', 'Tanh', 'TensorScatter',
  'TfIdfVectorizer', 'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Trilu', 'Unique', 'Unsqueeze', 'Upsample', 'Where',
  'Xor',
] as const;

/** com.microsoft contrib ops the op table knows (exporters emit them in place of standard ones). */
export const MICROSOFT_OPS = ['Gelu'] as const;

/** weightscope's private ops (ops/conv.ts); lowered to standard ops before a graph is serialised. */
export const INTERNAL_OPS = ['PatchConv', 'ConvWeightGrad'] as const;

export type OnnxOpName = (typeof ONNX_OPS)[number];
export type OpName = OnnxOpName | (typeof MICROSOFT_OPS)[number] | (typeof INTERNAL_OPS)[number];

/** Domain of weightscope's private ops: lowered to standard ops before any graph is serialised. */
export const INTERNAL_DOMAIN = 'ai.weightscope.internal';
export const MICROSOFT_DOMAIN = 'com.microsoft';

/** '' is the default ONNX domain (ai.onnx). */
export type OpDomain = '' | typeof MICROSOFT_DOMAIN | typeof INTERNAL_DOMAIN;

/** The key an op is known by: its name in the default domain, `domain:name` elsewhere. */
export function opKey(opType: string, domain: string): string {
  return domain ? `${domain}:${opType}` : opType;
}
