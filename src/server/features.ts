/**
 * Completion and hover for experiment specs, from the schema and the attack catalogue. Pure:
 * offsets in, LSP-shaped items out (ranges as offsets; the server converts them).
 */
import {
  createScanner,
  findNodeAtLocation,
  findNodeAtOffset,
  getLocation,
  getNodeValue,
  parseTree,
  type Node,
} from 'jsonc-parser';
import { ATTACK_INFO, attackInfo, type AttackInfo } from '../protocol/attacks';
import { BUILTIN_DATA, BUILTIN_DATA_INFO, NORM_LABELS } from '../protocol/vocabulary';
import { analysable, schemaAt } from '../experiment/analysis';
import { modelInputRange, preprocessProblems, resolvePreprocess, type PreprocessFields } from '../protocol/preprocess';
import { modelFormat, type ModelInfo } from '../formats/model-formats';

export type CompletionKind = 'property' | 'value' | 'attack' | 'file' | 'data';

export interface SpecCompletion {
  label: string;
  kind: CompletionKind;
  detail?: string;
  documentation?: string;
  /** Replaces [start, end) with this text. */
  insert: string;
  start: number;
  end: number;
  /**
   * What the editor matches the typed text against: the inserted text without a comma. The range
   * starts at the opening quote, so a bare label ("apgd") would never match a typed "apg.
   */
  filterText: string;
  /** Edits elsewhere (the comma after the previous item), none overlapping [start, end). */
  additionalEdits?: OffsetEdit[];
}

export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
}

export interface CompletionContext {
  /** Workspace model files relative to the spec's folder. */
  models(): string[];
  /** Workspace data folders relative to the spec's folder. */
  dataFolders?(): string[];
}

export function attackMarkdown(info: AttackInfo): string {
  return [
    `**${info.name}** (\`${info.id}\`) · ${info.access}` +
      `${info.norms.length ? ` · ${info.norms.map((n) => NORM_LABELS[n]).join(', ')}` : ''}`,
    '',
    info.doc.paper,
    '',
    '```text',
    info.doc.update,
    '```',
    '',
    `Defaults: ${info.doc.defaults}`,
  ].join('\n');
}

/** "0.1 = 25.5/255 of the [0, 1] range" — ε in pixel levels. */
export function epsMarkdown(
  eps: number,
  norm: string | undefined,
  bounds: [number, number] | undefined,
  pixels?: number,
): string {
  const [lo, hi] = bounds ?? [0, 1];
  const width = hi - lo;
  if (eps < 0) return `**ε = ${eps}** is negative: ε is the radius of the threat model's ball and must be ≥ 0.`;
  if (!(width > 0)) return `**ε = ${eps}**; the bounds [${lo}, ${hi}] are empty, so it has no value in pixel levels.`;
  const levels = (v: number) => `${Number(((v / width) * 255).toFixed(2))}/255`;
  if (norm === 'l2') {
    const lines = [`**ε = ${eps}** (L2 radius on [${lo}, ${hi}] inputs)`];
    if (pixels) {
      lines.push(
        '',
        `Spread evenly over ${pixels} values: ${Number((eps / Math.sqrt(pixels)).toPrecision(3))} each = ` +
          `${levels(eps / Math.sqrt(pixels))} pixel levels.`,
      );
    }
    return lines.join('\n');
  }
  return (
    `**ε = ${eps} = ${levels(eps)}** pixel levels (L∞ on [${lo}, ${hi}]): ` +
    `every value may move by up to ${levels(eps)} of its range.`
  );
}

/** "**smallcnn/model.json** · Layers model · 28×28×1 → 10 classes · linear output" and its last result. */
export function modelMarkdown(relative: string, info: ModelInfo, lastResult?: string): string {
  const shape = info.inputShape
    ? `${info.inputShape.join('×')}${info.classes ? ` → ${info.classes} classes` : ''}`
    : 'input shape unknown';
  const output =
    (info.outputActivation ? ` · ${info.outputActivation} output` : '') +
    (info.inputNormalization ? ` · normalisation inside the model: ${info.inputNormalization}` : '');
  return [
    `**${relative}** · ${modelFormat(info.format).label} · ${shape}${output}`,
    '',
    lastResult
      ? `Last result: ${lastResult.replace(/^\$\([^)]*\) /, '')}`
      : 'No robustness result yet: Run the spec, or attack it from the explorer.',
  ].join('\n');
}

function stringRange(node: Node | undefined, offset: number): { start: number; end: number } {
  if (node && node.type === 'string') return { start: node.offset, end: node.offset + node.length };
  return { start: offset, end: offset };
}

/**
 * Completions at an offset, with the commas the JSON needs around the inserted item: one after
 * the previous item when it has none, and one after the inserted value when another item follows
 * without one; never a second comma where one already is.
 */
export function specCompletions(text: string, offset: number, ctx: CompletionContext): SpecCompletion[] {
  // A spec the analysis refuses (too large, too deep) gets no completions: the parser recurses.
  if (!analysable(text)) return [];
  const items = bareCompletions(text, offset, ctx).map((item) => ({ ...item, filterText: item.insert }));
  if (items.length === 0) return items;
  const { start, end } = items[0]!;
  const { before, after } = neighbours(text, start, end);
  const isKey = getLocation(text, offset).isAtPropertyKey;
  const commaBefore = before !== undefined && VALUE_END.has(before.kind);
  const commaAfter = !isKey && after !== undefined && VALUE_START.has(after);
  if (!commaBefore && !commaAfter) return items;
  return items.map((item) => ({
    ...item,
    ...(commaAfter ? { insert: `${item.insert},` } : {}),
    ...(commaBefore ? { additionalEdits: [{ start: before.end, end: before.end, newText: ',' }] } : {}),
  }));
}

/** jsonc-parser's token kinds (its SyntaxKind is a const enum, which isolated modules cannot read). */
const TOKEN = {
  openBrace: 1,
  closeBrace: 2,
  openBracket: 3,
  closeBracket: 4,
  null: 7,
  true: 8,
  false: 9,
  string: 10,
  number: 11,
  lineComment: 12,
  blockComment: 13,
  lineBreak: 14,
  trivia: 15,
  eof: 17,
} as const;
const VALUE_END = new Set<number>([
  TOKEN.string,
  TOKEN.number,
  TOKEN.true,
  TOKEN.false,
  TOKEN.null,
  TOKEN.closeBrace,
  TOKEN.closeBracket,
]);
const VALUE_START = new Set<number>([
  TOKEN.string,
  TOKEN.number,
  TOKEN.true,
  TOKEN.false,
  TOKEN.null,
  TOKEN.openBrace,
  TOKEN.openBracket,
]);
const TRIVIA = new Set<number>([TOKEN.trivia, TOKEN.lineBreak, TOKEN.lineComment, TOKEN.blockComment]);

/** The last token ending at or before `start` and the first starting at or after `end` (comments skipped). */
function neighbours(
  text: string,
  start: number,
  end: number,
): { before?: { kind: number; end: number }; after?: number } {
  const scanner = createScanner(text, true);
  let before: { kind: number; end: number } | undefined;
  for (let kind: number = scanner.scan(); kind !== TOKEN.eof; kind = scanner.scan()) {
    if (TRIVIA.has(kind)) continue;
    const tokenStart = scanner.getTokenOffset();
    const tokenEnd = tokenStart + scanner.getTokenLength();
    if (tokenEnd <= start) before = { kind, end: tokenEnd };
    else if (tokenStart >= end) return { ...(before ? { before } : {}), after: kind };
  }
  return before ? { before } : {};
}

function bareCompletions(
  text: string,
  offset: number,
  ctx: CompletionContext,
): Array<Omit<SpecCompletion, 'filterText'>> {
  const location = getLocation(text, offset);
  const root = parseTree(text, [], { allowTrailingComma: true });
  const node = root ? findNodeAtOffset(root, offset, true) : undefined;
  const path = location.path;
  if (location.isAtPropertyKey) {
    const parentPath = path.slice(0, -1);
    const schema = schemaAt(parentPath);
    const parent = root && (parentPath.length ? findNodeAtLocation(root, parentPath) : root);
    const existing = new Set(
      (parent?.type === 'object' ? (parent.children ?? []) : []).map((p) => p.children?.[0]?.value as string),
    );
    const range = stringRange(node?.type === 'string' ? node : undefined, offset);
    return Object.entries(schema?.properties ?? {})
      .filter(([key]) => key !== '$schema' && !existing.has(key))
      .map(([key, sub]) => ({
        label: key,
        kind: 'property' as const,
        insert: node?.type === 'string' ? `"${key}"` : `"${key}": `,
        ...range,
        ...(sub.description ? { documentation: sub.description } : {}),
      }));
  }
  const range = stringRange(node, offset);
  const quoted = (s: string) => JSON.stringify(s);
  const last = path[path.length - 1];
  const inAttacks = path[0] === 'attacks' && (path.length === 2 || (path.length === 3 && last === 'id'));
  if (inAttacks) {
    return ATTACK_INFO.map((a) => ({
      label: a.id,
      kind: 'attack' as const,
      detail: `${a.name} · ${a.access}`,
      documentation: attackMarkdown(a),
      insert: quoted(a.id),
      ...range,
    }));
  }
  if (path.length === 1 && (last === 'model' || last === 'surrogate')) {
    return ctx
      .models()
      .map((m) => ({ label: m, kind: 'file' as const, detail: 'tfjs model', insert: quoted(m), ...range }));
  }
  if ((path.length === 1 && last === 'data') || (path.length === 2 && path[0] === 'data' && last === 'id')) {
    return [
      ...BUILTIN_DATA.map((d) => ({
        label: d,
        kind: 'data' as const,
        insert: quoted(d),
        ...range,
        detail: BUILTIN_DATA_INFO[d],
      })),
      ...(ctx.dataFolders?.() ?? []).map((d) => ({
        label: d,
        kind: 'data' as const,
        insert: quoted(d),
        ...range,
        detail: 'data folder in the workspace',
      })),
    ];
  }
  const schema = schemaAt(path, true);
  if (schema?.enum) {
    return schema.enum.map((v) => ({
      label: String(v),
      kind: 'value' as const,
      insert: quoted(String(v)),
      ...range,
      ...(schema.description ? { documentation: schema.description } : {}),
    }));
  }
  if (schema?.type === 'boolean')
    return ['true', 'false'].map((v) => ({ label: v, kind: 'value' as const, insert: v, ...range }));
  return [];
}

export interface SpecHover {
  markdown: string;
  start: number;
  end: number;
}

export interface HoverContext {
  /** Values per image, for L2 ε in pixel levels. */
  pixels?: number;
  /** Markdown about a model path as written in the spec (shape, output, last result). */
  model?(relative: string): string | undefined;
}

export function specHover(text: string, offset: number, ctx: HoverContext = {}): SpecHover | undefined {
  if (!analysable(text)) return undefined;
  const root = parseTree(text, [], { allowTrailingComma: true });
  if (!root) return undefined;
  const node = findNodeAtOffset(root, offset, true);
  if (!node) return undefined;
  const location = getLocation(text, offset);
  const path = location.path;
  const isKey = node.parent?.type === 'property' && node.parent.children?.[0] === node;
  const valueNode = isKey ? node.parent?.children?.[1] : node;
  const span = { start: node.offset, end: node.offset + node.length };
  const spec = getNodeValue(root) as { threat?: { norm?: string; bounds?: [number, number] } } | undefined;

  // An attack id: "pgd", "pgd:margin", or { "id": "pgd" }.
  const inAttacks = path[0] === 'attacks' && (path.length === 2 || (path.length === 3 && path[2] === 'id'));
  if (inAttacks && !isKey && node.type === 'string') {
    const info = attackInfo(String(node.value).split(':')[0] ?? '');
    return info ? { markdown: attackMarkdown(info), ...span } : undefined;
  }
  const last = path[path.length - 1];
  const epsPath =
    (path.length === 2 && path[0] === 'threat' && last === 'eps') ||
    (path.length === 2 && path[0] === 'training' && last === 'eps') ||
    (path[0] === 'attacks' && last === 'stepSize');
  if (epsPath && valueNode?.type === 'number') {
    const norm = path[0] === 'training' ? 'linf' : spec?.threat?.norm;
    const doc = epsMarkdown(valueNode.value as number, norm, spec?.threat?.bounds, ctx.pixels);
    return { markdown: last === 'stepSize' ? doc.replace('**ε = ', '**α = ') : doc, ...span };
  }
  if (!isKey && node.type === 'string' && path.length === 1 && (last === 'model' || last === 'surrogate')) {
    const markdown = ctx.model?.(String(node.value));
    if (markdown) return { markdown, ...span };
  }
  // The preprocessing block: what the model's input then spans, with its description.
  if (isKey && path.length === 1 && last === 'preprocess') {
    const block = (spec as { preprocess?: unknown } | undefined)?.preprocess;
    const bounds = spec?.threat?.bounds ?? [0, 1];
    const description = schemaAt(path, false)?.description ?? '';
    if (preprocessProblems(block).length === 0 && bounds[0] < bounds[1]) {
      const p = resolvePreprocess([{ ...(block as PreprocessFields), source: 'this spec' }], bounds);
      const markdown =
        `\`preprocess\`: ${description}\n\n` +
        `In force: mean [${p.mean.join(', ')}] std [${p.std.join(', ')}] scale [${p.scale.join(', ')}]; ` +
        `the model's input spans ${modelInputRange(p, bounds)} (per channel).`;
      return { markdown, ...span };
    }
  }
  if (isKey) {
    const schema = schemaAt(path, false);
    const description = schema?.markdownDescription ?? schema?.description;
    if (description) return { markdown: `\`${String(last)}\`: ${description}`, ...span };
  }
  return undefined;
}
