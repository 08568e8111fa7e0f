/**
 * The attack panel's state, owned by the host: a pure reducer over run events, so the logic is
 * tested under plain Node and the webview only renders what it is sent.
 */
import type { PanelState } from '../protocol/messages/attack-panel';
import type { FinishedStage } from '../protocol/messages/worker';
import type { Report } from '../protocol/report';
import { duration } from '../protocol/format';
import { runningStage } from '../protocol/suites';
import type { SuiteId } from '../protocol/vocabulary';

export type PanelEvent =
  | { type: 'progress'; label: string; done: number; total: number }
  | { type: 'stage'; stage: FinishedStage }
  | { type: 'finished'; report: Report }
  /** `report`: the partial report of the stages that finished before the cancel. */
  | { type: 'cancelled'; report?: Report }
  | { type: 'failed'; error: string };

export function initialState(
  runId: string,
  title: string,
  at: string,
  suite?: SuiteId,
  keepsPartial = true,
): PanelState {
  return {
    runId,
    title,
    status: 'running',
    startedAt: at,
    ...(suite ? { suite } : {}),
    ...(keepsPartial ? {} : { keepsPartial: false }),
  };
}

export function reducePanel(state: PanelState, event: PanelEvent): PanelState {
  switch (event.type) {
    case 'progress':
      // Late progress from a run that already ended is dropped.
      if (state.status !== 'running') return state;
      return { ...state, progress: { label: event.label, done: event.done, total: event.total } };
    case 'stage': {
      if (state.status !== 'running') return state;
      // In order; a stage sent twice (a restarted listener) replaces its row, never duplicates it.
      const kept = (state.stages ?? []).filter((s) => s.index < event.stage.index);
      return { ...state, stages: [...kept, event.stage] };
    }
    case 'finished': {
      const { progress: _p, error: _e, ...rest } = state;
      return { ...rest, status: 'done', report: event.report };
    }
    case 'cancelled': {
      if (state.status !== 'running') return state;
      const { progress: _p, ...rest } = state;
      return { ...rest, status: 'cancelled', ...(event.report ? { report: event.report } : {}) };
    }
    case 'failed': {
      const { progress: _p, ...rest } = state;
      return { ...rest, status: 'failed', error: event.error };
    }
  }
}

/** Status-bar text: "$(shield) PGD-10 120/451 · 3 s". */
export function statusText(state: PanelState, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(state.startedAt)) / 1000));
  if (state.status !== 'running') return '';
  const p = state.progress;
  const stage = runningStage(state.stages ?? []);
  const work = p ? `${p.label} ${p.done}/${p.total}` : 'starting';
  return `$(shield) ${stage ? `${stage.replace(/^stage /, '').replace(' of ', '/')} · ` : ''}${work} · ${duration(seconds, 0)}`;
}

/** The status-bar item's tooltip: what one click does. */
export function statusTooltip(state: PanelState): string {
  const done = (state.stages ?? []).filter((s) => s.index > 0).length;
  return `Robustness Lab: ${state.title}${done ? ` — ${done} stage${done > 1 ? 's' : ''} done` : ''} — click to cancel`;
}

/** A run younger than this, with no stage done, cancels from the status bar without a question. */
export const CONFIRM_CANCEL_AFTER_S = 10;

/**
 * The question before the status-bar item cancels a run, or undefined to cancel at once: a short
 * attack (under 10 s, no stage done) goes, a long evaluation asks ("Cancel the evaluation? 2 stages
 * done"), saying what a cancel keeps.
 */
export function cancelQuestion(state: PanelState, now: number): { message: string; detail: string } | undefined {
  if (state.status !== 'running') return undefined;
  const done = (state.stages ?? []).filter((s) => s.index > 0);
  const seconds = (now - Date.parse(state.startedAt)) / 1000;
  if (done.length === 0 && seconds < CONFIRM_CANCEL_AFTER_S) return undefined;
  const last = done[done.length - 1];
  const total = last?.total ?? state.stages?.[0]?.total;
  const count = `${done.length}${total ? ` of ${total}` : ''} stage${(total ?? done.length) === 1 ? '' : 's'} done`;
  return {
    message: `Cancel the evaluation? ${count}`,
    detail: !last
      ? `${state.title}, running for ${duration(seconds, 0)}. No stage has finished yet: nothing would be kept.`
      : state.keepsPartial === false
        ? `${state.title}, running for ${duration(seconds, 0)}. This run is split across workers, so no partial ` +
          'report is kept: the finished stages would be lost.'
        : `${state.title}, running for ${duration(seconds, 0)}. The stages that finished are kept as a partial ` +
          `report, cancelled after ${last.label}.`,
  };
}
