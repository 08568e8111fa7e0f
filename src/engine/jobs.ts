/** The jobs the CLI and the worker run: an attack evaluation (→ report) and standard training. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttackJob, JobProgress, TrainJob } from '../protocol/jobs';
import type { Report } from '../protocol/report';
import { getAttack } from './attacks/registry';
import type { AttackOptions } from './attacks/types';
import { describeBackend } from './backend';
import { loadDataset, sliceSplit } from './data/datasets';
import { InputError } from './errors';
import { accuracyCurve, evaluateAttacks, type AttackPlan } from './eval/evaluate';
import { loadClassifier } from './models/load';
import { folderSaveHandler } from './models/io';
import { smallCnn } from './models/smallcnn';
import { buildReport } from './report/build';
import { trainStandard, type EpochMetrics } from './training/standard';
import { validateThreat } from './threat';

export interface JobHooks {
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  onWarning?: (message: string) => void;
}

export const VERSION = '0.1.0';

export function planFor(id: string, job: AttackJob): AttackPlan {
  const entry = getAttack(id);
  if (!entry.norms.includes(job.norm)) throw new InputError('--attack', id, `does not support the ${job.norm} norm`);
  const options: AttackOptions = entry.iterative
    ? {
      steps: job.steps, restarts: job.restarts, loss: job.loss, randomStart: job.randomStart, seed: job.seed,
      ...(job.stepSize !== undefined ? { stepSize: job.stepSize } : {}),
    }
    : { loss: job.loss };
  return { entry, options };
}

export async function runAttackJob(job: AttackJob, command: string, hooks: JobHooks = {}): Promise<Report> {
  const started = performance.now();
  const model = await loadClassifier(job.model, { bounds: job.bounds });
  model.warnings.forEach((w) => hooks.onWarning?.(w));
  const data = loadDataset(job.data);
  if (data.shape.join('x') !== model.inputShape.join('x')) {
    throw new InputError(job.model, 'input shape',
      `[${model.inputShape.join(', ')}] does not match the ${data.id} images [${data.shape.join(', ')}]`);
  }
  if (data.classNames.length > model.numClasses) {
    throw new InputError(job.model, 'output', `has ${model.numClasses} classes but ${data.id} has ${data.classNames.length}`);
  }
  const test = sliceSplit(data.test, job.offset ?? 0, job.n);
  const threat = { norm: job.norm, eps: job.eps, bounds: job.bounds };
  validateThreat(threat, test.count, data.shape[0] * data.shape[1] * data.shape[2], '--eps');
  const plans = job.attacks.map((id) => planFor(id, job));
  const progress = { ...(hooks.signal ? { signal: hooks.signal } : {}), batchSize: job.batchSize, examples: job.examples,
    onProgress: (p: { label: string; done: number; total: number }) => hooks.onProgress?.(p) };
  const evaluation = await evaluateAttacks(model, test, data.shape, threat, plans, progress);
  const curves = [];
  if (job.curve.length > 0) {
    for (const plan of plans) {
      const points = await accuracyCurve(model, test, data.shape, job.norm, job.bounds, job.curve, plan, {
        ...progress, onProgress: (p) => hooks.onProgress?.({ label: `curve ${plan.entry.label(plan.options)} ${p.label}`, done: p.done, total: p.total }),
      });
      curves.push({ attack: plan.entry.label(plan.options), points });
    }
  }
  const report = buildReport(evaluation, {
    command, version: VERSION, model: job.model, modelWarnings: model.warnings, dataset: `${data.id} (${data.location})`,
    backend: describeBackend(), classNames: data.classNames, shape: data.shape, curves,
    seconds: (performance.now() - started) / 1000,
  });
  for (const example of report.examples) example.index += job.offset ?? 0;
  return report;
}

export interface TrainResult {
  modelFile: string;
  history: EpochMetrics[];
  seconds: number;
}

export async function runTrainJob(job: TrainJob, hooks: JobHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const data = loadDataset(job.data);
  const model = smallCnn(data.shape, data.classNames.length, job.seed);
  const history = await trainStandard(model, data, {
    epochs: job.epochs, batchSize: job.batchSize, optimizer: job.optimizer, learningRate: job.learningRate, seed: job.seed,
    ...(job.trainLimit !== undefined ? { trainLimit: job.trainLimit } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    onProgress: (p) => hooks.onProgress?.({ label: `epoch ${p.epoch}/${p.epochs}`, done: p.batch, total: p.batches }),
  });
  fs.mkdirSync(job.out, { recursive: true });
  const last = history[history.length - 1];
  await model.save(folderSaveHandler(job.out, {
    robustnessLab: {
      method: job.method, dataset: data.id, epochs: job.epochs, batchSize: job.batchSize, optimizer: job.optimizer,
      learningRate: job.learningRate, seed: job.seed, trainImages: job.trainLimit ?? data.train.count,
      testAccuracy: last?.testAccuracy, classNames: data.classNames, backend: describeBackend(),
    },
  }));
  model.dispose();
  return { modelFile: path.join(job.out, 'model.json'), history, seconds: (performance.now() - started) / 1000 };
}
