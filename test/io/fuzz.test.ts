/**
 * Seeded fuzzing of the files a model folder brings: safetensors (bytes), config.json,
 * tokenizer.json / tokenizer_config.json and a PEFT adapter (JSON and weights) are mutated a few
 * thousand times; each load must either succeed or fail with a clean Error naming the file, never
 * crash (TypeError/RangeError from inside, a non-Error throw, a dead process) nor grow memory without
 * bound. Set TUNEKIT_FUZZ_CASES to run more cases (default 2500 in all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig, readModelConfig, type DecoderConfig } from '../../src/models/index.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { repoRoot } from '../helpers/shared.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');
const TOTAL = Number(process.env.TUNEKIT_FUZZ_CASES ?? 2500);
const tmp = mkdtempSync(join(tmpdir(), 'tunekit-fuzz-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

type Rand = ReturnType<typeof rng>;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rand, n: number): number => Math.floor(r() * n);

const NASTY_NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  7,
  1e9,
  1e12,
  2 ** 31,
  2 ** 53,
  2 ** 64,
  1e308,
  -1e308,
  0.5,
  -0.0,
  1e-320,
  Number.MAX_SAFE_INTEGER,
];
const NASTY_VALUES: unknown[] = [
  null,
  true,
  false,
  '',
  'x',
  '1',
  '\u0000',
  '\u001b[31m',
  [],
  [1, 2],
  {},
  { a: 1 },
  ...NASTY_NUMBERS,
];

/** One random change to a parsed JSON value (in place where possible); returns the new root. */
function mutateJson(root: unknown, r: Rand): unknown {
  // Walk to a random container.
  let node = root;
  const path: (string | number)[] = [];
  for (let depth = 0; depth < 6 && r() < 0.7; depth++) {
    if (Array.isArray(node) && node.length > 0) {
      const i = int(r, node.length);
      if (node[i] === null || typeof node[i] !== 'object') break;
      path.push(i);
      node = node[i];
    } else if (node && typeof node === 'object' && !Array.isArray(node)) {
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const k = pick(r, keys);
      const child = (node as Record<string, unknown>)[k];
      if (child === null || typeof child !== 'object') break;
      path.push(k);
      node = child;
    } else break;
  }
  if (!node || typeof node !== 'object') return pick(r, NASTY_VALUES);
  const obj = node as Record<string | number, unknown>;
  const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
  const op = int(r, 6);
  if (keys.length === 0 || op === 0) {
    obj[Array.isArray(node) ? node.length : `k${int(r, 5)}`] = pick(r, NASTY_VALUES);
  } else {
    const k = pick(r, keys);
    const v = obj[k];
    if (op === 1) {
      if (Array.isArray(node)) node.splice(Number(k), 1);
      else delete obj[k];
    } else if (op === 2 && typeof v === 'number') obj[k] = pick(r, NASTY_NUMBERS) * (r() < 0.5 ? 1 : v || 1);
    else if (op === 3 && typeof v === 'string')
      obj[k] =
        v.length > 0 && r() < 0.5
          ? v.slice(0, int(r, v.length))
          : `${v}${pick(r, ['\u0000', '"', '{{', '%', 'é', '\ud800'])}`;
    else obj[k] = pick(r, NASTY_VALUES);
  }
  return root;
}

/** One random change to a byte string. */
function mutateBytes(bytes: Uint8Array, r: Rand): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (int(r, 6)) {
    case 0: // flip bits
      for (let i = 0, n = 1 + int(r, 4); i < n; i++) out[int(r, out.length)]! ^= 1 << int(r, 8);
      return out;
    case 1: // truncate
      return out.subarray(0, int(r, out.length));
    case 2: {
      // the header length (first 8 bytes)
      const view = new DataView(out.buffer);
      const choices = [
        0n,
        1n,
        7n,
        BigInt(out.length),
        BigInt(out.length - 8),
        2n ** 32n,
        2n ** 63n,
        2n ** 64n - 1n,
        view.getBigUint64(0, true) + BigInt(int(r, 17) - 8),
      ];
      view.setBigUint64(0, BigInt.asUintN(64, pick(r, choices)), true);
      return out;
    }
    case 3: {
      // insert random bytes
      const at = int(r, out.length);
      const extra = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      return Uint8Array.from([...out.subarray(0, at), ...extra, ...out.subarray(at)]);
    }
    case 4: {
      // mutate the header JSON itself
      const n = Number(new DataView(out.buffer).getBigUint64(0, true));
      const header = JSON.parse(Buffer.from(out.subarray(8, 8 + n)).toString('utf8')) as unknown;
      const text = Buffer.from(JSON.stringify(mutateJson(header, r)));
      const fresh = new Uint8Array(8 + text.length + (out.length - 8 - n));
      new DataView(fresh.buffer).setBigUint64(0, BigInt(text.length), true);
      fresh.set(text, 8);
      fresh.set(out.subarray(8 + n), 8 + text.length);
      return fresh;
    }
    default: // overwrite a run of bytes in the header
      for (
        let i = 0, at = 8 + int(r, Math.min(200, out.length - 8)), n = 1 + int(r, 8);
        i < n && at + i < out.length;
        i++
      )
        out[at + i] = int(r, 256);
      return out;
  }
}

/** A crash-like error: thrown from inside our code rather than by a check. */
function isCrash(err: unknown): boolean {
  return (
    !(err instanceof Error) ||
    err instanceof TypeError ||
    err instanceof RangeError ||
    /Maximum call stack/.test(err.message)
  );
}

interface Outcome {
  ok: number;
  errors: number;
  crashes: string[];
}

/** Runs `cases` mutations of one target; errors must name `mustName`. */
function fuzz(cases: number, seed: number, run: (r: Rand) => { mustName: string; load: () => void }): Outcome {
  const out: Outcome = { ok: 0, errors: 0, crashes: [] };
  const r = rng(seed);
  // Loaders warn about ignored fields and the like: keep the test output readable.
  const warn = console.warn;
  console.warn = () => {};
  try {
    runCases(out, cases, r, run);
  } finally {
    console.warn = warn;
  }
  return out;
}

function runCases(
  out: Outcome,
  cases: number,
  r: Rand,
  run: (r: Rand) => { mustName: string; load: () => void },
): void {
  for (let i = 0; i < cases; i++) {
    const { mustName, load } = run(r);
    try {
      load();
      out.ok++;
    } catch (err) {
      out.errors++;
      const message = err instanceof Error ? err.message : String(err);
      if (isCrash(err) || !message.includes(mustName)) {
        if (out.crashes.length < 5)
          out.crashes.push(
            `case ${i}: ${err instanceof Error ? `${err.name}: ${message}\n${err.stack?.split('\n').slice(1, 4).join('\n')}` : String(err)}`,
          );
      }
    }
  }
}

const storiesConfig = JSON.parse(readFileSync(join(STORIES, 'config.json'), 'utf8')) as Record<string, unknown>;
const tokenizerJson = JSON.parse(readFileSync(join(STORIES, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const tokenizerConfig = JSON.parse(readFileSync(join(STORIES, 'tokenizer_config.json'), 'utf8')) as Record<
  string,
  unknown
>;

test('fuzz: mutated safetensors files load correctly or fail with an error naming the file', () => {
  const path = join(tmp, 'w.safetensors');
  const tensors = new Map<string, RawTensor>([
    ['a.weight', { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i) }],
    ['b.bias', { dtype: 'BF16', shape: [5], data: new Uint16Array(5).fill(0x3f80) }],
    ['c', { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n]) }],
    ['d', { dtype: 'U8', shape: [0], data: new Uint8Array(0) }],
  ]);
  writeSafetensors(path, tensors, { format: 'pt' });
  const valid = new Uint8Array(readFileSync(path));
  const rss0 = process.memoryUsage().rss;
  const res = fuzz(Math.round(TOTAL * 0.4), 1, (r) => {
    writeFileSync(path, mutateBytes(valid, r));
    return {
      mustName: path,
      load: () => {
        const st = readSafetensors(path);
        for (const [, t] of st.tensors)
          assert.equal(
            t.data.byteLength,
            t.shape.reduce((a, b) => a * b, 1) * (t.data as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT,
          );
      },
    };
  });
  assert.deepEqual(res.crashes, []);
  assert.ok(res.errors > res.ok, `most mutations are invalid (${res.ok} loaded, ${res.errors} refused)`);
  assert.ok(process.memoryUsage().rss - rss0 < 300e6, 'memory stays bounded');
});

test('fuzz: mutated config.json loads a model or fails naming config.json (memory budget applies)', () => {
  const dir = join(tmp, 'model');
  cpSync(STORIES, dir, { recursive: true });
  const saved = process.env.TUNEKIT_MAX_MODEL_BYTES;
  process.env.TUNEKIT_MAX_MODEL_BYTES = '64M';
  const rss0 = process.memoryUsage().rss;
  try {
    const res = fuzz(Math.round(TOTAL * 0.2), 2, (r) => {
      let json: unknown = structuredClone(storiesConfig);
      for (let k = 0, n = 1 + int(r, 3); k < n; k++) json = mutateJson(json, r);
      writeFileSync(
        join(dir, 'config.json'),
        r() < 0.05 ? JSON.stringify(json).slice(0, int(r, 200)) : JSON.stringify(json),
      );
      return {
        mustName: dir,
        // Most loads stop at the config or at the weight check; the rest build and load the model.
        load: () => {
          const config = readModelConfig(dir);
          if (config.family === 'llama') LlamaForCausalLM.fromPretrained(dir);
        },
      };
    });
    assert.deepEqual(res.crashes, []);
    assert.ok(res.ok > 0 && res.errors > 0, `${res.ok} loaded, ${res.errors} refused`);
  } finally {
    if (saved === undefined) delete process.env.TUNEKIT_MAX_MODEL_BYTES;
    else process.env.TUNEKIT_MAX_MODEL_BYTES = saved;
  }
  assert.ok(process.memoryUsage().rss - rss0 < 400e6, 'memory stays bounded');
});

test('fuzz: mutated tokenizer.json / tokenizer_config.json load and encode, or fail naming the file', () => {
  const dir = join(tmp, 'tok');
  mkdirSync(dir, { recursive: true });
  const res = fuzz(Math.round(TOTAL * 0.2), 3, (r) => {
    const which = r() < 0.5 ? 'tokenizer.json' : 'tokenizer_config.json';
    let tj: unknown = structuredClone(tokenizerJson);
    let tc: unknown = structuredClone(tokenizerConfig);
    if (which === 'tokenizer.json') tj = mutateJson(tj, r);
    else tc = mutateJson(tc, r);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
    return {
      mustName: dir,
      load: () => {
        const tok = AutoTokenizer.fromPretrained(dir);
        const ids = tok.encode('Once upon a time, a cat.');
        tok.decode(ids);
      },
    };
  });
  assert.deepEqual(res.crashes, []);
  assert.ok(res.ok > 0 && res.errors > 0, `${res.ok} loaded, ${res.errors} refused`);
});

// A huge "r" once ended in "RangeError: Invalid typed array length", and config values the layers
// reject did not name the adapter folder: both found by this fuzz, now bounded and named.
test('fuzz: mutated LoRA adapters (config and weights) load or fail naming the adapter folder', () => {
  const base = (): LlamaForCausalLM =>
    new LlamaForCausalLM(
      parseModelConfig({
        architectures: ['LlamaForCausalLM'],
        vocab_size: 32,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
      }) as DecoderConfig,
      { seed: 1 },
    )
      .freeze()
      .eval();
  const dir = join(tmp, 'adapter');
  getPeftModel(base(), loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 2 })).savePretrained(dir);
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as unknown;
  const weights = new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors')));
  const res = fuzz(Math.round(TOTAL * 0.2), 4, (r) => {
    const mutateConfig = r() < 0.6;
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify(mutateConfig ? mutateJson(structuredClone(cfg), r) : cfg),
    );
    writeFileSync(join(dir, 'adapter_model.safetensors'), mutateConfig ? weights : mutateBytes(weights, r));
    return { mustName: dir, load: () => void PeftModel.fromPretrained(base(), dir) };
  });
  assert.deepEqual(res.crashes, []);
  assert.ok(res.ok > 0 && res.errors > 0, `${res.ok} loaded, ${res.errors} refused`);
});
