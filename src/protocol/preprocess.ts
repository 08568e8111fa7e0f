/**
 * A model's preprocessing, part of the differentiable function the attacks see: ε stays in the
 * data's pixel space (the job's bounds, [0, 1] by default) and the model gets
 *
 *   x_model = (lo + (x − b0)·(hi − lo)/(b1 − b0) − mean[c]) / std[c]
 *
 * where [b0, b1] are the data's bounds, `scale` = [lo, hi] the range the model was trained on
 * ([0, 255], [-1, 1]; default: the bounds themselves), and mean/std apply after the scale, per
 * channel, as torchvision's Normalize does. `classes` name the model's outputs.
 *
 * Sources, first wins per field: the CLI's --scale/--mean/--std, the experiment spec's
 * `preprocess` block, the sidecar file next to the model (`cnn.onnx` → `cnn.preprocess.json`,
 * schema preprocess-schema.json), the editor's robustness.preprocess.* settings. Plain data and
 * checks only (no node:path, no tfjs): the CLI, the engine, the language server and the webview share it.
 */
import { pct } from './format';

/** The fields a preprocessing block takes (spec block, sidecar, settings). */
export const PREPROCESS_FIELDS = ['scale', 'mean', 'std', 'classes'] as const;
export type PreprocessField = (typeof PREPROCESS_FIELDS)[number];

export interface PreprocessFields {
  /** The range the model expects; the data's bounds map linearly onto it. */
  scale?: [number, number];
  /** Per channel (or one value for all), subtracted after the scale. */
  mean?: number[];
  /** Per channel (or one value for all), divided after the mean; every value > 0. */
  std?: number[];
  /** The model's class names, in output order. */
  classes?: string[];
}

/** One source of preprocessing: its fields and where they came from (a file, "--mean", "settings"). */
export interface PreprocessLayer extends PreprocessFields {
  source: string;
}

/** The preprocessing in force: every field decided, and the source of each that was given. */
export interface Preprocessing {
  scale: [number, number];
  mean: number[];
  std: number[];
  classes?: string[];
  /** Field → where it came from; a field absent here is the identity default. */
  sources: Partial<Record<PreprocessField, string>>;
}

/** The sidecar file's suffix: `<model basename>.preprocess.json`. */
export const PREPROCESS_SUFFIX = '.preprocess.json';

/** The sidecar of a model file: `dir/cnn.onnx` → `dir/cnn.preprocess.json`, `model.json` → `model.preprocess.json`. */
export function sidecarFile(modelFile: string): string {
  return modelFile.replace(/\.[^./\\]*$/, '') + PREPROCESS_SUFFIX;
}

export interface PreprocessProblem {
  /** The field the problem is on: "std[1]", "scale", "classes". */
  field: string;
  message: string;
  /** The field is not one of PREPROCESS_FIELDS (a JSON schema reports it too, with "did you mean"). */
  unknownField?: true;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A value as the messages quote it. */
const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v)));

/**
 * What is wrong with a preprocessing block, each problem on its field. With `channels` (the
 * model's input channels), mean and std must have 1 value or one per channel; with `classes`,
 * the class names must be one per output.
 */
export function preprocessProblems(
  value: unknown,
  model: { channels?: number; classes?: number } = {},
): PreprocessProblem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const fields = `${PREPROCESS_FIELDS.slice(0, -1).join(', ')} or ${PREPROCESS_FIELDS.at(-1)}`;
    return [{ field: '', message: `must be an object with ${fields}` }];
  }
  const problems: PreprocessProblem[] = [];
  const block = value as Record<string, unknown>;
  for (const key of Object.keys(block)) {
    if (key === '$schema' || (PREPROCESS_FIELDS as readonly string[]).includes(key)) continue;
    problems.push({
      field: key,
      message: `is not a preprocessing field; use ${PREPROCESS_FIELDS.join(', ')}`,
      unknownField: true,
    });
  }
  const numbers = (field: 'scale' | 'mean' | 'std'): number[] | undefined => {
    const v = block[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) {
      problems.push({ field, message: `is ${shown(v)}; expected a non-empty array of numbers` });
      return undefined;
    }
    const bad = v.findIndex((x) => !isFiniteNumber(x));
    if (bad >= 0) {
      problems.push({ field: `${field}[${bad}]`, message: `is ${shown(v[bad])}; expected a finite number` });
      return undefined;
    }
    return v as number[];
  };
  const scale = numbers('scale');
  if (scale) {
    if (scale.length !== 2) {
      problems.push({ field: 'scale', message: `has ${scale.length} values; expected two, [lo, hi]` });
    } else if (scale[0]! >= scale[1]!) {
      problems.push({
        field: 'scale',
        message: `is [${scale.join(', ')}]; lo must be below hi (the model's input range, e.g. [0, 255] or [-1, 1])`,
      });
    }
  }
  const perChannel = (field: 'mean' | 'std', values: number[] | undefined) => {
    if (!values || model.channels === undefined) return;
    if (values.length !== 1 && values.length !== model.channels) {
      problems.push({
        field,
        message:
          `has ${values.length} values; the model has ${model.channels} input channel` +
          `${model.channels === 1 ? '' : 's'}: give 1 value (every channel) or ${model.channels}`,
      });
    }
  };
  const mean = numbers('mean');
  perChannel('mean', mean);
  const std = numbers('std');
  if (std) {
    const bad = std.findIndex((s) => s <= 0);
    if (bad >= 0) problems.push({ field: `std[${bad}]`, message: `is ${std[bad]}; a std must be > 0` });
  }
  perChannel('std', std);
  const classes = block.classes;
  if (classes !== undefined) {
    if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string' || !c)) {
      problems.push({ field: 'classes', message: 'must be a non-empty array of non-empty class names' });
    } else if (model.classes !== undefined && classes.length !== model.classes) {
      problems.push({
        field: 'classes',
        message: `has ${classes.length} names; the model has ${model.classes} classes`,
      });
    }
  }
  return problems;
}

/**
 * The preprocessing in force from its sources, in precedence order (first wins, field by field).
 * `bounds` are the data's bounds: the default scale, so that no preprocessing is the identity.
 */
export function resolvePreprocess(layers: readonly PreprocessLayer[], bounds: [number, number]): Preprocessing {
  const sources: Preprocessing['sources'] = {};
  const pick = <F extends PreprocessField>(field: F): PreprocessFields[F] | undefined => {
    const layer = layers.find((l) => l[field] !== undefined);
    if (!layer) return undefined;
    sources[field] = layer.source;
    return layer[field];
  };
  const scale = pick('scale');
  const mean = pick('mean');
  const std = pick('std');
  const classes = pick('classes');
  return {
    scale: scale ? [scale[0], scale[1]] : [bounds[0], bounds[1]],
    mean: mean ? [...mean] : [0],
    std: std ? [...std] : [1],
    ...(classes ? { classes: [...classes] } : {}),
    sources,
  };
}

/** True when the preprocessing changes the input (a scale other than the bounds, a mean or std). */
export function preprocessChangesInput(p: Pick<Preprocessing, 'scale' | 'mean' | 'std'>, bounds: [number, number]) {
  return (
    p.scale[0] !== bounds[0] || p.scale[1] !== bounds[1] || p.mean.some((m) => m !== 0) || p.std.some((s) => s !== 1)
  );
}

/** Per channel: x_model = a[c]·x + b[c], the preprocessing as one affine map of the data's pixels. */
export function preprocessAffine(
  p: Pick<Preprocessing, 'scale' | 'mean' | 'std'>,
  bounds: [number, number],
  channels: number,
): { a: number[]; b: number[] } {
  const [b0, b1] = bounds;
  const [lo, hi] = p.scale;
  const k = (hi - lo) / (b1 - b0);
  const at = (values: number[], c: number) => (values.length === 1 ? values[0]! : values[c]!);
  const a: number[] = [];
  const b: number[] = [];
  for (let c = 0; c < channels; c++) {
    a.push(k / at(p.std, c));
    b.push((lo - b0 * k - at(p.mean, c)) / at(p.std, c));
  }
  return { a, b };
}

/** "[0, 1] → [-0.81, 2.02]": the range each channel's pixels take at the model's input (one range when all agree). */
export function modelInputRange(p: Pick<Preprocessing, 'scale' | 'mean' | 'std'>, bounds: [number, number]): string {
  const channels = Math.max(p.mean.length, p.std.length);
  const { a, b } = preprocessAffine(p, bounds, channels);
  const fmt = (v: number) => String(Number(v.toPrecision(3)));
  const ranges = a.map((ac, c) => `[${fmt(ac * bounds[0] + b[c]!)}, ${fmt(ac * bounds[1] + b[c]!)}]`);
  const unique = [...new Set(ranges)];
  return `[${bounds.join(', ')}] → ${unique.length === 1 ? unique[0] : unique.join(' / ')}`;
}

const list = (values: readonly number[]) => `[${values.map((v) => String(v)).join(', ')}]`;

/** "mean [0.286] std [0.353] scale [0, 1] · from cnn.preprocess.json" (sources by their base name). */
export function describePreprocess(p: Pick<Preprocessing, 'scale' | 'mean' | 'std' | 'sources' | 'classes'>): string {
  const base = (source: string) => source.split(/[\\/]/).pop() ?? source;
  const fields = `mean ${list(p.mean)} std ${list(p.std)} scale ${list(p.scale)}`;
  const bySource = new Map<string, string[]>();
  for (const field of PREPROCESS_FIELDS) {
    const source = p.sources[field];
    if (source) bySource.set(base(source), [...(bySource.get(base(source)) ?? []), field]);
  }
  const classes = p.classes ? ` · ${p.classes.length} class names` : '';
  if (bySource.size === 0) return `${fields} (none given: the model sees the data's pixels)`;
  const from =
    bySource.size === 1
      ? `from ${[...bySource.keys()][0]}`
      : // An option names its field itself ("--mean"); a file or the settings say which fields they gave.
        `from ${[...bySource].map(([source, fields]) => (source.startsWith('--') ? source : `${source} (${fields.join(', ')})`)).join(', ')}`;
  return `${fields}${classes} · ${from}`;
}

/** Clean accuracy at most this many times chance, on at least NEAR_CHANCE_MIN_N images, is "near chance". */
export const NEAR_CHANCE_FACTOR = 1.5;
export const NEAR_CHANCE_MIN_N = 100;

/** The near-chance warning's text, or undefined when the clean accuracy says nothing of the preprocessing. */
export function nearChanceMessage(cleanAccuracy: number, n: number, classes: number): string | undefined {
  if (classes < 2 || n < NEAR_CHANCE_MIN_N) return undefined;
  const chance = 1 / classes;
  if (cleanAccuracy > NEAR_CHANCE_FACTOR * chance) return undefined;
  return (
    `clean accuracy ${pct(cleanAccuracy)} on ${n} images is near chance (${pct(chance)}): ` +
    "check the model's preprocessing (missing or doubled normalisation)"
  );
}
