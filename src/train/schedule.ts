/**
 * Learning-rate schedules with transformers' formulas (`transformers.optimization`): a multiplier
 * of the peak learning rate as a function of the number of optimizer steps already taken.
 *
 * As with transformers' LambdaLR, optimizer step s (1-based) uses `factor(s - 1)`: with warm-up the
 * first update runs at learning rate 0, exactly as a Python run does.
 */

export type SchedulerType = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

/** The learning-rate schedules, by transformers' names. */
export const SCHEDULER_TYPES: readonly SchedulerType[] = ['linear', 'cosine', 'constant', 'constant_with_warmup'];

/** Options of {@link scheduleFactor}. */
export interface ScheduleOptions {
  type: SchedulerType;
  /** Steps of linear warm-up from 0 (default 0). */
  warmupSteps?: number;
  /** Total optimizer steps (needed by linear and cosine). */
  totalSteps: number;
  /** Cosine: number of waves (default 0.5: from the peak down to 0 once). */
  numCycles?: number;
}

/** The multiplier after `done` optimizer steps (LambdaLR's lr_lambda(current_step)). */
export function scheduleFactor(opts: ScheduleOptions, done: number): number {
  const warmup = opts.warmupSteps ?? 0;
  const total = opts.totalSteps;
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new Error(`schedule: warmupSteps must be a non-negative integer, got ${warmup}`);
  if (!Number.isInteger(total) || total < 0)
    throw new Error(`schedule: totalSteps must be a non-negative integer, got ${total}`);
  if (opts.type !== 'constant' && done < warmup) return done / Math.max(1, warmup);
  switch (opts.type) {
    case 'constant':
    case 'constant_with_warmup':
      return 1;
    case 'linear':
      return Math.max(0, (total - done) / Math.max(1, total - warmup));
    case 'cosine': {
      const progress = (done - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (opts.numCycles ?? 0.5) * 2 * progress)));
    }
    default:
      throw new Error(`schedule: unknown type "${String(opts.type)}"; expected one of ${SCHEDULER_TYPES.join(', ')}`);
  }
}

/** Warm-up steps from a count or a ratio of the total (transformers: ceil(ratio * total)). */
export function warmupStepsFor(totalSteps: number, warmupSteps?: number, warmupRatio?: number): number {
  if (warmupSteps !== undefined && warmupSteps > 0) return warmupSteps;
  if (warmupRatio !== undefined) {
    if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw new Error(`warmupRatio must be in [0, 1], got ${warmupRatio}`);
    return Math.ceil(warmupRatio * totalSteps);
  }
  return 0;
}
