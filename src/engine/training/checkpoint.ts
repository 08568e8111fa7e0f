/**
 * Checkpoints of a training run: <dir>/checkpoints/last/ (the model's files: model.json and
 * weights.bin, or model.onnx for a fine-tuned ONNX model; optimizer.bin, state.json) and
 * <dir>/metrics.jsonl, one line per epoch. A checkpoint is written to a temporary folder and
 * swapped in by renames, so a kill at any point leaves a complete one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../../common/atomic-write';
import { InputError } from '../errors';
import type { TrainableNet } from './net';
import type { EpochMetrics } from './types';

interface CheckpointState {
  epoch: number;
  optimizer: Array<{ name: string; shape: number[] }>;
  /**
   * Adam's running β₁ᵗ and β₂ᵗ: its setWeights recomputes them with pow(), which differs in the
   * last bits from the running products.
   */
  adamPowers?: [number, number];
  history: EpochMetrics[];
  /** The weight average's decay, when the run keeps one (its values: ema.bin, in variable order). */
  ema?: { decay: number };
  /** Early stopping's best epoch so far and its score (its weights: best.bin, in variable order). */
  best?: { epoch: number; score: number };
}

/** What a run keeps beside the weights and the optimiser: the EMA and early stopping's best weights. */
export interface CheckpointExtras {
  ema?: { decay: number; values: Float32Array };
  best?: { epoch: number; score: number; values: Float32Array };
}

type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

export function checkpointPath(dir: string): string {
  return path.join(dir, 'checkpoints', 'last');
}

export async function saveCheckpoint(
  dir: string,
  model: TrainableNet,
  optimizer: tf.Optimizer,
  epoch: number,
  history: EpochMetrics[],
  extras: CheckpointExtras = {},
): Promise<void> {
  const final = checkpointPath(dir);
  const tmp = `${final}.tmp-${process.pid}`;
  removeStaleCheckpointTemporaries(dir);
  const old = `${final}.old`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await model.saveTo(tmp);
  const named = await optimizer.getWeights();
  const values = await Promise.all(named.map((w) => w.tensor.data() as Promise<Float32Array>));
  const bytes = new Uint8Array(values.reduce((s, v) => s + v.byteLength, 0));
  let offset = 0;
  for (const v of values) {
    bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), offset);
    offset += v.byteLength;
  }
  fs.writeFileSync(path.join(tmp, 'optimizer.bin'), bytes);
  const adam = optimizer as unknown as AdamInternals;
  const state: CheckpointState = {
    epoch,
    optimizer: named.map((w) => ({ name: w.name, shape: w.tensor.shape })),
    history,
    ...(adam.accBeta1 && adam.accBeta2
      ? { adamPowers: [adam.accBeta1.dataSync()[0]!, adam.accBeta2.dataSync()[0]!] as [number, number] }
      : {}),
    ...(extras.ema ? { ema: { decay: extras.ema.decay } } : {}),
    ...(extras.best ? { best: { epoch: extras.best.epoch, score: extras.best.score } } : {}),
  };
  // Raw float32 bytes: a resumed run continues from exactly these values.
  if (extras.ema) fs.writeFileSync(path.join(tmp, 'ema.bin'), floatBytes(extras.ema.values));
  if (extras.best) fs.writeFileSync(path.join(tmp, 'best.bin'), floatBytes(extras.best.values));
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state));
  // getWeights hands out the live accumulators (variables) and a fresh iteration count: only the latter is ours.
  tf.dispose(named.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(final)) fs.renameSync(final, old);
  fs.renameSync(tmp, final);
  fs.rmSync(old, { recursive: true, force: true });
  // Rewritten whole, atomically: an append could be lost to a kill after the checkpoint's rename.
  writeFileAtomic(path.join(dir, 'metrics.jsonl'), history.map((h) => `${JSON.stringify(h)}\n`).join(''));
}

function floatBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function readFloats(file: string): Float32Array {
  const blob = fs.readFileSync(file);
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

/** Whether a process with this id is alive (signal 0 probes without signalling; EPERM means it exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the `last.tmp-<pid>` folders a killed run left behind (its checkpoint half written), except
 * one of a process still running. Returns the folders removed.
 */
export function removeStaleCheckpointTemporaries(dir: string): string[] {
  const folder = path.join(dir, 'checkpoints');
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = /^last\.tmp-(\d+)$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && alive(pid)) continue;
    fs.rmSync(path.join(folder, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Loads the last complete checkpoint into `model` and `optimizer`; undefined when there is none.
 * Its EMA and best weights come back as flat arrays (extras) for the caller to load.
 * First removes what a killed run left half written (removeStaleCheckpointTemporaries).
 */
export async function loadCheckpoint(
  dir: string,
  model: TrainableNet,
  optimizer: tf.Optimizer,
): Promise<{ epoch: number; history: EpochMetrics[]; extras: CheckpointExtras } | undefined> {
  removeStaleCheckpointTemporaries(dir);
  let folder = checkpointPath(dir);
  // A kill between the two renames leaves only the previous checkpoint, under .old.
  if (!fs.existsSync(path.join(folder, 'state.json')) && fs.existsSync(path.join(`${folder}.old`, 'state.json')))
    folder = `${folder}.old`;
  if (!fs.existsSync(path.join(folder, 'state.json'))) return undefined;
  const state = JSON.parse(fs.readFileSync(path.join(folder, 'state.json'), 'utf8')) as CheckpointState;
  if (!model.savedIn(folder)) {
    throw new InputError(folder, '', "holds another kind of model than this run's (model.json vs model.onnx)");
  }
  await model.loadFrom(folder);
  const blob = fs.readFileSync(path.join(folder, 'optimizer.bin'));
  const floats = new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  let offset = 0;
  const named = state.optimizer.map(({ name, shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const tensor = tf.tensor(floats.subarray(offset, offset + size), shape);
    offset += size;
    return { name, tensor };
  });
  await optimizer.setWeights(named);
  const adam = optimizer as unknown as AdamInternals;
  if (state.adamPowers && adam.accBeta1 && adam.accBeta2) {
    tf.tidy(() => {
      adam.accBeta1!.assign(tf.scalar(state.adamPowers![0]));
      adam.accBeta2!.assign(tf.scalar(state.adamPowers![1]));
    });
  }
  // setWeights turns the accumulators into variables of their own; the loaded copies go.
  tf.dispose(named.map((w) => w.tensor));
  const extras: CheckpointExtras = {};
  if (state.ema) {
    const file = path.join(folder, 'ema.bin');
    if (!fs.existsSync(file))
      throw new InputError(folder, 'ema.bin', 'is missing: state.json says the run keeps an EMA');
    extras.ema = { decay: state.ema.decay, values: readFloats(file) };
  }
  if (state.best) {
    const file = path.join(folder, 'best.bin');
    if (!fs.existsSync(file)) throw new InputError(folder, 'best.bin', 'is missing: state.json names a best epoch');
    extras.best = { ...state.best, values: readFloats(file) };
  }
  return { epoch: state.epoch, history: state.history, extras };
}
