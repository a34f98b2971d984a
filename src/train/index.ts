/** Training: the loop (TrainingArgs, train, evaluate), data, collators, schedules, checkpoints, losses. */
export * from './optim.js';
export * from './causal-lm.js';
export * from './losses.js';
export * from './schedule.js';
export * from './trainer.js';
export * from './checkpoint.js';
export * from './run-log.js';
export * from './data.js';
export * from './collate.js';
export * from './sft.js';
export * from './classification.js';
export * from './gradient-checkpointing.js';
