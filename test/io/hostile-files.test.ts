/**
 * Untrusted model-folder files: folders where files are expected, devices and pipes (bounded reads),
 * a chat template asking for range(10000000000), eval-metrics inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readItems } from '../../src/cli/eval-metrics.js';
import { readModelConfig } from '../../src/models/index.js';
import { readSafetensors, readSafetensorsHeader } from '../../src/io/safetensors.js';
import { AutoTokenizer, MAX_TEMPLATE_RANGE } from '../../src/io/tokenizer.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');
const tmp = mkdtempSync(join(tmpdir(), 'tunekit-hostile-files-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const copy = (): string => {
  const dir = join(tmp, `m${n++}`);
  cpSync(STORIES, dir, { recursive: true });
  return dir;
};
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a folder where a file is expected: a clear error naming the file, not EISDIR', () => {
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) {
    const dir = copy();
    rmSync(join(dir, file), { force: true });
    mkdirSync(join(dir, file));
    const load = file === 'config.json' ? () => readModelConfig(dir) : () => AutoTokenizer.fromPretrained(dir);
    assert.throws(load, new RegExp(`^Error: ${esc(join(dir, file))}: is a folder, expected a file$`), file);
  }
  assert.throws(() => readItems(tmp), new RegExp(`^Error: ${esc(tmp)}: is a folder, expected a file$`));
});

test(
  'config, tokenizer and eval-metrics files that are devices are read with a bound',
  { skip: process.platform !== 'linux' && 'needs /dev/zero' },
  () => {
    for (const [file, limit] of [
      ['config.json', '10 MB'],
      ['tokenizer_config.json', '10 MB'],
      ['chat_template.jinja', '10 MB'],
    ] as const) {
      const dir = copy();
      rmSync(join(dir, file), { force: true });
      symlinkSync('/dev/zero', join(dir, file));
      const load =
        file === 'config.json' ? () => LlamaForCausalLM.fromPretrained(dir) : () => AutoTokenizer.fromPretrained(dir);
      assert.throws(
        load,
        new RegExp(`${esc(join(dir, file))}: the input \\(not a regular file\\) is larger than the limit of ${limit}`),
        file,
      );
    }
    assert.throws(
      () => readItems('/dev/zero', 1_000_000),
      /^Error: \/dev\/zero: the input \(not a regular file\) is larger than the limit of 1 MB/,
    );
    const sparse = join(tmp, 'huge.txt');
    writeFileSync(sparse, '');
    // A large regular file is refused from its size, without reading it.
    assert.throws(() => readItems(sparse, -1), /huge\.txt: the file \(0 bytes\) is larger than the limit/);
    unlinkSync(sparse);
  },
);

test("a chat template asking for range(10000000000) fails clearly (bounded like Python's sandboxed Jinja)", () => {
  const tok = AutoTokenizer.fromPretrained(STORIES);
  const messages = [{ role: 'user', content: 'hi' }];
  const t0 = performance.now();
  assert.throws(
    () =>
      tok.applyChatTemplate(messages, {
        chatTemplate: '{% for i in range(10000000000) %}x{% endfor %}',
        tokenize: false,
      }),
    /^Error: chat template: range\(\) of 10000000000 items is too big; templates may build ranges of at most 100000 items/,
  );
  assert.throws(
    () => tok.applyChatTemplate(messages, { chatTemplate: '{{ range(0, 10000000000, 2) | length }}', tokenize: false }),
    /range\(\) of 5000000000 items is too big/,
  );
  assert.ok(performance.now() - t0 < 1000);
  // Ordinary ranges behave as Python's.
  const render = (t: string): string => tok.applyChatTemplate(messages, { chatTemplate: t, tokenize: false });
  assert.equal(render('{% for i in range(3) %}{{ i }}{% endfor %}'), '012');
  assert.equal(render('{% for i in range(1, 10, 3) %}{{ i }},{% endfor %}'), '1,4,7,');
  assert.equal(render('{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}'), '531');
  assert.equal(render('{{ range(4, 2) | length }}'), '0');
  assert.equal(render(`{{ range(${MAX_TEMPLATE_RANGE}) | length }}`), String(MAX_TEMPLATE_RANGE));
  assert.throws(() => render('{{ range(0, 5, 0) }}'), /range\(\) step must not be zero/);
});

test('safetensors: a header naming a tensor twice is refused; a folder or device is a clear error', () => {
  const entry = '"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
  const file = (header: string): string => {
    const h = Buffer.from(header);
    const buf = Buffer.alloc(8 + h.length + 4);
    buf.writeBigUInt64LE(BigInt(h.length), 0);
    h.copy(buf, 8);
    const p = join(tmp, `st${n++}.safetensors`);
    writeFileSync(p, buf);
    return p;
  };
  assert.equal(readSafetensors(file(`{${entry}}`)).tensors.size, 1);
  const dup = file(`{${entry},${entry}}`);
  assert.throws(
    () => readSafetensors(dup),
    new RegExp(`^Error: ${esc(dup)}: the header names tensor "w" more than once`),
  );
  assert.throws(
    () =>
      readSafetensorsHeader(
        file(`{"__metadata__":{"a":"x"}, ${entry}, "\\u0077":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`),
      ),
    /names tensor "w" more than once/,
  );
  // Same keys at deeper levels, and keys inside strings, are not duplicates of the top level.
  assert.equal(readSafetensors(file(`{"__metadata__":{"w":"{\\"w\\":1}"},${entry}}`)).tensors.size, 1);
  assert.throws(
    () => readSafetensors(tmp),
    new RegExp(`^Error: ${esc(tmp)}: is a folder, expected a safetensors file$`),
  );
  assert.throws(() => readSafetensors(join(tmp, 'none.safetensors')), /none\.safetensors: file not found/);
  if (process.platform === 'linux')
    assert.throws(() => readSafetensors('/dev/zero'), /^Error: \/dev\/zero: is not a regular file/);
});
