/**
 * Two report.json files of the same images, compared image by image with McNemar's exact test on
 * their robust (worst-case) correctness (src/protocol/stats.ts): `robustness-lab compare A B`, and
 * Compare Evaluations in the Runs view.
 */
import * as fs from 'node:fs';
import { SourceError } from '../common/errors';
import type { Report } from '../protocol/report';
import { comparePaired, comparisonText, pctCi } from '../protocol/stats';

function readReport(file: string): Report {
  let report: Report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  } catch (err) {
    throw new SourceError(file, '', `cannot be read as report.json: ${(err as Error).message}`);
  }
  if (typeof report !== 'object' || report === null || typeof report.n !== 'number') {
    throw new SourceError(file, 'n', 'is not a robustness-lab report.json (no n)');
  }
  const bits = report.robust_per_image;
  if (typeof bits !== 'string') {
    throw new SourceError(
      file,
      'robust_per_image',
      'is missing: the report predates per-image results or ran no attack; evaluate again to compare',
    );
  }
  if (bits.length !== report.n || !/^[01]*$/.test(bits)) {
    throw new SourceError(file, 'robust_per_image', `must be ${report.n} characters of 0 and 1, got ${bits.length}`);
  }
  return report;
}

/** The comparison's lines: each report's robust accuracy with its interval, then the paired test (the last line). */
export function compareReports(files: [string, string], names?: [string, string]): string[] {
  const [a, b] = files.map(readReport) as [Report, Report];
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      throw new SourceError(
        files[1],
        what,
        `differs from ${files[0]} (${JSON.stringify(y)} vs ${JSON.stringify(x)}): ` +
          'a paired comparison needs the same images',
      );
    }
  };
  same('dataset', a.dataset, b.dataset);
  same('n', a.n, b.n);
  const [nameA, nameB] = names ?? (a.model !== b.model ? [a.model, b.model] : files);
  const result = comparePaired(
    [...a.robust_per_image!].map((c) => c === '1'),
    [...b.robust_per_image!].map((c) => c === '1'),
  );
  const threat = (r: Report) => `${r.threat.norm} ε=${r.threat.eps}`;
  return [
    `${nameA}: robust ${pctCi(a.robust_accuracy, a.n)} (${threat(a)})`,
    `${nameB}: robust ${pctCi(b.robust_accuracy, b.n)} (${threat(b)})`,
    `images only ${nameA} keeps: ${result.b}; only ${nameB} keeps: ${result.c} (McNemar's exact test)`,
    comparisonText(nameA, nameB, result),
  ];
}
