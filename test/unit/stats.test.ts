import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracyCi95,
  ciText,
  comparePaired,
  comparisonText,
  mcnemarExact,
  pctCi,
  wilson,
} from '../../src/protocol/stats';

// Reference values from the Wilson formula worked by hand (python3, math module, z = 1.959964):
// center = (p + z²/2n) / (1 + z²/n), half = z / (1 + z²/n) · √(p(1−p)/n + z²/4n²).
test('Wilson 95% interval of 762 of 1,000 matches the hand-computed values to 1e-6', () => {
  const [lo, hi] = wilson(762, 1000);
  assert.ok(Math.abs(lo - 0.734634331) < 1e-6, `lo ${lo}`);
  assert.ok(Math.abs(hi - 0.787360448) < 1e-6, `hi ${hi}`);
  const [lo1, hi1] = wilson(1, 10);
  assert.ok(Math.abs(lo1 - 0.017876213) < 1e-6 && Math.abs(hi1 - 0.40415003) < 1e-6, `${lo1} ${hi1}`);
  assert.deepEqual(accuracyCi95(0.762, 1000), [lo, hi]);
});

test('Wilson at the edges: k = 0 and k = n stay inside [0, 1] with a non-zero width', () => {
  const [lo0, hi0] = wilson(0, 1000);
  assert.equal(lo0, 0);
  assert.ok(Math.abs(hi0 - 0.003826759) < 1e-6, `hi ${hi0}`);
  const [loN, hiN] = wilson(1000, 1000);
  assert.equal(hiN, 1);
  assert.ok(Math.abs(loN - 0.996173241) < 1e-6, `lo ${loN}`);
  assert.deepEqual(wilson(0, 0), [0, 1]);
  assert.throws(() => wilson(5, 4), /0 ≤ k ≤ n, got k = 5, n = 4/);
  assert.throws(() => wilson(1.5, 4), /whole numbers/);
});

test('pctCi: ± is the larger side of the interval rounded up; the edges show [lo, hi]', () => {
  // 762/1000: 76.2 − 73.46 = 2.74, 78.74 − 76.2 = 2.54 → ± 2.8 (rounded up from 2.74).
  assert.equal(pctCi(0.762, 1000), '76.2% ± 2.8');
  assert.equal(ciText(0.762, 1000), '± 2.8');
  assert.equal(pctCi(1, 1000), '100.0% [99.6, 100.0]');
  assert.equal(pctCi(0, 1000), '0.0% [0.0, 0.4]');
  // Fewer images, wider interval.
  assert.equal(pctCi(0.5, 100), '50.0% ± 9.7');
});

test('McNemar exact two-sided p against hand-computed binomial tails', () => {
  // b = 10, c = 2: 2 · (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 2 · 79 / 4096 = 0.03857421875.
  assert.ok(Math.abs(mcnemarExact(10, 2) - 0.03857421875) < 1e-12);
  assert.equal(mcnemarExact(2, 10), mcnemarExact(10, 2));
  // b = 20, c = 10: 2 · Σ_{i≤10} C(30,i) / 2^30 = 0.0987371467.
  assert.ok(Math.abs(mcnemarExact(20, 10) - 0.0987371467) < 1e-9);
  assert.equal(mcnemarExact(5, 5), 1);
  assert.equal(mcnemarExact(0, 0), 1);
  // Large counts do not underflow: 600 vs 400 is overwhelming evidence, 505 vs 495 none.
  assert.ok(mcnemarExact(600, 400) < 1e-9 && mcnemarExact(600, 400) > 0);
  assert.ok(mcnemarExact(505, 495) > 0.7);
  assert.throws(() => mcnemarExact(-1, 2), /whole counts/);
});

test('comparePaired counts discordant images and the line reads as in the issue', () => {
  const a = [true, true, false, false, true];
  const b = [true, false, true, false, false];
  const r = comparePaired(a, b);
  assert.deepEqual({ b: r.b, c: r.c, n: r.n }, { b: 2, c: 1, n: 5 });
  assert.equal(r.difference, 0.2);
  assert.throws(() => comparePaired([true], [true, false]), /different numbers of images \(1 and 2\)/);
  assert.equal(
    comparisonText('TRADES', 'PGD-AT', { difference: -0.012, p: 0.2134, n: 1000 }),
    'TRADES − PGD-AT: −1.2 points, p = 0.21, not significant at n = 1,000',
  );
  assert.equal(
    comparisonText('A', 'B', { difference: 0.008, p: 0.03857421875, n: 12 }),
    'A − B: +0.8 points, p = 0.039, significant at n = 12',
  );
  assert.match(comparisonText('A', 'B', { difference: 0.2, p: 1e-9, n: 1000 }), /p < 0\.001, significant/);
});
