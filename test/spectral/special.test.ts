import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upperGamma, upperGammaScaled, logUpperGamma, gammaSmall } from '../../src/spectral/special.js';
import { logGamma1p as lnGamma1p } from '../../src/numerics/gamma.js';

// [s, x, Γ(s, x)] from mpmath.gammainc at 40 digits (s < 1 mostly, negative s included)
const REF: [number, number, number][] = [
  [-1e-7, 0.01, 4.0379305436047263373],
  [0, 0.5, 0.55977359477616081175],
  [0, 1, 0.21938393439552027368],
  [0, 2, 0.048900510708061119567],
  [0, 10, 4.1569689296853242774e-6],
  [-0.5, 0.3, 1.150367047355164337],
  [-0.49, 1e-6, 1773.9306361135315149],
  [-0.51, 0.0001, 211.47290286633010541],
  [-1, 0.7, 0.33563873361136163603],
  [-1.5, 1.2, 0.072897055594240976696],
  [-2.7, 0.05, 1115.5181690172740951],
  [-7.3, 0.9, 0.1054426854155235021],
  [-20, 0.5, 30985.423474698115214],
  [0.5, 1.0, 0.2788055852806619765],
  [0.7, 0.2, 0.87085506830866644363],
  [1, 0.3, 0.74081822068171787429],
  [1.7, 0.9, 0.62217275495593552308],
  [2.3, 0.1, 1.1646790317777994244],
  [3, 1.4, 1.666995476245259827],
  [3, 1.5, 1.6176936610761162598],
  [2.9, 2, 1.1932694725149797722],
  [-0.3, 1.5, 0.080007018395791240792],
  [-0.3, 1.49999, 0.080008335571442098374],
  [-4.2, 3.0, 0.000064731976326715915194],
  [-0.999999, 0.016, 57.933881616099674805],
  [0.2, 30, 6.0032195095699914517e-15],
  [-12.5, 100, 3.2809860215778976867e-71],
  [0.999, 0.001, 0.99957076957075571006],
  [-3, 1e-8, 3.3333332833333336241e23],
  [-0.5, 1.5, 0.069204999317904974341],
  [1.5, 1.49, 0.34981067041062037645],
  [-0.001, 1e-10, 22.714786651497914675],
  [-0.486429, 0.0148, 12.633038440578233692],
  [-0.178785, 0.0531, 3.1785219455509978434],
  [-1, 40, 2.5315302371240276682e-21],
];

test('upper incomplete gamma matches mpmath to 1e-12 relative, negative s included', () => {
  for (const [s, x, ref] of REF) {
    const v = upperGamma(s, x);
    assert.ok(Math.abs(v - ref) <= 1e-12 * ref, `Γ(${s}, ${x}) = ${v}, expected ${ref}`);
  }
});

test('closed forms: Γ(1,x) = e^-x, Γ(1/2,x) = √π erfc(√x) at x = 1, recurrence across s = 0', () => {
  for (const x of [0.01, 0.7, 1.49, 1.51, 5, 50]) {
    assert.ok(Math.abs(upperGamma(1, x) / Math.exp(-x) - 1) < 1e-14);
    // Γ(s+1,x) = sΓ(s,x) + x^s e^-x at s = −0.25, both sides computed independently
    const s = -0.25;
    const lhs = upperGamma(s + 1, x);
    const rhs = s * upperGamma(s, x) + Math.pow(x, s) * Math.exp(-x);
    assert.ok(Math.abs(lhs / rhs - 1) < 1e-13, `recurrence at x=${x}`);
  }
  assert.ok(Math.abs(upperGamma(0.5, 1) - Math.sqrt(Math.PI) * 0.15729920705028513066) < 1e-15);
  // continuity through s = 0 (E1)
  assert.ok(Math.abs(upperGamma(1e-12, 0.3) / upperGamma(0, 0.3) - 1) < 1e-10);
});

test('ln Γ(1+t) and Γ(s) on their small ranges', () => {
  assert.ok(Math.abs(lnGamma1p(0.5) - Math.log(Math.sqrt(Math.PI) / 2)) < 1e-15);
  assert.ok(Math.abs(lnGamma1p(-0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-15);
  assert.ok(lnGamma1p(0) === 0);
  assert.ok(Math.abs(gammaSmall(0.25) - 3.6256099082219083119) < 1e-14);
  assert.ok(Math.abs(gammaSmall(2) - 1) < 1e-15);
  assert.throws(() => lnGamma1p(0.9), RangeError);
});

test('scaled form: limits at x = 0 and ∞, log form, bad arguments', () => {
  assert.equal(upperGammaScaled(-0.5, 0), 2); // G(s,0) = −1/s
  assert.equal(upperGammaScaled(0.5, 0), Infinity);
  assert.equal(upperGammaScaled(-0.5, Infinity), 0);
  assert.ok(Number.isNaN(upperGammaScaled(-0.5, -1)));
  assert.ok(Number.isNaN(upperGammaScaled(NaN, 1)));
  assert.throws(() => upperGammaScaled(3.5, 1), RangeError);
  // far beyond double range as Γ, fine in logs: ln Γ(−60, 1e-3) (mpmath)
  const lg = logUpperGamma(-60, 1e-3);
  assert.ok(Math.abs(lg - 410.369955227702166901744476365) < 1e-12 * 410, `${lg}`);
});
