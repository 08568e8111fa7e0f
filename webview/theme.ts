/**
 * The editor's theme as the webviews see it: CSS variables for canvases (which cannot read them),
 * and a callback when VS Code swaps the theme (the body's vscode-light/-dark/-high-contrast class
 * and the --vscode-* variables), so charts can be redrawn in the new colours.
 */

/** A --vscode-* colour as the body has it now, else `fallback`. */
export function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Calls `redraw` once per theme change (the class and the variables arrive in one host message). */
export function onThemeChange(redraw: () => void): void {
  if (typeof MutationObserver === 'undefined') return;
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      redraw();
    });
  };
  const observer = new MutationObserver(schedule);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
}
