import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gramTs, transpose } from '../../src/linalg/gram.js';
import { gaussian } from './linalg-fixtures.js';

/** Plain triple loop, the definition. */
function naiveGram(W: Float64Array, rows: number, cols: number): Float64Array {
  const tall = cols <= rows;
  const n = tall ? cols : rows;
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      if (tall) for (let r = 0; r < rows; r++) s += W[r * cols + i] * W[r * cols + j];
      else for (let c = 0; c < cols; c++) s += W[i * cols + c] * W[j * cols + c];
      G[i * n + j] = s;
    }
  }
  return G;
}

test('blocked TS Gram equals the definition (tall, wide, square, sizes off the 4/64/256 grid)', () => {
  for (const [rows, cols] of [
    [300, 100],
    [70, 301],
    [67, 67],
    [5, 3],
    [3, 5],
    [1, 7],
    [7, 1],
    [130, 129],
  ]) {
    const W = gaussian(rows * cols, rows * 31 + cols);
    const { G, n } = gramTs(W, rows, cols);
    assert.equal(n, Math.min(rows, cols));
    const ref = naiveGram(W, rows, cols);
    let d = 0;
    let m = 0;
    for (let i = 0; i < ref.length; i++) {
      d = Math.max(d, Math.abs(G[i] - ref[i]));
      m = Math.max(m, Math.abs(ref[i]));
    }
    assert.ok(d <= 1e-13 * m, `${rows}×${cols}: max diff ${d} (max ${m})`);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.equal(G[i * n + j], G[j * n + i]);
  }
});

test('transpose', () => {
  const W = Float64Array.from({ length: 6 }, (_, i) => i);
  assert.deepEqual(Array.from(transpose(W, 2, 3)), [0, 3, 1, 4, 2, 5]);
});
