/**
 * How the training panel tells runs apart, and its epoch axis: pure (no DOM, no Chart.js), so the
 * unit tests check them. Each run gets a colour and a marker shape; with 7 colours and 8 shapes the
 * first 56 runs all differ, so a run whose points coincide with another's still shows.
 */
export const RUN_COLOURS = ['#1c7ed6', '#d9480f', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e64980'] as const;
export const RUN_POINT_STYLES = [
  'circle',
  'rect',
  'triangle',
  'rectRot',
  'star',
  'crossRot',
  'rectRounded',
  'cross',
] as const;
export type RunPointStyle = (typeof RUN_POINT_STYLES)[number];

/** Each marker shape in words, for the charts' accessible names (a legend a screen reader can read). */
export const POINT_STYLE_WORDS: Readonly<Record<RunPointStyle, string>> = {
  circle: 'circle',
  rect: 'square',
  triangle: 'triangle',
  rectRot: 'diamond',
  star: 'star',
  crossRot: 'x',
  rectRounded: 'rounded square',
  cross: 'plus',
};

/** A chart's accessible name: what it plots, then each run with its marker ("loss per epoch: a (circle); b (square)"). */
export function chartLegendText(what: string, runs: Array<{ label: string; pointStyle: RunPointStyle }>): string {
  if (runs.length === 0) return `${what}: no finished epoch yet`;
  return `${what}: ${runs.map((run) => `${run.label} (${POINT_STYLE_WORDS[run.pointStyle]})`).join('; ')}`;
}

/** The i-th run's colour and marker shape. */
export function runMarker(index: number): { colour: string; pointStyle: RunPointStyle } {
  return {
    colour: RUN_COLOURS[index % RUN_COLOURS.length]!,
    pointStyle: RUN_POINT_STYLES[index % RUN_POINT_STYLES.length]!,
  };
}

/** A colour with transparency ("#1c7ed6" → "#1c7ed659"): markers filled lightly show the one below. */
export function translucent(colour: string, alpha = 0.35): string {
  return `${colour}${Math.round(alpha * 255)
    .toString(16)
    .padStart(2, '0')}`;
}

/**
 * The epoch axis of a run of `epochs` epochs (the longest shown): whole-number ticks only, at most
 * about ten of them. Step 1 starts at epoch 1; a longer run steps by a whole number from 0.
 */
export function epochAxis(epochs: number): { min: number; max: number; stepSize: number } {
  const last = Math.max(1, Math.ceil(epochs));
  const stepSize = Math.max(1, Math.ceil(last / 10));
  const min = stepSize === 1 ? 1 : 0;
  const max = Math.max(min + stepSize, Math.ceil(last / stepSize) * stepSize);
  return { min, max, stepSize };
}

/** The tick values epochAxis gives (what the chart draws). */
export function epochTicks(epochs: number): number[] {
  const { min, max, stepSize } = epochAxis(epochs);
  const ticks: number[] = [];
  for (let tick = min; tick <= max; tick += stepSize) ticks.push(tick);
  return ticks;
}

/** An epoch tick's label: whole numbers only (a fractional tick, should the chart make one, reads as nothing). */
export function epochTickLabel(value: number | string): string {
  const n = Number(value);
  return Number.isInteger(n) ? String(n) : '';
}
