/** Learning-rate schedules, as a function of training progress t ∈ [0, 1) and the peak rate. */
import type { ScheduleId } from '../../protocol/vocabulary';

/**
 * - constant: the peak rate throughout;
 * - cosine: peak · ½(1 + cos πt);
 * - step: peak, then ÷10 at 50% and again at 75% of training (Madry et al.);
 * - cyclic: linear 0 → peak over the first 40%, then peak → 0 (the one-cycle schedule of Fast-AT).
 */
export function learningRateAt(schedule: ScheduleId, peak: number, t: number): number {
  const p = Math.min(Math.max(t, 0), 1);
  switch (schedule) {
    case 'constant':
      return peak;
    case 'cosine':
      return peak * 0.5 * (1 + Math.cos(Math.PI * p));
    case 'step':
      return p < 0.5 ? peak : p < 0.75 ? peak / 10 : peak / 100;
    case 'cyclic':
      return p < 0.4 ? peak * (p / 0.4) : peak * Math.max(0, (1 - p) / 0.6);
  }
}

/** ε for an epoch under a linear warm-up over `warmupEpochs` (1-based epochs). */
export function epsAt(eps: number, epoch: number, batchFraction: number, warmupEpochs: number): number {
  if (warmupEpochs <= 0) return eps;
  return Math.min(eps, (eps * (epoch - 1 + batchFraction)) / warmupEpochs);
}
