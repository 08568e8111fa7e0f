/** Writes report.json and a self-contained report.html (the webview's renderer inlined). */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Report } from '../protocol/report';
import { modelName } from '../protocol/report-text';
import { NORM_LABELS } from '../protocol/vocabulary';
import { writeFileAtomic } from '../common/atomic-write';

function webviewAsset(name: string): string {
  // Every bundle (dist/cli.js, dist/extension.js) sits next to dist/webview/.
  const file = path.join(__dirname, 'webview', name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; run "npm run build" first`);
  return fs.readFileSync(file, 'utf8');
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function reportHtml(report: Report): string {
  const title =
    `Robustness report · ${modelName(report.model)} · ${NORM_LABELS[report.threat.norm]} ` + `ε=${report.threat.eps}`;
  // The one script runs by its hash, not 'unsafe-inline': an injected <script> would not run. The
  // report data is a JSON script element, which is not executed. Styles stay inline (the renderer sets them).
  const script = webviewAsset('report.js');
  const scriptHash = crypto.createHash('sha256').update(script, 'utf8').digest('base64');
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>${title.replace(/[<>&]/g, '')}</title>
<style>${webviewAsset('report.css')}</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="report-data">${scriptJson(report)}</script>
<script>${script}</script>
</body>
</html>
`;
}

export function writeReport(dir: string, report: Report): { json: string; html: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  writeFileAtomic(json, JSON.stringify(report, null, 2));
  writeFileAtomic(html, reportHtml(report));
  return { json, html };
}
