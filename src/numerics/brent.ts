/**
 * Brent's root finder (Brent 1973, ch. 4; the zeroin of Forsythe–Malcolm–Moler): inverse quadratic interpolation or
 * secant steps, falling back to bisection whenever a step would leave the bracket or shrink it too slowly, so it
 * keeps bisection's guarantee with superlinear convergence on smooth functions.
 */

export interface BrentOptions {
  /** Absolute tolerance on the root (added to the relative one). Default 1e-12. */
  absTol?: number;
  /** Relative tolerance on the root, times |x|. Default 2·2.2e-16 (two ulps). */
  relTol?: number;
  /** Iteration cap. Default 200. */
  maxIter?: number;
}

/**
 * A root of f in the bracket [a, b] whose end values fa = f(a), fb = f(b) have opposite signs (or one is 0).
 * Returns the last iterate b, within absTol + relTol·|b| of a sign change of f.
 */
export function brentRoot(f: (x: number) => number, a: number, fa: number, b: number, fb: number, opts: BrentOptions = {}): number {
  const absTol = opts.absTol ?? 1e-12;
  const relTol = opts.relTol ?? 2 * 2.2e-16;
  const maxIter = opts.maxIter ?? 200;
  let c = a;
  let fc = fa;
  let d = b - a;
  let e = d;
  for (let it = 0; it < maxIter; it++) {
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = relTol * Math.abs(b) + absTol;
    const xm = 0.5 * (c - b);
    if (Math.abs(xm) <= tol || fb === 0) break;
    if (Math.abs(e) >= tol && Math.abs(fa) > Math.abs(fb)) {
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * xm * s; // secant
        q = 1 - s;
      } else {
        const qq = fa / fc; // inverse quadratic interpolation
        const rr = fb / fc;
        p = s * (2 * xm * qq * (qq - rr) - (b - a) * (rr - 1));
        q = (qq - 1) * (rr - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      p = Math.abs(p);
      if (2 * p < Math.min(3 * xm * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = xm;
        e = d;
      }
    } else {
      d = xm;
      e = d;
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tol ? d : xm > 0 ? tol : -tol;
    fb = f(b);
  }
  return b;
}
