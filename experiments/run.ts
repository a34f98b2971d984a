/**
 * Run the experiments: `npm run experiments -- [name ...]` (default: all). Each keeps to a few
 * minutes of CPU; results (JSON) and charts (SVG) go to experiments/results/.
 */
import { runClassification, experiments as cls } from './classification.js';
import { runLanguageModelling, experiments as lm } from './language-modelling.js';
import { runQaExperiments, experiments as qa } from './qa.js';
import { runTasks, experiments as tasks } from './tasks.js';

const all = [...Object.keys(cls), ...Object.keys(lm), ...Object.keys(tasks), ...Object.keys(qa)];
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const n of names)
  if (!all.includes(n)) throw new Error(`unknown experiment "${n}"; expected one of ${all.join(', ')}`);
await runClassification(names);
await runLanguageModelling(names);
runTasks(names);
runQaExperiments(names);
