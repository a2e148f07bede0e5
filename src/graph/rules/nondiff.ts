/** Ops whose outputs carry no gradient: shapes, comparisons, integer index builders, piecewise constants. */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set([
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'OneHot', 'Compress', 'NonZero', 'EyeLike',
  'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf',
  'Sign', 'Floor', 'CumSum', 'Ceil', 'Round', 'ArgMax', 'ArgMin',
  'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial',
]);
