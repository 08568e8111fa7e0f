/**
 * Checks an experiment spec and says what is wrong, with exact offsets: JSONC syntax, the JSON
 * schema (ajv), and the science the schema cannot express (unknown attacks with "did you mean",
 * ε against the input box, α against ε, dlr against the class count, model and data against each
 * other, softmax outputs, distillation temperature). Pure: the file system comes in as `Facts`,
 * so the language server, the extension's Run lens and the tests share it.
 */
import Ajv, { type ErrorObject } from 'ajv';
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { ATTACK_INFO, attackInfo, DLR_MIN_CLASSES, SPEC_PARAMS, type AttackParam } from '../protocol/attacks';
import { LOSSES } from '../protocol/vocabulary';
import schema from '../protocol/experiment-spec-schema.json';
import { attackOf, dataOf, type RobustnessSpec } from '../protocol/experiment-spec';
import { preprocessProblems } from '../protocol/preprocess';
import { defaultAttackJob } from '../protocol/jobs';
import { SUITE_TABLE, suiteStages } from '../protocol/suites';
import { isImageChannels, shapeMismatch, type DataInfo } from '../formats/data-sources';
import type { ModelInfo } from '../formats/model-formats';
import { formatLimit, READ_LIMITS } from '../formats/file-read';

export type Severity = 'error' | 'warning' | 'information';

export interface SpecProblem {
  /** Offsets into the text, end exclusive. */
  start: number;
  end: number;
  severity: Severity;
  message: string;
  /** Stable id, e.g. "unknown-attack", for tests and code actions. */
  code: string;
  /** The text that fixes it ("did you mean"), replacing [start, end): the quick fix. */
  replacement?: string;
  /** Fixes with their own titles ("Use ε = 0.1"), each replacing [start, end); the first is preferred. */
  fixes?: SpecFix[];
}

export interface SpecFix {
  title: string;
  replacement: string;
}

/** What the analysis may ask of the file system; every path is as written in the spec. */
export interface Facts {
  /** The model's topology summary, or why the path is not a model. */
  model(relative: string): { info: ModelInfo } | { problem: string; missing?: boolean };
  /** The data's shape, or why it cannot be read. */
  data(id: string): DataInfo | { problem: string };
  /** Workspace model paths relative to the spec, for "did you mean" and completion. */
  models?(): string[];
  /** Workspace folders of IDX files relative to the spec, for completion. */
  dataFolders?(): string[];
  /**
   * Why a path the spec writes (output.report) may not be used: it leaves the spec's workspace
   * folder once symlinks are resolved; undefined when it may. (Reads are judged by `model` and `data`.)
   */
  output?(relative: string): string | undefined;
}

export interface Analysis {
  problems: SpecProblem[];
  /** The parsed value when the text parses (even with schema problems). */
  spec?: RobustnessSpec;
  root?: Node;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** The message suffix and the quick-fix text of a "did you mean". */
function suggestion(
  word: string,
  candidates: readonly string[],
  asText: (hit: string) => string = (hit) => JSON.stringify(hit),
) {
  const hit = didYouMean(word, candidates);
  return hit ? { suffix: `; did you mean "${hit}"?`, replacement: asText(hit) } : { suffix: '' };
}

const fmt = (v: number) => String(Number(v.toPrecision(6)));

/** The deepest nesting of arrays and objects a spec may have (a real one has four or five levels). */
export const MAX_SPEC_DEPTH = 64;
/** The most schema problems listed for one spec; the rest are counted in one last problem. */
export const MAX_SCHEMA_PROBLEMS = 200;
/** The time one analysis may spend on listing schema problems before it stops and says so. */
export const ANALYSIS_BUDGET_MS = 500;
/** Longer keys and values are cut short in messages. */
const MAX_QUOTED = 60;

/** A key or value as a message quotes it: cut to MAX_QUOTED characters. */
export function quoted(text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
}

/**
 * The offset where the text nests deeper than `max` arrays and objects, if it does: one linear scan
 * that skips strings and comments, before anything recursive sees the text.
 */
export function tooDeepAt(text: string, max: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    } else if (c === 47 /* / */ && text.charCodeAt(i + 1) === 47) {
      while (i < text.length && text.charCodeAt(i) !== 10) i++;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return i;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return undefined;
}

/** Whether a text is within the spec limits (size, depth) that every parse of it relies on. */
export function analysable(text: string): boolean {
  return text.length <= READ_LIMITS.spec && tooDeepAt(text, MAX_SPEC_DEPTH) === undefined;
}

/**
 * The value nodes of every object by key (the last occurrence of a duplicated key, which is the
 * one the parsed value keeps), built in one pass: `at` asks it instead of scanning children, so
 * finding the node of each of n problems costs O(depth), not O(n).
 */
interface TreeIndex {
  at: (path: Array<string | number>) => Node | undefined;
  /** The property node (key and value) of `key` in an object node. */
  property: (object: Node, key: string) => Node | undefined;
}

function indexTree(
  root: Node,
  onDuplicate: (key: Node, first: Node, parent: Node) => void,
  onNumber: (n: Node) => void,
): TreeIndex {
  const properties = new Map<Node, Map<string, Node>>();
  const stack: Node[] = [root];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.type === 'number' && typeof node.value === 'number' && !Number.isFinite(node.value)) onNumber(node);
    if (node.type === 'object') {
      const byKey = new Map<string, Node>();
      for (const property of node.children ?? []) {
        const key = property.children?.[0];
        if (!key || typeof key.value !== 'string') continue;
        const first = byKey.get(key.value);
        if (first) onDuplicate(key, first, node);
        byKey.set(key.value, property);
      }
      properties.set(node, byKey);
    }
    for (const child of node.children ?? []) stack.push(child);
  }
  const property = (object: Node, key: string) => properties.get(object)?.get(key);
  const at = (path: Array<string | number>) => {
    let node: Node | undefined = root;
    for (const part of path) {
      if (!node) return undefined;
      if (typeof part === 'number') node = node.type === 'array' ? node.children?.[part] : undefined;
      else node = node.type === 'object' ? property(node, part)?.children?.[1] : undefined;
    }
    return node;
  };
  return { at, property };
}

/**
 * The value of a parsed tree as plain JSON data: objects with Object's prototype (jsonc-parser's
 * its getNodeValue makes them without one, and a template string of such an object throws), the last
 * occurrence of a duplicated key winning as in JSON.parse. The depth is bounded (MAX_SPEC_DEPTH)
 * before this runs.
 */
function plainValue(node: Node): unknown {
  switch (node.type) {
    case 'object': {
      const object: Record<string, unknown> = {};
      for (const property of node.children ?? []) {
        const [key, value] = property.children ?? [];
        if (key && value && typeof key.value === 'string') {
          Object.defineProperty(object, key.value, {
            value: plainValue(value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      return object;
    }
    case 'array':
      return (node.children ?? []).map(plainValue);
    default:
      return node.value as unknown;
  }
}

/** "an object", "an array", "a number", "null": a value's kind, for messages. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A value as a message quotes it: a scalar as text (cut short), an object or array by its kind. */
function shownValue(node: Node): string {
  if (node.type === 'object') return 'an object';
  if (node.type === 'array') return 'an array';
  return quoted(String(node.value));
}

/** The dotted path of a node ("threat.eps", "attacks[1].loss"), for messages. */
function pathOf(node: Node): string {
  const parts: string[] = [];
  for (let n: Node | undefined = node; n?.parent; n = n.parent) {
    const parent: Node = n.parent;
    if (parent.type === 'property') {
      parts.unshift(`.${quoted(String(parent.children?.[0]?.value))}`);
      n = parent;
    } else if (parent.type === 'array') parts.unshift(`[${parent.children?.indexOf(n) ?? 0}]`);
  }
  return parts.join('').replace(/^\./, '') || 'the spec';
}

export function analyzeSpec(source: string, facts: Facts): Analysis {
  const problems: SpecProblem[] = [];
  if (source.length > READ_LIMITS.spec) {
    return {
      problems: [
        {
          start: 0,
          end: 1,
          severity: 'error',
          code: 'too-large',
          message: `the spec is larger than the ${formatLimit(READ_LIMITS.spec)} limit for an experiment spec; it is not analysed`,
        },
      ],
    };
  }
  // A byte-order mark is accepted: read as a space, so every offset stays where it is.
  const text = source.charCodeAt(0) === 0xfeff ? ` ${source.slice(1)}` : source;
  const deep = tooDeepAt(text, MAX_SPEC_DEPTH);
  if (deep !== undefined) {
    return {
      problems: [
        {
          start: deep,
          end: deep + 1,
          severity: 'error',
          code: 'too-deep',
          message: `the spec nests arrays and objects more than ${MAX_SPEC_DEPTH} deep here; it is not analysed`,
        },
      ],
    };
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  for (const e of errors) {
    problems.push({
      start: e.offset,
      end: e.offset + Math.max(1, e.length),
      severity: 'error',
      code: 'syntax',
      message: `JSON syntax: ${describeParseError(printParseErrorCode(e.error))}`,
    });
  }
  if (!root) {
    if (errors.length === 0)
      problems.push({
        start: 0,
        end: Math.min(1, text.length),
        severity: 'error',
        code: 'syntax',
        message: 'the spec is empty; it needs an object with model, data and threat',
      });
    return { problems };
  }
  const value = plainValue(root);
  if (root.type !== 'object') {
    problems.push({
      ...span(root),
      severity: 'error',
      code: 'schema',
      message: 'a spec is a JSON object with model, data and threat',
    });
    return { problems, root };
  }
  const spec = value as RobustnessSpec;
  const tree = indexTree(
    root,
    (key, first, parent) =>
      problems.push({
        ...span(key),
        severity: 'error',
        code: 'duplicate-key',
        message:
          `duplicate key "${quoted(String(key.value))}" in ${parent === root ? 'the spec' : pathOf(parent)}: ` +
          `it is also at line ${lineOf(text, first.offset)}; JSON keeps only this last one, so remove one of them`,
      }),
    (node) =>
      problems.push({
        ...span(node),
        severity: 'error',
        code: 'not-finite',
        message: `${pathOf(node)}: ${quoted(text.slice(node.offset, node.offset + node.length))} is not a finite number (it overflows a double)`,
      }),
  );
  const at = tree.at;
  const add: Add = (node, severity, code, message, replacement, fixes) => {
    const target = node ?? root;
    problems.push({
      ...(node ? span(target) : { start: root.offset, end: root.offset + 1 }),
      severity,
      code,
      message,
      ...(replacement ? { replacement } : {}),
      ...(fixes?.length ? { fixes } : {}),
    });
  };

  semanticChecks(spec, at, add, facts);
  const report = spec.output && typeof spec.output === 'object' ? spec.output.report : undefined;
  if (typeof report === 'string' && report.length > 0 && facts.output) {
    const problem = facts.output(report);
    if (problem) add(at(['output', 'report']), 'error', 'outside-workspace', problem);
  }
  // Schema problems last, and only where no sharper message already sits on the same node. Each is
  // checked against the problems found so far (few: syntax, semantics) and the spans already listed.
  if (!validate(value)) {
    const sharper = [...problems];
    const listed = new Set<string>();
    const started = Date.now();
    let left = 0;
    for (const e of validate.errors ?? []) {
      if (listed.size >= MAX_SCHEMA_PROBLEMS || Date.now() - started > ANALYSIS_BUDGET_MS) {
        left++;
        continue;
      }
      const mapped = schemaProblem(e, root, tree);
      if (!mapped) continue;
      const key = `${mapped.start}:${mapped.end}`;
      if (listed.has(key) || sharper.some((p) => p.start <= mapped.start && p.end >= mapped.end)) continue;
      listed.add(key);
      problems.push(mapped);
    }
    if (left > 0) {
      problems.push({
        start: root.offset,
        end: root.offset + 1,
        severity: 'error',
        code: 'schema',
        message: `${left} more schema problem${left === 1 ? '' : 's'} not listed (at most ${MAX_SCHEMA_PROBLEMS} are)`,
      });
    }
  }
  problems.sort((a, b) => a.start - b.start || a.end - b.end);
  return { problems, spec, root };
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function span(node: Node): { start: number; end: number } {
  return { start: node.offset, end: node.offset + node.length };
}

function describeParseError(code: string): string {
  return code
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/^invalid symbol$/, 'unexpected character');
}

type At = (path: Array<string | number>) => Node | undefined;
type Add = (
  node: Node | undefined,
  severity: Severity,
  code: string,
  message: string,
  replacement?: string,
  fixes?: SpecFix[],
) => void;

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The data's image shape against the model's input (after the spec's resize and channels), and its label set. */
function checkDataOptions(
  spec: RobustnessSpec,
  id: string,
  data: DataInfo,
  model: ModelInfo | undefined,
  at: At,
  add: Add,
  dataNode: Node | undefined,
): void {
  // As written: the schema's own checks report a value of the wrong type.
  const options: { labels?: unknown; resize?: unknown; channels?: unknown } =
    typeof spec.data === 'object' && spec.data !== null ? spec.data : {};
  const channels = isImageChannels(options.channels) ? options.channels : undefined;
  const conversion = { resize: options.resize === true, ...(channels ? { channels } : {}) };
  const mismatch =
    model?.inputShape &&
    shapeMismatch(data.shape, model.inputShape, conversion, {
      subject: `the ${id} images are`,
      ...(data.kind ? { kind: data.kind } : {}),
      modelName: spec.model,
    });
  if (mismatch) {
    // A data id given as a string becomes the object that converts it (the quick fix).
    const [h, w, c] = model.inputShape!;
    const fitted = {
      id,
      ...(h !== data.shape[0] || w !== data.shape[1] ? { resize: true } : {}),
      ...(c !== (channels ?? data.shape[2]) && isImageChannels(c) ? { channels: c } : {}),
    };
    const fix =
      typeof spec.data === 'string' && mismatch.hint
        ? [{ title: 'Convert the data to the model input', replacement: JSON.stringify(fitted).replace(/,/g, ', ') }]
        : undefined;
    const message = mismatch.hint ? `${mismatch.problem}; ${mismatch.hint}` : mismatch.problem;
    add(dataNode, 'error', 'data-shape', message, undefined, fix);
  }
  if (options.labels === 'coarse' && data.source && data.source !== 'cifar-100') {
    add(
      at(['data', 'labels']),
      'error',
      'data-labels',
      `"coarse" labels are CIFAR-100's; ${id} is ${data.kind ?? 'data'} with one label set (leave "labels" out)`,
    );
  }
  if (options.resize === true && !model?.inputShape && !spec.training) {
    add(
      at(['data', 'resize']),
      'warning',
      'data-resize',
      `"resize" needs the model's input size, which ${spec.model} does not give`,
    );
  }
}

function semanticChecks(spec: RobustnessSpec, at: At, add: Add, facts: Facts): void {
  // --- the model ---------------------------------------------------------------------------
  let model: ModelInfo | undefined;
  if (typeof spec.model === 'string' && spec.model.length > 0) {
    const result = facts.model(spec.model);
    const training = spec.training && typeof spec.training === 'object';
    if ('problem' in result) {
      // A training spec may name the model it will create.
      if (!(result.missing && training)) {
        const hint = result.missing && facts.models ? suggestion(spec.model, facts.models()) : { suffix: '' };
        add(
          at(['model']),
          'error',
          result.missing ? 'model-missing' : 'not-a-model',
          `${result.problem}${hint.suffix}`,
          hint.replacement,
        );
      }
    } else {
      model = result.info;
      if (model.outputActivation === 'softmax') {
        add(
          at(['model']),
          'warning',
          'softmax-output',
          `${spec.model} ends in a softmax: attacks on probabilities saturate and mask gradients (cross-entropy of ` +
            'a confident point is flat). Export the logits (the layer before the softmax) ' +
            'for a trustworthy evaluation.',
        );
      }
    }
  }

  // --- the model's preprocessing (the same checks as the engine's, on the field at fault) ---
  if (spec.preprocess !== undefined) {
    const against = {
      ...(model?.inputShape ? { channels: model.inputShape[2] } : {}),
      ...(model?.classes ? { classes: model.classes } : {}),
    };
    for (const problem of preprocessProblems(spec.preprocess, against)) {
      // An unknown key is the schema's ("did you mean"), on the key.
      if (problem.unknownField) continue;
      // "std[1]" → ['preprocess', 'std', 1]
      const keys = problem.field
        .split(/[[\]]/)
        .filter(Boolean)
        .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
      const where = problem.field ? `preprocess.${problem.field}` : 'preprocess';
      add(at(['preprocess', ...keys]) ?? at(['preprocess']), 'error', 'preprocess', `${where}: ${problem.message}`);
    }
    const block = typeof spec.preprocess === 'object' && spec.preprocess !== null ? spec.preprocess : {};
    const given = (['mean', 'std'] as const).find((f) => block[f] !== undefined);
    if (model?.inputNormalization && given) {
      add(
        at(['preprocess', given]),
        'warning',
        'doubled-normalisation',
        `${spec.model} normalises its own input (${model.inputNormalization}); a preprocess ${given} as well ` +
          'normalises it twice: remove the mean/std',
      );
    }
  }

  // --- the data ----------------------------------------------------------------------------
  const dataNode = typeof spec.data === 'string' ? at(['data']) : at(['data', 'id']);
  let data: DataInfo | undefined;
  if (
    spec.data !== undefined &&
    (typeof spec.data === 'string' ||
      (typeof spec.data === 'object' && spec.data !== null && typeof spec.data.id === 'string'))
  ) {
    const { id, n, offset } = dataOf(spec);
    const info = facts.data(id);
    if ('problem' in info) add(dataNode, 'error', 'data-missing', info.problem);
    else {
      data = info;
      checkDataOptions(spec, id, data, model, at, add, dataNode);
      if (isNumber(n) && isNumber(offset) && n + offset > data.count) {
        add(
          at(['data', 'n']) ?? dataNode,
          'warning',
          'data-count',
          `${id} has ${data.count} test images; offset ${offset} + n ${n} asks for ${n + offset}, ` +
            `so only ${Math.max(0, data.count - offset)} are used`,
        );
      }
    }
  }

  // --- the threat model --------------------------------------------------------------------
  const threat = spec.threat && typeof spec.threat === 'object' ? spec.threat : undefined;
  const bounds =
    Array.isArray(threat?.bounds) && threat.bounds.length === 2 && threat.bounds.every(isNumber)
      ? threat.bounds
      : [0, 1];
  const width = bounds[1]! - bounds[0]!;
  if (width <= 0)
    add(at(['threat', 'bounds']), 'error', 'bounds', `bounds [${bounds.join(', ')}] are empty: lo must be below hi`);
  const eps = isNumber(threat?.eps) ? threat.eps : undefined;
  const norm = threat?.norm;
  const pixels = (model?.inputShape ?? data?.shape)?.reduce((a, b) => a * b, 1);
  const defaultEps = defaultAttackJob().eps;
  if (eps !== undefined) {
    checkEps(eps, norm, width, bounds, pixels, at(['threat', 'eps']), 'threat.eps', add, {
      title: `Use the default ε = ${fmt(defaultEps)}`,
      eps: defaultEps,
    });
  }
  const validEps = eps !== undefined && eps >= 0 ? eps : undefined;
  const trainEps = spec.training && isNumber(spec.training.eps) ? spec.training.eps : undefined;
  if (trainEps !== undefined) {
    // Without its own ε, training uses the threat's.
    const fallback = validEps ? { title: `Use the threat's ε = ${fmt(validEps)}`, eps: validEps } : undefined;
    checkEps(trainEps, 'linf', width, bounds, pixels, at(['training', 'eps']), 'training.eps', add, fallback);
  }

  // --- the attacks -------------------------------------------------------------------------
  const classes = model?.classes;
  const ids = ATTACK_INFO.map((a) => a.id);
  const attacks = Array.isArray(spec.attacks) ? spec.attacks : [];
  attacks.forEach((entry, i) => {
    if (typeof entry !== 'string' && (typeof entry !== 'object' || entry === null || typeof entry.id !== 'string'))
      return;
    const attack = attackOf(entry);
    const idNode = typeof entry === 'string' ? at(['attacks', i]) : at(['attacks', i, 'id']);
    const info = attackInfo(attack.id);
    if (!info) {
      const hint = suggestion(attack.id, ids, (hit) =>
        JSON.stringify(typeof entry === 'string' ? entry.replace(attack.id, hit) : hit),
      );
      add(
        idNode,
        'error',
        'unknown-attack',
        `unknown attack "${attack.id}"${hint.suffix || `; available: ${ids.join(', ')}`}`,
        hint.replacement,
      );
      return;
    }
    if (attack.loss !== undefined && !LOSSES.includes(attack.loss)) {
      add(
        idNode && typeof entry !== 'string' ? at(['attacks', i, 'loss']) : idNode,
        'error',
        'unknown-loss',
        typeof attack.loss === 'string'
          ? `"${quoted(attack.loss)}" is not a loss; use one of ${LOSSES.join(', ')}`
          : `attacks[${i}].loss must be a loss name, one of ${LOSSES.join(', ')}; got ${kindOf(attack.loss)}`,
      );
    }
    if (typeof entry === 'object') {
      for (const key of Object.keys(entry) as Array<keyof typeof entry>) {
        if (key === 'id' || !(SPEC_PARAMS as readonly string[]).includes(key)) continue;
        if (!info.params.includes(key as AttackParam)) {
          add(
            keyNode(at(['attacks', i, key])),
            'warning',
            'unused-parameter',
            `${info.name} takes no ${key}; it is ignored (it takes ${info.params.join(', ') || 'no parameters'})`,
          );
        }
      }
      if (isNumber(entry.steps) && entry.steps < 1)
        add(at(['attacks', i, 'steps']), 'error', 'steps', `steps must be at least 1; got ${fmt(entry.steps)}`);
      if (
        isNumber(entry.stepSize) &&
        validEps !== undefined &&
        entry.stepSize > validEps &&
        info.params.includes('stepSize')
      ) {
        add(
          at(['attacks', i, 'stepSize']),
          'warning',
          'step-size',
          `step size α = ${fmt(entry.stepSize)} is larger than ε = ${fmt(validEps)}: ` +
            `every step leaves the ball and is projected back, so ${info.name} degenerates to a few sign flips; ` +
            'use α ≤ ε (default 2.5·ε/steps)',
        );
      }
    }
    if (classes !== undefined) {
      const loss = attack.loss ?? info.options.loss;
      if (info.minClasses !== undefined && classes < info.minClasses) {
        add(
          idNode,
          'error',
          'dlr-classes',
          `${info.name} needs at least ${info.minClasses} classes (its targeted dlr loss uses the 4th-largest ` +
            `logit); ${spec.model} has ${classes}`,
        );
      } else if (loss === 'dlr' && classes < DLR_MIN_CLASSES) {
        add(
          typeof entry === 'string' ? idNode : (at(['attacks', i, 'loss']) ?? idNode),
          'error',
          'dlr-classes',
          `the dlr loss needs at least ${DLR_MIN_CLASSES} classes (it divides by z_π1 − z_π3); ` +
            `${spec.model} has ${classes}`,
        );
      }
    }
    if (info.id === 'transfer' && !spec.surrogate)
      add(idNode, 'error', 'surrogate', 'the transfer attack needs a "surrogate" model.json to craft its examples on');
  });
  const suite = typeof spec.suite === 'string' && spec.suite in SUITE_TABLE ? spec.suite : undefined;
  const needy =
    suite && classes !== undefined
      ? suiteStages(suite, false)
          .map((stage) => attackInfo(stage.attack))
          .find((info) => info?.minClasses !== undefined && classes < info.minClasses)
      : undefined;
  if (needy) {
    add(
      at(['suite']),
      'error',
      'dlr-classes',
      `the ${suite} suite runs ${needy.name}, which needs at least ${needy.minClasses} classes; ` +
        `${spec.model} has ${classes}`,
    );
  }
  if (spec.attacks !== undefined && typeof spec.suite === 'string' && spec.suite in SUITE_TABLE) {
    add(
      keyNode(at(['attacks'])),
      'error',
      'suite-and-attacks',
      `give "attacks" or "suite", not both: the ${spec.suite} suite runs its own attacks ` +
        `(${SUITE_TABLE[spec.suite].summary}); remove "attacks" to run the suite, or "suite" to run your list`,
    );
  }
  if (!Array.isArray(spec.attacks) && !spec.suite && !spec.training) {
    add(
      undefined,
      'error',
      'nothing-to-run',
      'the spec runs nothing: add "attacks" (e.g. ["fgsm", "pgd"]), a "suite" ("strong") or "training"',
    );
  }
  if (typeof spec.surrogate === 'string' && spec.surrogate.length > 0) {
    const result = facts.model(spec.surrogate);
    if ('problem' in result)
      add(at(['surrogate']), 'error', result.missing ? 'model-missing' : 'not-a-model', result.problem);
  }

  // --- training ----------------------------------------------------------------------------
  const t = spec.training;
  if (t && typeof t === 'object') {
    if (isNumber(t.temperature) && t.temperature <= 1) {
      add(
        at(['training', 'temperature']),
        'error',
        'temperature',
        'distillation needs a temperature T > 1 (Papernot et al. use 100); ' +
          `T = ${fmt(t.temperature)} ` +
          `${t.temperature === 1 ? 'is plain training on soft labels' : 'sharpens instead of softening'}`,
      );
    }
    if (t.temperature !== undefined && t.method !== 'distill' && typeof t.method === 'string') {
      add(
        keyNode(at(['training', 'temperature'])),
        'warning',
        'unused-parameter',
        `temperature is only used by the distill method; ${t.method} ignores it`,
      );
    }
    if (isNumber(t.steps) && t.steps < 1)
      add(at(['training', 'steps']), 'error', 'steps', `steps must be at least 1; got ${fmt(t.steps)}`);
  }
}

function checkEps(
  eps: number,
  norm: unknown,
  width: number,
  bounds: number[],
  pixels: number | undefined,
  node: Node | undefined,
  name: string,
  add: Add,
  fallback?: { title: string; eps: number },
): void {
  if (eps < 0) {
    // The quick fixes: the sign dropped (a radius was meant), and the default; each only if it passes.
    const fits = (candidate: number) =>
      candidate > 0 &&
      (width <= 0 ||
        (norm === 'l2' ? pixels === undefined || candidate <= width * Math.sqrt(pixels) : candidate <= width));
    const fixes: SpecFix[] = [];
    if (fits(-eps)) fixes.push({ title: `Use ε = ${fmt(-eps)}`, replacement: fmt(-eps) });
    if (fallback && fallback.eps !== -eps && fits(fallback.eps))
      fixes.push({ title: fallback.title, replacement: fmt(fallback.eps) });
    add(node, 'error', 'eps-negative', `${name} must be ≥ 0 (it is a radius); got ${fmt(eps)}`, undefined, fixes);
    return;
  }
  if (width <= 0) return;
  if (norm === 'l2') {
    if (pixels !== undefined && eps > width * Math.sqrt(pixels)) {
      add(
        node,
        'error',
        'eps-too-large',
        `${name} = ${fmt(eps)} (L2) exceeds the diameter of the input box, ${fmt(width * Math.sqrt(pixels))} = ` +
          `${fmt(width)}·√${pixels}: every input is reachable, so robust accuracy means nothing`,
      );
    }
  } else if (eps > width) {
    add(
      node,
      'error',
      'eps-too-large',
      `${name} = ${fmt(eps)} exceeds the width of the input box [${bounds.join(', ')}] (${fmt(width)}): ` +
        'every input is reachable, so robust accuracy means nothing',
    );
  }
}

/** The key of a property value node (for "this key is ignored" squiggles). */
function keyNode(value: Node | undefined): Node | undefined {
  return value?.parent?.type === 'property' ? value.parent.children?.[0] : value;
}

/** Maps one ajv error to a problem on the node it is about. */
function schemaProblem(e: ErrorObject, root: Node, tree: TreeIndex): SpecProblem | undefined {
  if (e.keyword === 'if') return undefined;
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const node = path.length ? tree.at(path) : root;
  if (!node) return undefined;
  const where = path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : p))
        .join('.')
        .replace(/\.\[/g, '[')
    : 'the spec';
  const base = { severity: 'error' as const, code: 'schema' };
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      const property = node.type === 'object' ? tree.property(node, name) : undefined;
      const known = Object.keys(schemaAt(path)?.properties ?? {});
      const hint = name.length <= MAX_QUOTED ? suggestion(name, known) : { suffix: '' };
      return {
        ...base,
        ...span(property?.children?.[0] ?? node),
        ...(hint.replacement ? { replacement: hint.replacement } : {}),
        message:
          `unknown property "${quoted(name)}" in ` +
          `${where}${hint.suffix || (known.length ? `; allowed: ${known.join(', ')}` : '')}`,
      };
    }
    case 'required': {
      const name = (e.params as { missingProperty: string }).missingProperty;
      return { ...base, start: node.offset, end: node.offset + 1, message: `${where} is missing "${name}"` };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const v = shownValue(node);
      const hint = suggestion(v, allowed);
      return {
        ...base,
        ...span(node),
        message: `${where}: ${node.type === 'object' || node.type === 'array' ? v : `"${v}"`} is not one of ${allowed.join(', ')}${hint.suffix}`,
        ...(hint.replacement ? { replacement: hint.replacement } : {}),
      };
    }
    case 'pattern':
      return {
        ...base,
        ...span(node),
        message: `${where}: "${shownValue(node)}" is not an attack id (e.g. "pgd" or "pgd:margin")`,
      };
    default:
      return { ...base, ...span(node), message: `${where} ${e.message ?? 'is invalid'}` };
  }
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  $ref?: string;
  else?: SchemaNode;
  then?: SchemaNode;
  enum?: unknown[];
  description?: string;
  markdownDescription?: string;
  type?: string | string[];
}

function deref(node: SchemaNode | undefined): SchemaNode | undefined {
  if (!node?.$ref) return node;
  const name = node.$ref.replace('#/definitions/', '');
  return (schema as { definitions: Record<string, SchemaNode> }).definitions[name];
}

/**
 * The schema of the value at a path; where the schema branches on type (data, attack
 * entries), `objectBranch` picks the object form.
 */
export function schemaAt(path: Array<string | number>, objectBranch = true): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema as SchemaNode;
  for (const part of path) {
    node = deref(node);
    if (node?.else && objectBranch) node = deref(node.else);
    if (!node) return undefined;
    node = typeof part === 'number' ? node.items : node.properties?.[part];
  }
  node = deref(node);
  if (node?.else && objectBranch) return deref(node.else);
  return node;
}
