/**
 * Run the experiments: `npm run experiments -- [name ...]` (default: all). Each keeps to a few
 * minutes of CPU; results (JSON) and charts (SVG) go to experiments/results/.
 */
import { experiments as cls } from './classification.js';
import { experiments as lm } from './language-modelling.js';
import { runExperiments } from './common.js';
import { experiments as qa } from './qa.js';
import { experiments as tasks } from './tasks.js';

const all = [...Object.keys(cls), ...Object.keys(lm), ...Object.keys(tasks), ...Object.keys(qa)];
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const n of names)
  if (!all.includes(n)) throw new Error(`unknown experiment "${n}"; expected one of ${all.join(', ')}`);
for (const table of [cls, lm, tasks, qa]) await runExperiments(table, names);
