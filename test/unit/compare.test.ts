/** `robustness-lab compare`: two reports of the same images, McNemar's exact test on per-image robustness. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { compareReports } from '../../src/store/compare';
import { tempDir } from './helpers';

function write(dir: string, name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    JSON.stringify({ dataset: 'fashion-mnist', threat: { norm: 'linf', eps: 0.1, bounds: [0, 1] }, ...fields }),
  );
  return file;
}

test('compare: b = 10 images only A keeps, c = 2 only B keeps → exact p = 0.0386, significant', () => {
  const dir = tempDir('compare');
  // 1,000 images: 700 both robust, 10 only A, 2 only B, the rest neither.
  const both = '1'.repeat(700);
  const rest = '0'.repeat(288);
  const a = both + '1'.repeat(10) + '00' + rest;
  const b = both + '0'.repeat(10) + '11' + rest;
  const fileA = write(dir, 'a.json', { model: 'trades', n: 1000, robust_accuracy: 0.71, robust_per_image: a });
  const fileB = write(dir, 'b.json', { model: 'pgd-at', n: 1000, robust_accuracy: 0.702, robust_per_image: b });
  const text = compareReports([fileA, fileB], ['TRADES', 'PGD-AT']);
  assert.deepEqual(text, [
    'TRADES: robust 71.0% ± 2.9 (linf ε=0.1)',
    'PGD-AT: robust 70.2% ± 3.0 (linf ε=0.1)',
    "images only TRADES keeps: 10; only PGD-AT keeps: 2 (McNemar's exact test)",
    'TRADES − PGD-AT: +0.8 points, p = 0.039, significant at n = 1,000',
  ]);
  // Default names: the models when they differ.
  assert.match(compareReports([fileB, fileA]).join('\n'), /^pgd-at − trades: −0\.8 points, p = 0\.039, significant/m);
});

test('compare refuses reports it cannot pair, naming the file and the field', () => {
  const dir = tempDir('compare');
  const ok = write(dir, 'ok.json', { model: 'm', n: 3, robust_accuracy: 1 / 3, robust_per_image: '100' });
  const old = write(dir, 'old.json', { model: 'm', n: 3, robust_accuracy: 1 / 3 });
  const other = write(dir, 'other.json', { model: 'm', n: 4, robust_accuracy: 0.25, robust_per_image: '1000' });
  const short = write(dir, 'short.json', { model: 'm', n: 3, robust_accuracy: 0.5, robust_per_image: '10' });
  assert.throws(
    () => compareReports([ok, old]),
    (e: Error) => {
      assert.equal(e.name, 'SourceError');
      assert.match(e.message, /old\.json: robust_per_image: is missing: the report predates per-image results/);
      return true;
    },
  );
  assert.throws(() => compareReports([ok, other]), /other\.json: n: differs from .*ok\.json \(4 vs 3\)/);
  assert.throws(
    () => compareReports([ok, short]),
    /short\.json: robust_per_image: must be 3 characters of 0 and 1, got 2/,
  );
  assert.throws(
    () => compareReports([ok, path.join(dir, 'absent.json')]),
    /absent\.json: cannot be read as report\.json/,
  );
});
