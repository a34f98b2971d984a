/**
 * The READMEs stay true to the code: the library example they print is examples/own-text.ts
 * verbatim (compiled by tsconfig), every example file is linked, the demo's Hub commands are the
 * ones the demo prints, and the Chinese README is linked from the English one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HUB_COMMANDS } from '../../src/cli/demo.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (f: string): string => readFileSync(root + f, 'utf8');

test('README.md and README.zh-CN.md: the own-text example verbatim, every example linked, the Hub commands', () => {
  const example = read('examples/own-text.ts').trimEnd();
  const examples = readdirSync(root + 'examples').filter((f) => f.endsWith('.ts'));
  assert.ok(examples.length >= 5);
  for (const readme of ['README.md', 'README.zh-CN.md']) {
    const text = read(readme);
    assert.ok(text.includes('```ts\n' + example + '\n```'), `${readme} prints examples/own-text.ts verbatim`);
    for (const f of examples) assert.ok(text.includes(`(examples/${f})`), `${readme} links examples/${f}`);
    for (const c of HUB_COMMANDS) assert.ok(text.includes(c), `${readme}: ${c}`);
    assert.ok(!/DEMO_OUTPUT|OWN_TEXT_EXAMPLE/.test(text), `${readme} has no placeholder left`);
  }
  assert.ok(read('README.md').includes('(README.zh-CN.md)'));
});
