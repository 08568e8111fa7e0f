/**
 * The `robustness.*` settings as typed getters, read once per configuration change. Defaults live
 * in package.json's contributes.configuration only: VS Code answers an unset setting with its
 * contributed default, so none is repeated here.
 */
import type { BackendPreference, NormId } from '../protocol/vocabulary';
import type { RobustnessSettings } from './jobs-from-settings';

/** The part of vscode.WorkspaceConfiguration we read (tests pass package.json's defaults). */
export interface SettingsSection {
  get<T>(key: string): T | undefined;
}

/** Every setting Config reads, without the `robustness.` prefix. */
export const SETTING_KEYS = [
  'backend', 'threatModel.norm', 'threatModel.eps', 'attack.steps', 'samples', 'dataset', 'training.trainImages',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/**
 * Settings that take effect only after a window reload. None today: the worker switches backends
 * per run and every other setting is read when a run starts.
 */
export const SETTINGS_NEEDING_RELOAD: readonly SettingKey[] = [];

export class Config {
  constructor(private readonly section: SettingsSection) {}

  get backend(): BackendPreference {
    return this.required('backend');
  }

  get norm(): NormId {
    return this.required('threatModel.norm');
  }

  get eps(): number {
    return this.required('threatModel.eps');
  }

  get steps(): number {
    return this.required('attack.steps');
  }

  get samples(): number {
    return this.required('samples');
  }

  get dataset(): string {
    return this.required('dataset');
  }

  /** Train on only the first N training images; undefined (the default, null) trains on all. */
  get trainImages(): number | undefined {
    return this.section.get<number | null>('training.trainImages') ?? undefined;
  }

  /** What attack jobs are built from. */
  get attackSettings(): RobustnessSettings {
    return { norm: this.norm, eps: this.eps, steps: this.steps, samples: this.samples, dataset: this.dataset };
  }

  /** One line for the log when the settings change. */
  describe(): string {
    return `${this.norm} ε=${this.eps}, steps ${this.steps}, samples ${this.samples}, dataset ${this.dataset}, `
      + `backend ${this.backend}`;
  }

  private required<T>(key: SettingKey): T {
    const value = this.section.get<T>(key);
    if (value === undefined || value === null) {
      throw new Error(`setting robustness.${key} has no value and no default in package.json`);
    }
    return value;
  }
}
