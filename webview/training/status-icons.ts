/**
 * The codicons of STATUS_ICONS as inline SVG (the webview loads no icon font), so a stopped run and
 * the Stop button show the same square as the Runs view. From @vscode/codicons (CC BY 4.0).
 */
import debugStop from '@vscode/codicons/src/icons/debug-stop.svg' with { type: 'text' };
import error from '@vscode/codicons/src/icons/error.svg' with { type: 'text' };
import pass from '@vscode/codicons/src/icons/pass.svg' with { type: 'text' };
import sync from '@vscode/codicons/src/icons/sync.svg' with { type: 'text' };
import { STATUS_ICONS } from '../../src/protocol/format';
import type { RunStatus } from '../../src/protocol/vocabulary';

const SVG: Readonly<Record<string, string>> = { 'debug-stop': debugStop, error, pass, sync };

/** The icon element of a codicon name ("sync~spin" spins). */
export function codicon(name: string): HTMLSpanElement {
  const [base = name, modifier] = name.split('~');
  const span = document.createElement('span');
  span.className = `status-icon codicon-${base}${modifier === 'spin' ? ' spin' : ''}`;
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = SVG[base] ?? '';
  return span;
}

/** A status's icon, as everywhere (STATUS_ICONS). */
export function statusIcon(status: RunStatus): HTMLSpanElement {
  return codicon(STATUS_ICONS[status]);
}
