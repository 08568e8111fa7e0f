/** Entry for report.html: the report JSON is embedded in the page. */
import type { Report } from '../../src/protocol/report';
import { renderReport } from './render';

const data = document.getElementById('report-data');
const root = document.getElementById('app');
if (data && root) renderReport(root, JSON.parse(data.textContent ?? '{}') as Report);
