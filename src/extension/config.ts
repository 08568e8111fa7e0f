/**
 * The `robustness.*` settings, parsed once per configuration change. Defaults live in
 * package.json's contributes.configuration only: VS Code answers an unset setting with its
 * contributed default, and a setting that does not parse (`"norm": "l3"` typed into settings.json)
 * falls back to that default with one warning naming the setting and its allowed values, instead
 * of failing later in the engine.
 *
 * A new setting: its entry in package.json (type, default, `order`, description), its key and
 * schema here, a getter, and where it is used (jobs-from-settings.ts for attack jobs).
 */
import { z } from 'zod';
import {
  BACKEND_PREFERENCES,
  DATA_LABEL_SETS,
  DATASET_SETTINGS,
  IMAGE_CHANNELS,
  NORMS,
  type BackendPreference,
  type NormId,
} from '../protocol/vocabulary';
import { MAX_SHARD_IMAGES, parseRedisUrl, redactRedisUrl } from '../protocol/cluster';
import { dataOptionsField, type DataOptions } from '../protocol/jobs';
import type { RobustnessSettings } from './jobs-from-settings';
import type { PreprocessLayer } from '../protocol/preprocess';

/** The part of vscode.WorkspaceConfiguration we read (tests pass package.json's defaults). */
export interface SettingsSection {
  get<T>(key: string): T | undefined;
  /** VS Code's inspect: `defaultValue` is package.json's default. */
  inspect<T>(key: string): { defaultValue?: T } | undefined;
}

/** Every setting Config reads, without the `robustness.` prefix, in the Settings editor's order. */
export const SETTING_KEYS = [
  'threatModel.norm',
  'threatModel.epsilon',
  'attack.steps',
  'attack.stepSize',
  'attack.restarts',
  'curve.epsilons',
  'dataset',
  'dataFolder',
  'dataLabels',
  'dataResize',
  'dataChannels',
  'preprocess.scale',
  'preprocess.mean',
  'preprocess.std',
  'samples',
  'report.examples',
  'training.trainImages',
  'backend',
  'workers',
  'cluster.redisUrl',
  'cluster.shardSize',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** The most engine workers one evaluation is split across. */
export const MAX_WORKERS = 16;

function isRedisUrl(url: string): boolean {
  try {
    parseRedisUrl(url);
    return true;
  } catch {
    return false;
  }
}

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => ({
  schema: z.enum(values),
  allowed: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
});

/** Each setting's schema (package.json's type, enum and bounds) and its allowed values in words. */
const SETTINGS = {
  'threatModel.norm': oneOf(NORMS),
  'threatModel.epsilon': { schema: z.number().finite().min(0), allowed: 'a number ≥ 0' },
  'attack.steps': { schema: z.number().int().min(1), allowed: 'a whole number ≥ 1' },
  'attack.stepSize': {
    schema: z.number().finite().positive().nullable(),
    allowed: 'a number > 0, or null (each attack’s default)',
  },
  'attack.restarts': { schema: z.number().int().min(1), allowed: 'a whole number ≥ 1' },
  'curve.epsilons': {
    schema: z.array(z.number().finite().min(0)).min(1).nullable(),
    allowed: 'a list of numbers ≥ 0 such as [0, 0.05, 0.1], or null (the norm’s default grid)',
  },
  dataset: {
    ...oneOf(DATASET_SETTINGS),
    allowed: `${oneOf(DATASET_SETTINGS).allowed} (with "folder", robustness.dataFolder names the folder)`,
  },
  dataFolder: {
    schema: z.string(),
    allowed: 'a data folder (IDX, NumPy, CIFAR binary or image folder), relative to the workspace folder',
  },
  // A job's dataOptions.
  dataLabels: oneOf(DATA_LABEL_SETS),
  dataResize: { schema: z.boolean(), allowed: 'true or false' },
  dataChannels: { schema: z.literal(IMAGE_CHANNELS).nullable(), allowed: '1, 3 or null (as read)' },
  'preprocess.scale': {
    schema: z
      .tuple([z.number().finite(), z.number().finite()])
      .refine(([lo, hi]) => lo < hi)
      .nullable(),
    allowed: 'two numbers [lo, hi] with lo < hi such as [0, 255], or null',
  },
  'preprocess.mean': {
    schema: z.array(z.number().finite()).min(1).nullable(),
    allowed: 'a list of numbers such as [0.485, 0.456, 0.406], or null',
  },
  'preprocess.std': {
    schema: z.array(z.number().finite().positive()).min(1).nullable(),
    allowed: 'a list of numbers > 0 such as [0.229, 0.224, 0.225], or null',
  },
  samples: { schema: z.number().int().min(1), allowed: 'a whole number ≥ 1' },
  'report.examples': { schema: z.number().int().min(0).max(1000), allowed: 'a whole number from 0 to 1000' },
  'training.trainImages': { schema: z.number().int().min(1).nullable(), allowed: 'a whole number ≥ 1, or null' },
  backend: oneOf(BACKEND_PREFERENCES),
  workers: { schema: z.number().int().min(1).max(MAX_WORKERS), allowed: `a whole number from 1 to ${MAX_WORKERS}` },
  'cluster.redisUrl': {
    schema: z.string().refine((url) => url.trim() === '' || isRedisUrl(url.trim())),
    allowed: 'empty, or a redis:// or rediss:// (TLS) URL such as redis://queue.lab:6379',
  },
  'cluster.shardSize': {
    schema: z.number().int().min(1).max(MAX_SHARD_IMAGES),
    allowed: `a whole number from 1 to ${MAX_SHARD_IMAGES}`,
  },
} as const satisfies { [K in SettingKey]: { schema: z.ZodType; allowed: string } };

export type SettingValues = { [K in SettingKey]: z.infer<(typeof SETTINGS)[K]['schema']> };

/**
 * Settings that take effect only after a window reload. None today: the worker switches backends
 * per run and every other setting is read when a run starts.
 */
export const SETTINGS_NEEDING_RELOAD: readonly SettingKey[] = [];

export class Config {
  private readonly values: SettingValues;
  /** One warning per setting that did not parse, naming it, its allowed values and the default used. */
  readonly problems: readonly string[];

  constructor(section: SettingsSection) {
    const problems: string[] = [];
    const values: Partial<Record<SettingKey, unknown>> = {};
    for (const key of SETTING_KEYS) {
      const { schema, allowed } = SETTINGS[key];
      const raw = section.get<unknown>(key);
      const parsed = schema.safeParse(raw);
      if (parsed.success) {
        values[key] = parsed.data;
        continue;
      }
      const fallback = schema.safeParse(section.inspect<unknown>(key)?.defaultValue);
      if (!fallback.success) {
        throw new Error(`setting robustness.${key} has no value and no default in package.json`);
      }
      values[key] = fallback.data;
      if (raw !== undefined) {
        // A Redis URL may carry a password: a warning never shows it.
        const shown = key === 'cluster.redisUrl' && typeof raw === 'string' ? redactRedisUrl(raw) : raw;
        problems.push(
          `Robustness Lab: the setting robustness.${key} is ${JSON.stringify(shown)}, but it must be ` +
            `${allowed}; using the default, ${JSON.stringify(fallback.data)}.`,
        );
      }
    }
    // Every key was set above, each to its own schema's output.
    this.values = values as SettingValues;
    problems.push(...this.readRenamed(section, problems));
    if (this.values.dataset === 'folder' && this.values.dataFolder.trim() === '') {
      problems.push(
        'Robustness Lab: the setting robustness.dataset is "folder", but robustness.dataFolder is empty; ' +
          'set it to a data folder (relative to the workspace folder). Using "embedded" until then.',
      );
    }
    this.problems = problems;
  }

  /**
   * Settings of earlier versions, still honoured with a note saying what to write instead:
   * robustness.threatModel.eps (now …epsilon) and a folder given as robustness.dataset (now
   * dataset "folder" with robustness.dataFolder). Replaces the fallback warning `problems` holds.
   */
  private readRenamed(section: SettingsSection, problems: string[]): string[] {
    const notes: string[] = [];
    const legacyEps = SETTINGS['threatModel.epsilon'].schema.safeParse(section.get<unknown>('threatModel.eps'));
    const epsilonDefault = section.inspect<unknown>('threatModel.epsilon')?.defaultValue;
    if (legacyEps.success && this.values['threatModel.epsilon'] === epsilonDefault) {
      this.values['threatModel.epsilon'] = legacyEps.data;
      notes.push(
        `Robustness Lab: the setting robustness.threatModel.eps is now robustness.threatModel.epsilon; ` +
          `using its value, ${legacyEps.data}, until you rename it.`,
      );
    }
    const dataset = section.get<unknown>('dataset');
    if (typeof dataset === 'string' && dataset.trim() !== '' && !DATASET_SETTINGS.some((d) => d === dataset)) {
      this.values.dataset = 'folder';
      this.values.dataFolder = dataset.trim();
      const refused = problems.findIndex((p) => p.includes('robustness.dataset is'));
      if (refused >= 0) problems.splice(refused, 1);
      notes.push(
        `Robustness Lab: the setting robustness.dataset names a folder, ${JSON.stringify(dataset)}; write ` +
          `"robustness.dataset": "folder" and "robustness.dataFolder": ${JSON.stringify(dataset)} instead. ` +
          'Reading that folder until then.',
      );
    }
    return notes;
  }

  get backend(): BackendPreference {
    return this.values.backend;
  }

  get norm(): NormId {
    return this.values['threatModel.norm'];
  }

  get eps(): number {
    return this.values['threatModel.epsilon'];
  }

  get steps(): number {
    return this.values['attack.steps'];
  }

  /** Absolute α of the iterative attacks; undefined: each attack's own default. */
  get stepSize(): number | undefined {
    return this.values['attack.stepSize'] ?? undefined;
  }

  get restarts(): number {
    return this.values['attack.restarts'];
  }

  /** The curve's ε grid; undefined: the norm's default grid. */
  get curve(): number[] | undefined {
    const grid = this.values['curve.epsilons'];
    return grid ? [...grid] : undefined;
  }

  get samples(): number {
    return this.values.samples;
  }

  /** Image rows a report keeps. */
  get examples(): number {
    return this.values['report.examples'];
  }

  /**
   * The data the engine reads: a built-in id, or the folder of robustness.dataFolder (relative to
   * the workspace folder) when robustness.dataset is "folder" ("embedded" while that is empty).
   */
  get dataset(): string {
    const choice = this.values.dataset;
    if (choice !== 'folder') return choice;
    const folder = this.values.dataFolder.trim();
    return folder === '' ? 'embedded' : folder;
  }

  /** The data options the settings ask for (none by default): { dataOptions } to spread into a job. */
  get dataOptions(): { dataOptions?: DataOptions } {
    const { dataLabels: labels, dataResize: resize, dataChannels: channels } = this.values;
    return dataOptionsField({ labels, resize, channels });
  }

  /** Train on only the first N training images; undefined (the default, null) trains on all. */
  get trainImages(): number | undefined {
    return this.values['training.trainImages'] ?? undefined;
  }

  /** Engine workers one evaluation is split across (1: the one engine worker). */
  get workers(): number {
    return this.values.workers;
  }

  /**
   * The cluster's Redis URL (robustness.cluster.redisUrl, a machine setting), or undefined: runs
   * stay on this machine. It may carry a password: show it only through clusterDisplayUrl.
   */
  get clusterUrl(): string | undefined {
    const url = this.values['cluster.redisUrl'].trim();
    return url === '' ? undefined : url;
  }

  /** Images per cluster job (robustness.cluster.shardSize). */
  get shardSize(): number {
    return this.values['cluster.shardSize'];
  }

  /** The robustness.preprocess.* settings as the lowest preprocessing source; undefined when none is set. */
  get preprocess(): PreprocessLayer | undefined {
    const scale = this.values['preprocess.scale'];
    const mean = this.values['preprocess.mean'];
    const std = this.values['preprocess.std'];
    if (!scale && !mean && !std) return undefined;
    return {
      source: 'settings (robustness.preprocess)',
      ...(scale ? { scale } : {}),
      ...(mean ? { mean } : {}),
      ...(std ? { std } : {}),
    };
  }

  /** What attack jobs are built from. */
  get attackSettings(): RobustnessSettings {
    return {
      norm: this.norm,
      eps: this.eps,
      steps: this.steps,
      restarts: this.restarts,
      samples: this.samples,
      examples: this.examples,
      dataset: this.dataset,
      ...this.dataOptions,
      ...(this.stepSize !== undefined ? { stepSize: this.stepSize } : {}),
      ...(this.curve ? { curve: this.curve } : {}),
      ...(this.preprocess ? { preprocess: this.preprocess } : {}),
    };
  }

  /** One line for the log when the settings change. */
  describe(): string {
    const stepSize = this.stepSize === undefined ? 'default α' : `α=${this.stepSize}`;
    const curve = this.curve ? `curve [${this.curve.join(', ')}]` : 'default curve';
    return (
      `${this.norm} ε=${this.eps}, steps ${this.steps}, ${stepSize}, restarts ${this.restarts}, ${curve}, ` +
      `samples ${this.samples}, examples ${this.examples}, dataset ${this.dataset}, backend ${this.backend}, ` +
      `workers ${this.workers}`
    );
  }
}
