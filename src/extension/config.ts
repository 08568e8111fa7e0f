/**
 * The `robustness.*` settings, parsed once per configuration change. Defaults live in
 * package.json's contributes.configuration only: VS Code answers an unset setting with its
 * contributed default, and a setting that does not parse (`"norm": "l3"` typed into settings.json)
 * falls back to that default with one warning naming the setting and its allowed values, instead
 * of failing later in the engine.
 */
import { z } from 'zod';
import { BACKEND_PREFERENCES, NORMS, type BackendPreference, type NormId } from '../protocol/vocabulary';
import type { RobustnessSettings } from './jobs-from-settings';

/** The part of vscode.WorkspaceConfiguration we read (tests pass package.json's defaults). */
export interface SettingsSection {
  get<T>(key: string): T | undefined;
  /** VS Code's inspect: `defaultValue` is package.json's default. */
  inspect<T>(key: string): { defaultValue?: T } | undefined;
}

/** Every setting Config reads, without the `robustness.` prefix. */
export const SETTING_KEYS = [
  'backend',
  'threatModel.norm',
  'threatModel.eps',
  'attack.steps',
  'samples',
  'dataset',
  'training.trainImages',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => ({
  schema: z.enum(values),
  allowed: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
});

/** Each setting's schema (package.json's type, enum and minimum) and its allowed values in words. */
const SETTINGS = {
  backend: oneOf(BACKEND_PREFERENCES),
  'threatModel.norm': oneOf(NORMS),
  'threatModel.eps': { schema: z.number().finite().min(0), allowed: 'a number ≥ 0' },
  'attack.steps': { schema: z.number().int().min(1), allowed: 'a whole number ≥ 1' },
  samples: { schema: z.number().int().min(1), allowed: 'a whole number ≥ 1' },
  dataset: { schema: z.string(), allowed: 'a string' },
  'training.trainImages': { schema: z.number().int().min(1).nullable(), allowed: 'a whole number ≥ 1, or null' },
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
        problems.push(
          `Robustness Lab: the setting robustness.${key} is ${JSON.stringify(raw)}, but it must be ` +
            `${allowed}; using the default, ${JSON.stringify(fallback.data)}.`,
        );
      }
    }
    // Every key was set above, each to its own schema's output.
    this.values = values as SettingValues;
    this.problems = problems;
  }

  get backend(): BackendPreference {
    return this.values.backend;
  }

  get norm(): NormId {
    return this.values['threatModel.norm'];
  }

  get eps(): number {
    return this.values['threatModel.eps'];
  }

  get steps(): number {
    return this.values['attack.steps'];
  }

  get samples(): number {
    return this.values.samples;
  }

  get dataset(): string {
    return this.values.dataset;
  }

  /** Train on only the first N training images; undefined (the default, null) trains on all. */
  get trainImages(): number | undefined {
    return this.values['training.trainImages'] ?? undefined;
  }

  /** What attack jobs are built from. */
  get attackSettings(): RobustnessSettings {
    return { norm: this.norm, eps: this.eps, steps: this.steps, samples: this.samples, dataset: this.dataset };
  }

  /** One line for the log when the settings change. */
  describe(): string {
    return (
      `${this.norm} ε=${this.eps}, steps ${this.steps}, samples ${this.samples}, dataset ${this.dataset}, ` +
      `backend ${this.backend}`
    );
  }
}
