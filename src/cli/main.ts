/**
 * robustness-lab: the engine, headless.
 *   robustness-lab attack --model M --data D --attack fgsm,pgd --eps 0.1 --n 1000 --out DIR
 *   robustness-lab curve  --model M --eps 0,0.025,0.05,0.1,0.15,0.2 --out DIR
 *   robustness-lab train  --method standard --epochs 5 --out DIR
 *   robustness-lab check  examples/fashion-mnist/*.robustness.json
 *   robustness-lab run    examples/fashion-mnist/smallcnn.robustness.json --out DIR
 *   robustness-lab bench  --json FILE
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ATTACKS, describeBackend, initBackend, InputError, readTrainJob, runTrainJob } from '../engine';
import {
  CLI_DEFAULT_SAMPLES,
  DEFAULT_ATTACKS,
  DEFAULT_CURVE_ATTACKS,
  DEFAULT_CURVE_GRID,
  DEFAULT_SUITE,
  defaultAttackJob,
  defaultTrainJob,
  DEFAULT_TRAIN_WORKERS_CAP,
  MAX_TRAIN_WORKERS,
  workersLabel,
  type AttackJob,
  type AttackJobSettings,
  type AttackParams,
  dataOptionsField,
  type DataOptions,
  type TrainJob,
} from '../protocol/jobs';
import {
  DEFAULT_AWP_GAMMA,
  DEFAULT_EMA_DECAY,
  DEFAULT_TRAIN_EPS,
  DEFAULT_VALIDATION_IMAGES,
  defaultLearningRate,
  isAdversarialMethod,
  ROBUST_EVAL_IMAGES,
  savedWeightsText,
  SGD_LEARNING_RATE,
  TRAIN_METHOD_DEFAULTS,
} from '../protocol/training';
import { MODEL_FILE_NAMES, TFJS_MODEL_FILE } from '../protocol/model-files';
import { attackInfo, SPEC_PARAMS, type AttackParam } from '../protocol/attacks';
import {
  BACKEND_CHOICES,
  BUILTIN_DATA,
  DATA_LABEL_SETS,
  IMAGE_CHANNELS,
  LOSSES,
  NORM_LABELS,
  NORMS,
  OPTIMIZERS,
  SCHEDULES,
  SUITES,
  TRAIN_METHODS,
  type BackendChoice,
  type LossId,
  type NormId,
  type OptimizerId,
  type ScheduleId,
  type SuiteId,
  type TrainMethod,
} from '../protocol/vocabulary';
import { attackSkipped, maskingAdvice, SKIPPED_ALL_FOOLED, stageLine, SUITE_TABLE } from '../protocol/suites';
import { duration, pct } from '../protocol/format';
import { VERSION } from '../protocol/report';
import { datasetLabel, preprocessText } from '../protocol/report-text';
import type { PreprocessLayer } from '../protocol/preprocess';
import { checkPreprocessLayer } from '../engine/preprocess';
import type { Report } from '../protocol/report';
import type { FinishedStage } from '../protocol/messages/worker';
import {
  clusterOptions,
  runAttackWhere,
  runTrainSweep,
  trainClusterOptions,
  workerCommand,
  type ClusterCliOptions,
} from './cluster';
import { threadPeers } from '../worker/train-pool';
import { runBench, type BenchOptions } from './bench';
import { makeProgress } from './progress';
import { writeReport } from '../store/report-files';
import { formatTable } from './table';
import { ciText } from '../protocol/stats';
import { compareReports } from '../store/compare';
import { specAttackJob, type RobustnessSpec } from '../protocol/experiment-spec';
import { analyzeSpec, type Facts, type SpecProblem } from '../experiment/analysis';
import { WorkspaceIndex } from '../experiment/workspace';
import { withInputErrors } from '../engine/errors';
import { readTextBounded } from '../formats/file-read';

/**
 * The option parsers: one rule for every option value. A bad value is a usage error: commander
 * prints one line naming the option and the problem, and main() exits 2 (no help dump).
 */
const number =
  (name: string) =>
  (value: string): number => {
    const v = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${name} must be a finite number, got "${value}"`);
    return v;
  };
const integer =
  (name: string, min: number) =>
  (value: string): number => {
    const v = value.trim() === '' ? NaN : Number(value);
    if (!Number.isSafeInteger(v) || v < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${value}"`);
    return v;
  };
const numberList =
  (name: string) =>
  (value: string): number[] =>
    value.split(',').map((s) => number(name)(s.trim()));

/** The model's preprocessing and output (README "Preprocessing"): attack, evaluate, curve, run and train. */
const PREPROCESS_OPTIONS = {
  scale: () =>
    new Option(
      '--scale <lo,hi>',
      "the model's input range; the data's bounds map onto it (e.g. 0,255 or -1,1)",
    ).argParser(numberList('--scale')),
  mean: () =>
    new Option('--mean <m,...>', 'per-channel mean subtracted after --scale (one value, or one per channel)').argParser(
      numberList('--mean'),
    ),
  std: () =>
    new Option('--std <s,...>', 'per-channel std divided after --mean (one value, or one per channel)').argParser(
      numberList('--std'),
    ),
  output: () => new Option('--output <name>', 'the model output to use as logits (for a graph with several)'),
};

interface PreprocessCliOptions {
  scale?: number[];
  mean?: number[];
  std?: number[];
  output?: string;
}

/** The options as the job's first preprocessing sources (over a spec's block and the sidecar), each checked. */
function cliPreprocess(o: PreprocessCliOptions): { preprocess?: PreprocessLayer[]; output?: string } {
  const layers: PreprocessLayer[] = [];
  if (o.scale) layers.push({ source: '--scale', scale: o.scale as [number, number] });
  if (o.mean) layers.push({ source: '--mean', mean: o.mean });
  if (o.std) layers.push({ source: '--std', std: o.std });
  for (const layer of layers) checkPreprocessLayer(layer);
  return { ...(layers.length ? { preprocess: layers } : {}), ...(o.output ? { output: o.output } : {}) };
}

function backendOption(): Option {
  return new Option('--backend <name>', 'tensor backend').choices(BACKEND_CHOICES).default('auto');
}

/** The --data help: the built-in ids, or a folder. */
const DATA_HELP = `${BUILTIN_DATA.join(' | ')} | a data folder (IDX, NumPy, CIFAR binary, image folder)`;
/** The data options of a command that reads data; --resize only where there is a model to resize to. */
function dataOptionFlags(cmd: Command, withResize = true): Command {
  cmd.addOption(
    new Option('--labels <set>', "CIFAR-100's label set: fine (100 classes) or coarse (20 superclasses)").choices(
      DATA_LABEL_SETS,
    ),
  );
  if (withResize) {
    cmd.option(
      '--resize',
      "resize images to the model's input size (bilinear, half-pixel centres: tf.image.resizeBilinear) " +
        'instead of refusing another size',
    );
  }
  return cmd.addOption(
    new Option(
      '--channels <n>',
      `convert images to N channels (${IMAGE_CHANNELS.join(' or ')}): 3 replicates grey, 1 is the ITU-R BT.601 luma of RGB`,
    ).argParser((value) => {
      const channels = IMAGE_CHANNELS.find((c) => String(c) === value);
      if (channels === undefined) {
        throw new InvalidArgumentError(`--channels must be ${IMAGE_CHANNELS.join(' or ')}, got "${value}"`);
      }
      return channels;
    }),
  );
}

/** A model file as the help names it: "model.json". */
const MODEL_FILE = MODEL_FILE_NAMES.join('|');

function attackOptions(cmd: Command): Command {
  const defaults = defaultAttackJob();
  clusterOptions(cmd);
  return dataOptionFlags(
    cmd
      .requiredOption(`--model <${MODEL_FILE}>`, `tfjs Layers or Graph model (${MODEL_FILE})`)
      .option('--data <data>', DATA_HELP, defaults.data),
  )
    .addOption(new Option('--norm <norm>', 'threat model norm').choices(NORMS).default(defaults.norm))
    .option(
      '--steps <n>',
      'iterations of iterative attacks; unset, an attack with its own default keeps it (apgd, fab: 100; pgd: 10)',
      integer('--steps', 1),
      defaults.steps,
    )
    .option('--step-size <alpha>', 'absolute step size α (default 2.5·ε/steps)', number('--step-size'))
    .option('--restarts <n>', 'random restarts, on surviving samples only', integer('--restarts', 1), defaults.restarts)
    .addOption(
      new Option(
        '--loss <loss>',
        "loss maximised by gradient attacks (default: each attack's own, ce for most)",
      ).choices(LOSSES),
    )
    .option('--no-random-start', 'start iterative attacks at x instead of a random point of the ball')
    .option(
      '--eot <k>',
      'PGD, APGD: average loss and gradient over k passes per step (EOT, for randomised models)',
      integer('--eot', 1),
    )
    .option('--n <n>', 'first N test images, in file order', integer('--n', 1), CLI_DEFAULT_SAMPLES)
    .option('--batch-size <n>', 'images per batch', integer('--batch-size', 1), defaults.batchSize)
    .option('--seed <n>', 'seed for random starts', integer('--seed', 0), defaults.seed)
    .option('--examples <n>', 'image rows kept for the report grid', integer('--examples', 0), defaults.examples)
    .option('--bounds <lo,hi>', 'valid input range', numberList('--bounds'), [...defaults.bounds])
    .option('--out <dir>', 'write report.json and report.html here')
    .option('--json', 'print report.json to stdout instead of the table')
    .option(
      '--workers <n>',
      'worker threads to split the images across (default: one per core, at most 2)',
      integer('--workers', 1),
      Math.min(2, os.availableParallelism()),
    )
    .option(
      '--min-robust <acc>',
      'exit with code 3 when the worst-case robust accuracy is below this',
      number('--min-robust'),
    )
    .option('--queries <n>', 'query budget of the Square attack', integer('--queries', 1))
    .option(`--surrogate <${MODEL_FILE}>`, 'surrogate model the transfer attack crafts its examples on')
    .option('--diagnostics', 'also run the gradient-masking probes and the geometry probe (always on with evaluate)')
    .option('--layer <name>', 'hidden layer of the representation constant C (default: the last hidden layer)')
    .addOption(PREPROCESS_OPTIONS.scale())
    .addOption(PREPROCESS_OPTIONS.mean())
    .addOption(PREPROCESS_OPTIONS.std())
    .addOption(PREPROCESS_OPTIONS.output())
    .addOption(backendOption());
}

interface AttackCliOptions extends DataOptions, PreprocessCliOptions {
  model: string;
  data: string;
  norm: NormId;
  steps: number;
  stepSize?: number;
  restarts: number;
  loss?: LossId;
  randomStart: boolean;
  n: number;
  batchSize: number;
  seed: number;
  examples: number;
  bounds: number[];
  out?: string;
  json?: boolean;
  minRobust?: number;
  backend: BackendChoice;
  workers: number;
  queries?: number;
  eot?: number;
  surrogate?: string;
  diagnostics?: boolean;
  suite?: SuiteId;
  layer?: string;
  /** The attack parameters the user did not set (commander's option source "default"): see ownDefaults. */
  defaulted?: AttackParam[];
}

/**
 * An attack's own defaults win unless the user set the option (issue 14): a job-wide parameter the
 * CLI only defaulted (--steps 10, --restarts 1, random starts on) is replaced, for each attack of the
 * list whose catalogue default differs, by that default in the attack's params (APGD's and FAB's 100
 * steps, the transfer attack's 20). A value the user typed applies to every attack that takes it.
 * Undefined when no attack needs an override (the job then runs exactly as its job-wide settings say).
 */
export function ownDefaults(
  attacks: readonly string[],
  settings: Pick<AttackJobSettings, AttackParam>,
  defaulted: readonly AttackParam[],
): AttackParams[] | undefined {
  const params = attacks.map((spec) => {
    const options: Record<string, unknown> = attackInfo(spec.split(':')[0]!)?.options ?? {};
    const own: Record<string, unknown> = {};
    for (const name of defaulted) {
      const value = options[name];
      if (value !== null && value !== undefined && value !== settings[name]) own[name] = value;
    }
    return own as AttackParams;
  });
  return params.some((p) => Object.keys(p).length > 0) ? params : undefined;
}

/** What a command runs: a list of attacks (attack, curve) or a suite (evaluate), never both. */
type AttackChoice = { attacks: string[] } | { suite: SuiteId };

function toJob(o: AttackCliOptions, choice: AttackChoice, eps: number, curve: number[]): AttackJob {
  if (o.bounds.length !== 2) throw new InputError('--bounds', '', `needs two numbers lo,hi, got ${o.bounds.length}`);
  if (!(o.bounds[0]! < o.bounds[1]!)) {
    throw new InputError('--bounds', '', `${o.bounds.join(',')} is not a range: lo must be below hi (e.g. 0,1)`);
  }
  const settings: AttackJobSettings = {
    model: path.resolve(o.model),
    data: o.data,
    ...dataOptionsField(o),
    norm: o.norm,
    eps,
    steps: o.steps,
    restarts: o.restarts,
    ...(o.loss ? { loss: o.loss } : {}),
    randomStart: o.randomStart,
    n: o.n,
    batchSize: o.batchSize,
    seed: o.seed,
    curve,
    examples: o.examples,
    bounds: o.bounds as [number, number],
    ...(o.stepSize !== undefined ? { stepSize: o.stepSize } : {}),
    ...(o.queries !== undefined ? { queries: o.queries } : {}),
    ...(o.eot !== undefined ? { eot: o.eot } : {}),
    ...(o.surrogate ? { surrogate: path.resolve(o.surrogate) } : {}),
    ...(o.diagnostics ? { diagnostics: true } : {}),
    ...(o.layer ? { layer: o.layer } : {}),
    ...cliPreprocess(o),
  };
  if ('suite' in choice) return { ...settings, ...choice };
  const params = ownDefaults(choice.attacks, settings, o.defaulted ?? []);
  return { ...settings, ...choice, ...(params ? { params } : {}) };
}

/** A path under the working directory, relative to it (the CLI's "workspace"); undefined elsewhere. */
function underCwd(absolute: string): string | undefined {
  const relative = path.relative(process.cwd(), absolute);
  return relative.startsWith('..') || path.isAbsolute(relative) ? undefined : relative;
}

export function summaryTable(report: Report): string {
  // The 95% Wilson interval of each accuracy over the report's n images (src/protocol/stats.ts).
  const ci = (accuracy: number) => ciText(accuracy, report.n);
  const rows = [
    ['clean', pct(report.clean_accuracy), ci(report.clean_accuracy), '', '', ''],
    ...report.attacks.map((a) =>
      attackSkipped(a)
        ? [a.label, pct(a.robust_accuracy), ci(a.robust_accuracy), SKIPPED_ALL_FOOLED, '', '']
        : [
            a.label,
            pct(a.robust_accuracy),
            ci(a.robust_accuracy),
            a.time_s.toFixed(2),
            String(a.forward_passes),
            String(a.backward_passes),
          ],
    ),
    ['worst case', pct(report.robust_accuracy), ci(report.robust_accuracy), '', '', ''],
  ];
  const head =
    `${report.model}\n${datasetLabel(report.dataset, underCwd)} · n=${report.n} · ` +
    `${NORM_LABELS[report.threat.norm]} ε=${report.threat.eps}` +
    ` · backend ${report.backend}${report.workers > 1 ? ` × ${report.workers} workers` : ''}` +
    (preprocessText(report) ? `\n${preprocessText(report)}` : '') +
    (report.suite ? `\nsuite ${report.suite}: each attack on the points still robust; accuracy after each stage` : '') +
    (report.partial
      ? `\nPARTIAL: cancelled after ${report.partial.cancelled_after} ` +
        `(${report.partial.stages_done} of ${report.partial.stages_total} stages)`
      : '');
  const curves = report.curves.map(
    (c) => `curve ${c.attack}: ${c.points.map((p) => `ε=${p.eps} ${pct(p.accuracy)}`).join(' · ')}`,
  );
  const masking = report.diagnostics.some((d) => d.masking)
    ? [
        `GRADIENT MASKING: the diagnostics below say the gradients mislead attacks. ${maskingAdvice(report.suite, report.diagnostics)}`,
      ]
    : [];
  const diagnostics = report.diagnostics.map((d) => `${d.severity}: ${d.id}: ${d.message}`);
  const checks = report.checks
    ? [
        `final check: max ‖x'−x‖/ε ${report.checks.max_distance_over_eps.toFixed(4)}, ` +
          `in bounds ${report.checks.in_bounds ? 'yes' : 'NO'}, finite ${report.checks.finite ? 'yes' : 'NO'}`,
      ]
    : [];
  // Table cells are bare numbers under a header with the unit (README shows this table).
  const columns = [
    report.cascade ? 'stage' : 'attack',
    report.cascade ? 'accuracy after' : 'accuracy',
    '95% CI',
    'time s',
    'forward',
    'backward',
  ];
  return [head, formatTable(columns, rows), ...curves, ...checks, ...masking, ...diagnostics].join('\n');
}

type RunOptions = Pick<AttackCliOptions, 'out' | 'json' | 'minRobust' | 'backend' | 'workers'> &
  ClusterCliOptions & {
    /** --workers was given (not its default): a cap is then worth a note. */
    workersGiven?: boolean;
    /** Where `out` came from, for its errors (default --out). */
    outSource?: string;
  };

async function attackCommand(
  o: AttackCliOptions,
  choice: AttackChoice,
  eps: number,
  curve: number[],
  command: string,
): Promise<void> {
  await runJob(toJob(o, choice, eps, curve), o, command);
}

/** Problems of a spec as a compiler prints them: file:line:col: severity: message [code]. */
function formatProblems(file: string, text: string, problems: SpecProblem[]): string {
  const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)];
  return problems
    .map((p) => {
      let line = 0;
      while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= p.start) line++;
      return `${file}:${line + 1}:${p.start - lineStarts[line]! + 1}: ${p.severity}: ${p.message} [${p.code}]`;
    })
    .join('\n');
}

/**
 * What a spec may read and write from the CLI: the current folder and the spec's own folder (symlinks
 * resolved); data elsewhere only through --data-root.
 */
function cliFacts(file: string, dataRoots: string[]): Facts {
  const roots = [process.cwd(), path.dirname(file)];
  return new WorkspaceIndex(
    [process.cwd()],
    dataRoots.map((d) => path.resolve(d)),
  ).factsFor(file, roots);
}

/** Checks spec files with the language server's analysis; exit code 1 when any has an error. */
function checkSpecs(files: string[], dataRoots: string[] = []): { spec: RobustnessSpec; file: string }[] {
  const checked: { spec: RobustnessSpec; file: string }[] = [];
  for (const given of files) {
    const file = path.resolve(given);
    const text = withInputErrors(() => readTextBounded(file, 'spec'));
    const { problems, spec } = analyzeSpec(text, cliFacts(file, dataRoots));
    if (problems.length) process.stderr.write(`${formatProblems(given, text, problems)}\n`);
    const errors = problems.filter((p) => p.severity === 'error').length;
    if (errors || !spec) process.exitCode = 1;
    else checked.push({ spec, file });
  }
  return checked;
}

/** Training's default worker count: one per core, at most DEFAULT_TRAIN_WORKERS_CAP. */
function defaultTrainWorkers(): number {
  return Math.max(1, Math.min(DEFAULT_TRAIN_WORKERS_CAP, os.availableParallelism()));
}

/**
 * A run folder's job, to resume: it keeps the worker count it started with (a run is exact for a
 * given count); asking for another is refused, naming train.json.
 */
function resumedTrainJob(dir: string, workers: number | undefined): TrainJob {
  const job = readTrainJob(dir);
  const recorded = job.workers ?? 1;
  if (workers !== undefined && workers !== recorded) {
    throw new InputError(
      path.join(dir, 'train.json'),
      'config.workers',
      `is ${recorded}: a run resumes on the ${workersLabel(recorded)} it started with ` +
        `(its weights are exact for a given count); drop --workers ${workers}`,
    );
  }
  return job;
}

/**
 * The report folder, checked before any work: it must be a folder (or not exist yet) under folders
 * only, and writable, so a run is never lost to a bad --out after the attack.
 */
export function checkOutDir(out: string, option = '--out'): void {
  const dir = path.resolve(out);
  let existing = dir;
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(existing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a part of the path is a file; the walk up finds which.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new InputError(option, '', `${out} cannot be checked: ${code ?? 'error'}`);
    }
    if (stat) {
      if (!stat.isDirectory()) {
        throw new InputError(
          option,
          '',
          existing === dir ? `${out} is a file, not a folder` : `${out} lies under ${existing}, which is a file`,
        );
      }
      break;
    }
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new InputError(option, '', `${existing === dir ? out : existing} is not writable`);
  }
}

/** Images a worker must have for its start-up (~0.5 s: bundle, wasm, data) to pay off. */
export const MIN_IMAGES_PER_WORKER = 100;

/**
 * The attack workers that help: at most one per core and one per MIN_IMAGES_PER_WORKER images
 * (and 1 on the stock wasm backend); a note says why when fewer than asked run.
 */
export function attackWorkers(
  requested: number,
  n: number,
  cores: number,
  backend: BackendChoice,
): { workers: number; note?: string } {
  if (backend === 'wasm-stock') return { workers: 1 };
  const byImages = Math.max(1, Math.floor(n / MIN_IMAGES_PER_WORKER));
  const workers = Math.max(1, Math.min(requested, cores, byImages));
  if (workers >= requested) return { workers };
  const limits = [
    ...(cores < requested ? [`${cores} core${cores === 1 ? '' : 's'}`] : []),
    ...(byImages < requested ? [`${n} images (at least ${MIN_IMAGES_PER_WORKER} a worker)`] : []),
  ];
  return { workers, note: `--workers ${requested} capped at ${workers}: ${limits.join(', ')}` };
}

async function runJob(job: AttackJob, o: RunOptions, command: string): Promise<void> {
  if (o.out) checkOutDir(o.out, o.outSource);
  const backend = await initBackend(o.backend);
  backend.notes.forEach((n) => process.stderr.write(`note: ${n}\n`));
  const progress = makeProgress(process.stderr, Boolean(o.json));
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  let report: Report;
  const onProgress = (p: { label: string; done: number; total: number }) => progress.update(p.label, p.done, p.total);
  // Each stage's line as it finishes (stderr, like the progress); the table follows at the end.
  const onStage = (stage: FinishedStage) => progress.note(stageLine(stage));
  // Small jobs are not worth a worker's start-up; more workers than cores only contend.
  const { workers, note } = attackWorkers(o.workers, job.n, os.availableParallelism(), o.backend);
  if (note && o.workersGiven) process.stderr.write(`note: ${note}\n`);
  try {
    report = await runAttackWhere(job, { ...o, workers }, command, {
      script: path.join(__dirname, 'worker.js'),
      backend: backend.name,
      signal: controller.signal,
      onProgress,
      onStage,
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
      onLog: (level, message) => {
        if (level !== 'info') process.stderr.write(`${level}: ${message}\n`);
      },
    });
    report.command = command;
  } finally {
    progress.stop();
  }
  if (o.out) {
    const files = writeReport(path.resolve(o.out), report);
    process.stderr.write(`wrote ${files.json}\nwrote ${files.html}\n`);
  }
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${summaryTable(report)}\n`);
  if (o.minRobust !== undefined && report.robust_accuracy < o.minRobust) {
    process.stderr.write(`robust accuracy ${pct(report.robust_accuracy)} is below --min-robust ${pct(o.minRobust)}\n`);
    process.exitCode = 3;
  }
}

const attackList = (ids: string): string[] => ids.split(',').map((id) => id.trim());
/** Every concrete backend ('auto' picks one of them). */
const BENCH_BACKENDS = BACKEND_CHOICES.filter((choice) => choice !== 'auto').join(',');

export function buildProgram(): Command {
  const program = new Command('robustness-lab')
    .version(VERSION)
    .description('Adversarial-robustness experiments on tfjs models: attacks, curves, training.')
    // A usage error (a bad option value, an unknown option, a missing argument) is one line on
    // stderr naming the option and the problem, and exit code 2: main() turns commander's exit
    // into the code. Subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(`${message.trimEnd().replace(/\n+/g, ' ')}\n`) });
  // Whether --workers was given rather than defaulted: a cap below it is then worth a note.
  program.hook('preAction', (_program, action) => {
    if (action.getOptionValueSource('workers') === 'cli') action.setOptionValue('workersGiven', true);
    // The commands of attackOptions: which attack parameters were left at the CLI's default (ownDefaults).
    if (action.options.some((opt) => opt.attributeName() === 'restarts')) {
      const defaulted = SPEC_PARAMS.filter((name) => action.getOptionValueSource(name) === 'default');
      action.setOptionValue('defaulted', defaulted);
    }
  });

  const attackHelp = ATTACKS.map(
    (a) => `  ${a.id.padEnd(8)} ${a.doc.paper}\n           ${a.doc.update}\n           defaults: ${a.doc.defaults}`,
  ).join('\n');
  attackOptions(program.command('attack').description('attack a model and report robust accuracy'))
    .option(
      '--attack <ids>',
      `comma-separated attacks: ${ATTACKS.map((a) => a.id).join(', ')}`,
      DEFAULT_ATTACKS.join(','),
    )
    .option('--eps <eps>', 'radius ε of the threat model', number('--eps'), defaultAttackJob().eps)
    .option('--curve <grid>', 'also draw accuracy vs ε over this comma-separated grid', numberList('--curve'), [])
    .addHelpText('after', `\nAttacks:\n${attackHelp}`)
    .action(async (o: AttackCliOptions & { attack: string; eps: number; curve: number[] }) =>
      attackCommand(o, { attacks: attackList(o.attack) }, o.eps, o.curve, `attack ${process.argv.slice(3).join(' ')}`),
    );

  attackOptions(
    program.command('evaluate').description('run an attack suite AutoAttack-style, with gradient-masking diagnostics'),
  )
    .addOption(
      new Option('--suite <suite>', SUITES.map((id) => `${id}: ${SUITE_TABLE[id].summary}`).join('; '))
        .choices(SUITES)
        .default(DEFAULT_SUITE),
    )
    // Refused rather than unknown: a suite fixes its attacks, as AutoAttack refuses a version
    // that contradicts its attack list.
    .addOption(new Option('--attack <ids>').hideHelp())
    .option('--eps <eps>', 'radius ε of the threat model', number('--eps'), defaultAttackJob().eps)
    .option(
      '--curve <grid>',
      "also draw accuracy vs ε (under the suite's gradient attacks, in cascade) over this grid",
      numberList('--curve'),
      [],
    )
    .action(async (o: AttackCliOptions & { suite: SuiteId; attack?: string; eps: number; curve: number[] }) => {
      if (o.attack !== undefined) {
        throw new InputError(
          'evaluate',
          '--attack',
          `cannot be combined with --suite: the ${o.suite} suite runs ${SUITE_TABLE[o.suite].summary}; ` +
            'use "robustness-lab attack --attack …" for a list of your own',
        );
      }
      await attackCommand(o, { suite: o.suite }, o.eps, o.curve, `evaluate ${process.argv.slice(3).join(' ')}`);
    });

  attackOptions(program.command('curve').description('accuracy vs ε over a grid'))
    .option('--attack <ids>', 'comma-separated attacks', DEFAULT_CURVE_ATTACKS.join(','))
    .option('--eps <grid>', "comma-separated ε grid; the report's threat uses the largest", numberList('--eps'), [
      ...DEFAULT_CURVE_GRID,
    ])
    .action(async (o: AttackCliOptions & { attack: string; eps: number[] }) =>
      attackCommand(
        o,
        { attacks: attackList(o.attack) },
        o.eps.reduce((max, eps) => Math.max(max, eps), 0),
        o.eps,
        `curve ${process.argv.slice(3).join(' ')}`,
      ),
    );

  const trainDefaults = defaultTrainJob();
  const { 'pgd-at': pgdAt, trades, distill } = TRAIN_METHOD_DEFAULTS;
  dataOptionFlags(
    trainClusterOptions(program.command('train'))
      .description(
        'train the example network (conv16-conv32-fc100-fc10), or fine-tune a model (--init: model.json or .onnx), standard or adversarially',
      )
      .addOption(
        new Option('--method <method>', 'training method').choices(TRAIN_METHODS).default(trainDefaults.method),
      )
      .option('--data <data>', DATA_HELP, trainDefaults.data),
    false,
  )
    .option('--epochs <n>', 'epochs', integer('--epochs', 1), trainDefaults.epochs)
    .option('--batch-size <n>', 'batch size', integer('--batch-size', 1), trainDefaults.batchSize)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS).default(trainDefaults.optimizer))
    .option(
      '--lr <rate>',
      `peak learning rate (default ${defaultLearningRate('standard')}; ` +
        `${defaultLearningRate('distill')} for distill, whose logits must grow T-fold; ${SGD_LEARNING_RATE} with sgd)`,
      number('--lr'),
    )
    .addOption(
      new Option('--schedule <name>', 'learning-rate schedule (fast-at defaults to cyclic)').choices(SCHEDULES),
    )
    .option('--weight-decay <lambda>', 'L2 penalty on kernels', number('--weight-decay'))
    .option('--eps <eps>', 'training radius (L∞) of pgd-at, fast-at and trades', number('--eps'), DEFAULT_TRAIN_EPS)
    .option(
      '--steps <n>',
      `inner PGD steps of pgd-at (${pgdAt.steps}) and trades (${trades.steps})`,
      integer('--steps', 1),
    )
    .option('--warmup <epochs>', 'epochs of linear ε warm-up (pgd-at, trades)', integer('--warmup', 0))
    .option('--beta <beta>', 'TRADES KL weight', number('--beta'), trades.beta)
    .option(
      '--adv-fraction <f>',
      'pgd-at and fast-at: attack this fraction of each batch and train on the rest clean ' +
        '(mixed batches, Goodfellow et al. 2015; the published PGD-AT models of Croce et al. 2019 use 0.5) (default 1)',
      number('--adv-fraction'),
    )
    .option('--temperature <T>', 'distillation temperature', number('--temperature'), distill.temperature)
    .option(
      '--robust-eval <n>',
      'PGD-10 robust accuracy on the last N test images (held out from --n evaluations) ' +
        `after each epoch (default ${ROBUST_EVAL_IMAGES} for pgd-at, fast-at and trades; 0 for the others)`,
      integer('--robust-eval', 0),
    )
    .option(
      '--ema [decay]',
      `weight averaging: an EMA of the weights (decay in (0, 1), default ${DEFAULT_EMA_DECAY}, warmed up as ` +
        'min(decay, (1+t)/(10+t))), evaluated each epoch beside the raw weights and saved instead of them',
      number('--ema'),
    )
    .option(
      '--awp [gamma]',
      `adversarial weight perturbation (Wu et al. 2020) of pgd-at and trades: relative size γ per layer ` +
        `(default ${DEFAULT_AWP_GAMMA})`,
      number('--awp'),
    )
    .option('--awp-warmup <epochs>', 'epochs trained without AWP first', integer('--awp-warmup', 0))
    .option(
      '--val <n>',
      'hold out the last N training images for robust validation (clean and PGD-10 each epoch) ' +
        `(default ${DEFAULT_VALIDATION_IMAGES} with --early-stop)`,
      integer('--val', 1),
    )
    .option(
      '--early-stop',
      "save the epoch with the best robust validation accuracy (the EMA's with --ema), not the last (Rice et al. 2020)",
    )
    .option(
      '--patience <epochs>',
      'with --early-stop: stop after N epochs without a better one',
      integer('--patience', 1),
    )
    .option('--seed <n>', 'seed for initialisation, shuffling and attacks', integer('--seed', 0), trainDefaults.seed)
    .option('--n-train <n>', 'use only the first N training images', integer('--n-train', 1))
    .option('--out <dir>', `run folder: ${TFJS_MODEL_FILE} + weights.bin, train.json, metrics.jsonl, checkpoints/`)
    .option('--resume <dir>', 'continue the run in this folder from its last checkpoint')
    .addOption(PREPROCESS_OPTIONS.scale())
    .addOption(PREPROCESS_OPTIONS.mean())
    .addOption(PREPROCESS_OPTIONS.std())
    .option(
      '--init <model>',
      'start from this model: a Layers model.json, or an .onnx (fine-tuned; written back as model.onnx)',
    )
    .addOption(backendOption())
    .option(
      '--workers <n>',
      'worker threads one batch is split across, their gradients summed ' +
        `(default: the cores, at most ${DEFAULT_TRAIN_WORKERS_CAP}; a resumed run keeps its count)`,
      integer('--workers', 1),
    )
    .action(
      async (o: {
        method: TrainMethod;
        data: string;
        labels?: DataOptions['labels'];
        channels?: DataOptions['channels'];
        epochs: number;
        batchSize: number;
        optimizer: OptimizerId;
        lr?: number;
        redis?: string;
        sweep?: string;
        runStore?: boolean;
        schedule?: ScheduleId;
        weightDecay?: number;
        eps: number;
        steps?: number;
        warmup: number;
        beta: number;
        advFraction?: number;
        temperature: number;
        robustEval?: number;
        ema?: number | true;
        awp?: number | true;
        awpWarmup?: number;
        val?: number;
        earlyStop?: boolean;
        patience?: number;
        seed: number;
        nTrain?: number;
        out?: string;
        resume?: string;
        init?: string;
        backend: BackendChoice;
        workers?: number;
        scale?: number[];
        mean?: number[];
        std?: number[];
      }) => {
        if (!o.out && !o.resume) throw new InputError('train', '--out', 'is required (or --resume DIR)');
        if (o.out && !o.resume) checkOutDir(o.out);
        const backend = await initBackend(o.backend);
        if (o.workers !== undefined && o.workers > MAX_TRAIN_WORKERS)
          throw new InputError('train', '--workers', `${o.workers} is too many; at most ${MAX_TRAIN_WORKERS}`);
        const job: TrainJob = o.resume
          ? resumedTrainJob(path.resolve(o.resume), o.workers)
          : {
              method: o.method,
              data: o.data,
              ...dataOptionsField(o),
              epochs: o.epochs,
              batchSize: o.batchSize,
              optimizer: o.optimizer,
              learningRate: o.lr ?? defaultLearningRate(o.method, o.optimizer),
              seed: o.seed,
              out: path.resolve(o.out!),
              eps: o.eps,
              warmupEpochs: o.warmup,
              beta: o.beta,
              temperature: o.temperature,
              ...(o.schedule ? { schedule: o.schedule } : {}),
              ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
              ...(o.steps !== undefined ? { steps: o.steps } : {}),
              ...(o.advFraction !== undefined ? { advFraction: o.advFraction } : {}),
              ...(o.nTrain !== undefined ? { trainLimit: o.nTrain } : {}),
              ...(o.robustEval !== undefined ? { robustEvalLimit: o.robustEval } : {}),
              ...(o.ema !== undefined ? { ema: o.ema === true ? DEFAULT_EMA_DECAY : o.ema } : {}),
              ...(o.awp !== undefined ? { awp: o.awp === true ? DEFAULT_AWP_GAMMA : o.awp } : {}),
              ...(o.awpWarmup !== undefined ? { awpWarmupEpochs: o.awpWarmup } : {}),
              ...(o.val !== undefined ? { validation: o.val } : {}),
              ...(o.earlyStop ? { earlyStop: true } : {}),
              ...(o.patience !== undefined ? { patience: o.patience } : {}),
              ...cliPreprocess(o),
              ...(o.init ? { init: path.resolve(o.init) } : {}),
              // tfjs-node runs its own threads; the wasm backends run one core each, so split the batch.
              workers: o.workers ?? (backend.name === 'tensorflow' ? 1 : defaultTrainWorkers()),
            };
        if (job.ema !== undefined && !(job.ema > 0 && job.ema < 1))
          throw new InputError(
            'train',
            '--ema',
            `${job.ema} is invalid; need a decay in (0, 1), e.g. ${DEFAULT_EMA_DECAY}`,
          );
        if (job.awp !== undefined && !(job.awp > 0 && job.awp <= 1))
          throw new InputError('train', '--awp', `${job.awp} is invalid; need γ in (0, 1], e.g. ${DEFAULT_AWP_GAMMA}`);
        if (job.advFraction !== undefined && !(job.advFraction > 0 && job.advFraction <= 1))
          throw new InputError(
            'train',
            '--adv-fraction',
            `${job.advFraction} is invalid; need a fraction in (0, 1], e.g. 0.5`,
          );
        if (job.patience !== undefined && !job.earlyStop)
          throw new InputError('train', '--patience', 'applies only with --early-stop');
        if (job.awp !== undefined && job.method !== 'pgd-at' && job.method !== 'trades')
          throw new InputError(
            'train',
            '--awp',
            `applies to pgd-at and trades (their adversarial loss), not ${job.method}`,
          );
        if (job.earlyStop && !isAdversarialMethod(job.method))
          throw new InputError(
            'train',
            '--early-stop',
            `selects on robust validation accuracy; ${job.method} trains without an adversary`,
          );
        if (o.redis || o.sweep) return runTrainSweep(job, o);
        const workers = job.workers ?? 1;
        process.stderr.write(`backend: ${describeBackend()} · ${workersLabel(workers)}\n`);
        const progress = makeProgress();
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        const result = await runTrainJob(
          job,
          {
            signal: controller.signal,
            onProgress: (p) => progress.update(p.label, p.done, p.total),
            trainPeers: threadPeers({
              script: path.join(__dirname, 'worker.js'),
              backend: backend.name,
              onLog: (level, message) => {
                if (level !== 'info') process.stderr.write(`training worker: ${message}\n`);
              },
            }),
          },
          Boolean(o.resume),
        ).finally(() => progress.stop());
        const opt = (v: number | undefined) => (v === undefined ? '—' : pct(v));
        const averaged = job.ema !== undefined;
        const validated = result.history.some((h) => h.valAccuracy !== undefined);
        const rows = result.history.map((h) => [
          String(h.epoch),
          h.loss.toFixed(4),
          pct(h.trainAccuracy),
          pct(h.testAccuracy),
          opt(h.robustAccuracy),
          ...(averaged ? [opt(h.emaTestAccuracy), opt(h.emaRobustAccuracy)] : []),
          ...(validated ? [opt(h.valAccuracy), opt(h.valRobustAccuracy)] : []),
          ...(validated && averaged ? [opt(h.emaValAccuracy), opt(h.emaValRobustAccuracy)] : []),
          h.learningRate.toExponential(2),
          h.seconds.toFixed(1),
          [
            h.event ?? '',
            result.kept.reason === 'best-robust-validation' && h.epoch === result.kept.epoch ? 'kept' : '',
          ]
            .filter(Boolean)
            .join(', '),
        ]);
        const columns = [
          'epoch',
          'loss',
          'train acc',
          'test acc',
          'robust acc',
          ...(averaged ? ['EMA test', 'EMA robust'] : []),
          ...(validated ? ['val acc', 'val robust'] : []),
          ...(validated && averaged ? ['EMA val', 'EMA val robust'] : []),
          'lr',
          'time s',
          'event',
        ];
        process.stdout.write(`${formatTable(columns, rows)}\n`);
        for (const h of result.history.filter((e) => e.event === 'catastrophic-overfitting')) {
          process.stderr.write(
            `warning: catastrophic overfitting in epoch ${h.epoch}: PGD accuracy collapsed; ` +
              `the weights of epoch ${h.epoch - 1} were restored and training stopped\n`,
          );
        }
        process.stdout.write(
          `wrote ${result.modelFile} · ${job.method} · backend ${describeBackend()} · ${workersLabel(workers)} · ` +
            `${duration(result.seconds)}\n` +
            (result.sidecar ? `wrote ${result.sidecar} (the preprocessing it trained with)\n` : ''),
        );
        for (const note of result.notes) process.stdout.write(`note: ${note}\n`);
        process.stdout.write(`saved weights: ${savedWeightsText(result.kept)}\n`);
      },
    );

  program
    .command('check')
    .description('check experiment specs (*.robustness.json) as the language server does; exit 1 on an error')
    .argument('<spec...>', 'spec files')
    .option('--data-root <dir...>', "data folders outside the spec's workspace folder that a spec may name")
    .action((files: string[], o: { dataRoot?: string[] }) => {
      const ok = checkSpecs(files, o.dataRoot);
      process.stderr.write(`${ok.length} of ${files.length} spec${files.length === 1 ? '' : 's'} without errors\n`);
    });

  clusterOptions(program.command('run'))
    .description("run an experiment spec's attacks (or suite) headless, as its Run lens does")
    .argument('<spec>', 'a *.robustness.json file')
    .option('--out <dir>', "write report.json and report.html here (default: the spec's output.report, if any)")
    .option('--json', 'print report.json to stdout instead of the table')
    .option(
      '--min-robust <acc>',
      'exit with code 3 when the worst-case robust accuracy is below this',
      number('--min-robust'),
    )
    .option('--workers <n>', 'worker threads', integer('--workers', 1), Math.min(2, os.availableParallelism()))
    .addOption(PREPROCESS_OPTIONS.scale())
    .addOption(PREPROCESS_OPTIONS.mean())
    .addOption(PREPROCESS_OPTIONS.std())
    .addOption(PREPROCESS_OPTIONS.output())
    .addOption(backendOption())
    .option('--data-root <dir...>', "data folders outside the spec's workspace folder that the spec may name")
    .action(async (file: string, o: RunOptions & PreprocessCliOptions & { dataRoot?: string[] }) => {
      const [checked] = checkSpecs([file], o.dataRoot);
      if (!checked) throw new InputError(file, '', 'has errors (listed above); nothing was run');
      const { spec } = checked;
      if (!spec.attacks && !spec.suite)
        throw new InputError(
          file,
          'attacks',
          'the spec has only a training block; train with "robustness-lab train" or its Train lens',
        );
      const dir = path.dirname(checked.file);
      const resolve = (relative: string) => path.resolve(dir, relative);
      const job = specAttackJob(spec, resolve, file);
      const cli = cliPreprocess(o);
      // The options over the spec's block: first wins, field by field.
      if (cli.preprocess) job.preprocess = [...cli.preprocess, ...(job.preprocess ?? [])];
      if (cli.output) job.output = cli.output;
      await runJob(
        job,
        {
          ...o,
          ...(!o.out && spec.output?.report
            ? { out: resolve(spec.output.report), outSource: `${file}: output.report` }
            : {}),
          ...(!o.redis && spec.cluster
            ? { redis: spec.cluster.redis, shardSize: o.shardSize ?? spec.cluster.shardSize }
            : {}),
        },
        `robustness-lab run ${file}`,
      );
    });

  program.addCommand(workerCommand());

  program
    .command('compare')
    .description("compare two report.json files of the same images: McNemar's exact test on robust accuracy")
    .argument('<reportA>', 'report.json of A')
    .argument('<reportB>', 'report.json of B')
    .option('--names <a,b>', 'what to call A and B (default: their models, else the file names)')
    .action((fileA: string, fileB: string, o: { names?: string }) => {
      const names = o.names?.split(',').map((s) => s.trim());
      if (names && (names.length !== 2 || names.some((s) => !s)))
        throw new InputError('--names', '', `needs two comma-separated names, got "${o.names}"`);
      process.stdout.write(`${compareReports([fileA, fileB], names as [string, string] | undefined).join('\n')}\n`);
    });

  program
    .command('bench')
    .description('benchmark backends and kernels (not a test)')
    .option('--json <file>', 'write the results as JSON', 'bench-output/bench.json')
    .option(`--model <${MODEL_FILE}>`, 'model to time', `examples/fashion-mnist/smallcnn/${TFJS_MODEL_FILE}`)
    .option('--backends <list>', `comma-separated: ${BENCH_BACKENDS}`, BENCH_BACKENDS)
    .option(
      '--train-batches <n>',
      'batches timed on the stock paths before scaling to an epoch',
      integer('--train-batches', 1),
      20,
    )
    .option('--one <backend>', 'internal: run one backend in this process and print JSON')
    .option('--data-one <n:folder>', 'internal: read the first n images of a data folder in this process, print JSON')
    .option('--data-only', 'only the data section: the first 1,000 and all of a generated 50,000-image folder')
    .option('--quick', 'wasm only, no data section or strong suite, fewer timed training batches')
    .option(
      '--pgd-at-batches <n>',
      'PGD-AT batches timed before scaling to an epoch (469: all)',
      integer('--pgd-at-batches', 1),
    )
    .option('--row <id:batches>', 'internal: one row of the PyTorch table, ours, in this process; print JSON')
    .action(async (o: BenchOptions) => runBench(o));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed by commander (help, version, or the one-line usage error).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const e = err as Error;
    process.stderr.write(
      `robustness-lab: ${['InputError', 'AbortError', 'ClusterError'].includes(e.name) ? e.message : (e.stack ?? e.message)}\n`,
    );
    process.exitCode = e.name === 'AbortError' ? 130 : 2;
  }
}

if (require.main === module) void main(process.argv);
