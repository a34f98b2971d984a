import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DTYPE_SIZE,
  bf16ToF32,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsHeader,
  readShardedSafetensors,
  writeSafetensors,
  type Dtype,
  type RawTensor,
} from '../../src/io/safetensors.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-st-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const tmpFile = (name = 'f.safetensors'): string => join(tmp, `${counter++}-${name}`);

/** A file made of a header string (padded to nothing) and `dataBytes` zero bytes. */
function rawFile(header: string | Uint8Array, dataBytes: number, declaredLength?: bigint): string {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const buf = new Uint8Array(8 + h.length + dataBytes);
  new DataView(buf.buffer).setBigUint64(0, declaredLength ?? BigInt(h.length), true);
  buf.set(h, 8);
  const p = tmpFile();
  writeFileSync(p, buf);
  return p;
}

// Byte-exact expectations from the Rust reference's unit tests (safetensors/src/tensor.rs:
// test_serialization, test_empty, test_serialization_forced_alignement).
test('writer output is byte-identical to the reference serializer', () => {
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  const p1 = tmpFile();
  writeSafetensors(p1, { 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
  assert.deepEqual(
    [...readFileSync(p1)],
    [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ],
  );

  const p2 = tmpFile();
  writeSafetensors(p2, { attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } });
  assert.deepEqual(
    [...readFileSync(p2)],
    [
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
      95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0,
      0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ],
  );

  const p3 = tmpFile();
  writeSafetensors(p3, {});
  assert.deepEqual([...readFileSync(p3)], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);

  const p4 = tmpFile();
  writeSafetensors(p4, {}, { framework: 'pt' });
  assert.deepEqual(
    [...readFileSync(p4)],
    [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ],
  );
  assert.deepEqual(readSafetensors(p4).metadata, { framework: 'pt' });
});

test('writer orders tensors by descending dtype alignment, then name', () => {
  const p = tmpFile();
  writeSafetensors(p, {
    b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    z: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
    a: { dtype: 'F32', shape: [1], data: new Float32Array([2]) },
    c: { dtype: 'I64', shape: [1], data: new BigInt64Array([3n]) },
    d: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
  });
  const bytes = readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: number[] }>;
  assert.deepEqual(Object.keys(header), ['c', 'a', 'z', 'd', 'b']);
  assert.deepEqual(header.c!.data_offsets, [0, 8]);
  assert.deepEqual(header.b!.data_offsets, [18, 21]);
  // Header-only reading and selective loading.
  const info = readSafetensorsHeader(p);
  assert.deepEqual([...info.tensors.keys()], ['c', 'a', 'z', 'd', 'b']);
  assert.deepEqual(info.tensors.get('d'), { dtype: 'BF16', shape: [1], dataOffsets: [16, 18] });
  const some = readSafetensors(p, { names: ['z', 'b'] });
  assert.deepEqual([...some.tensors.keys()], ['z', 'b']);
  assert.deepEqual([...(some.tensors.get('b')!.data as Uint8Array)], [1, 2, 3]);
  assert.throws(() => readSafetensors(p, { names: ['nope'] }), /no tensor named "nope"/);
});

test('roundtrip of every dtype preserves dtype, shape and bits', () => {
  const samples: Record<Dtype, RawTensor['data']> = {
    F32: new Float32Array([1.5, -0, Infinity, 3.4e38, 1e-45, NaN]),
    F64: new Float64Array([Math.PI, -1e300, 5e-324, -Infinity, 0, 2]),
    F16: new Uint16Array([0x3c00, 0x7c00, 0x0001, 0x8000, 0x7e00, 0xfbff]),
    BF16: new Uint16Array([0x3f80, 0xff80, 0x0001, 0x8000, 0x7fc0, 0x4049]),
    I64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 42n, 7n]),
    U64: new BigUint64Array([2n ** 64n - 1n, 0n, 1n, 2n, 3n, 4n]),
    I32: new Int32Array([-2147483648, 2147483647, 0, -1, 5, 6]),
    U32: new Uint32Array([4294967295, 0, 1, 2, 3, 4]),
    I16: new Int16Array([-32768, 32767, 0, -1, 1, 2]),
    U16: new Uint16Array([65535, 0, 1, 2, 3, 4]),
    I8: new Int8Array([-128, 127, 0, -1, 1, 2]),
    U8: new Uint8Array([255, 0, 1, 2, 3, 4]),
    BOOL: new Uint8Array([1, 0, 1, 1, 0, 0]),
    F8_E4M3: new Uint8Array([0x38, 0x7e, 0, 0x80, 1, 2]),
    F8_E5M2: new Uint8Array([0x3c, 0x7b, 0, 0x80, 1, 2]),
    F8_E8M0: new Uint8Array([127, 128, 0, 254, 1, 2]),
  };
  const tensors = new Map<string, RawTensor>();
  for (const [dtype, data] of Object.entries(samples) as [Dtype, RawTensor['data']][]) {
    assert.equal(data.BYTES_PER_ELEMENT, DTYPE_SIZE[dtype]);
    tensors.set(`t.${dtype}`, { dtype, shape: [2, 3], data });
  }
  tensors.set('empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) });
  tensors.set('scalar', { dtype: 'F32', shape: [], data: new Float32Array([7]) });
  const p = tmpFile();
  writeSafetensors(p, tensors, { format: 'pt', note: 'ünïcode ✓' });
  const back = readSafetensors(p);
  assert.deepEqual(back.metadata, { format: 'pt', note: 'ünïcode ✓' });
  assert.equal(back.tensors.size, tensors.size);
  for (const [name, t] of tensors) {
    const r = back.tensors.get(name);
    assert.ok(r, name);
    assert.equal(r.dtype, t.dtype);
    assert.deepEqual(r.shape, t.shape);
    assert.equal(r.data.constructor, t.data.constructor, name);
    assert.deepEqual(
      new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength),
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      name,
    );
    assert.equal(r.data.byteOffset % r.data.BYTES_PER_ELEMENT, 0);
  }
  // Atomic write: no temporary file is left behind.
  assert.ok(!readdirSync(tmp).some((f) => f.includes('.tmp-')));
});

test('writer rejects inconsistent tensors', () => {
  assert.throws(
    () => writeSafetensors(tmpFile(), { x: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
    /tensor "x".*needs 16 bytes, data has 12/,
  );
  assert.throws(
    () => writeSafetensors(tmpFile(), { x: { dtype: 'Q4' as Dtype, shape: [1], data: new Uint8Array(1) } }),
    /tensor "x": unknown dtype "Q4"/,
  );
  assert.throws(
    () => writeSafetensors(tmpFile(), { __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }),
    /reserved/,
  );
});

test('malformed files give clear errors naming the file and tensor', () => {
  const ok = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  // Sanity: the well-formed version reads.
  assert.deepEqual([...(readSafetensors(rawFile(ok, 8)).tensors.get('w')!.data as Float32Array)], [0, 0]);

  const tooSmall = tmpFile();
  writeFileSync(tooSmall, new Uint8Array(5));
  assert.throws(
    () => readSafetensors(tooSmall),
    (e: Error) => e.message.includes(tooSmall) && /too small/.test(e.message),
  );

  // Truncated data section.
  assert.throws(
    () => readSafetensors(rawFile(ok, 4)),
    /tensor "w": data_offsets \[0, 8\] run past the data section \(4 bytes\)/,
  );
  // Trailing bytes not covered by any tensor.
  assert.throws(() => readSafetensors(rawFile(ok, 12)), /cover 8 bytes but the data section has 12 bytes/);
  // Header length lying: larger than the file.
  assert.throws(
    () => readSafetensors(rawFile(ok, 8, 1000n)),
    /header length 1000 runs past the end of the 70-byte file/,
  );
  // Header length lying: smaller than the JSON (cuts it).
  assert.throws(() => readSafetensors(rawFile(ok, 8, 20n)), /header is not valid JSON/);
  // A 2 GB header length is refused before any allocation.
  const huge = rawFile(ok, 8, 2n ** 31n);
  assert.throws(
    () => readSafetensors(huge),
    (e: Error) =>
      e.message.includes(huge) && /header length 2147483648 exceeds the 100000000-byte limit/.test(e.message),
  );
  assert.throws(() => readSafetensors(rawFile(ok, 8, 2n ** 64n - 1n)), /exceeds the 100000000-byte limit/);
  // Overlapping offsets.
  assert.throws(
    () =>
      readSafetensors(
        rawFile(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
          12,
        ),
      ),
    /tensor "b": data_offsets \[4, 12\] overlaps the previous tensor \(expected begin 8\)/,
  );
  // A hole between tensors.
  assert.throws(
    () =>
      readSafetensors(
        rawFile(
          '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
          12,
        ),
      ),
    /tensor "b".*leaves a gap of 4 bytes/,
  );
  // Offsets out of range / malformed.
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', 8)),
    /tensor "w": data_offsets \[8, 0\] end before begin/,
  );
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}}', 8)),
    /tensor "w": data_offsets must be/,
  );
  // Unknown dtype names the dtype and the tensor.
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}', 8)),
    /tensor "w": unknown dtype "Q4_K" \(expected one of BOOL, /,
  );
  // Shape / size mismatch.
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8)),
    /tensor "w": shape \[3\] × F32 \(4 bytes\) needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', 8)),
    /shape must be an array of non-negative integers/,
  );
  assert.throws(
    () => readSafetensors(rawFile('{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}', 8)),
    /shape must be an array of non-negative integers/,
  );
  // Non-object JSON, invalid UTF-8, bad metadata.
  assert.throws(() => readSafetensors(rawFile('[1,2,3]', 0)), /header must start with "\{"/);
  assert.throws(() => readSafetensors(rawFile('{"w": 3}', 0)), /tensor "w": expected an object/);
  assert.throws(() => readSafetensors(rawFile(new Uint8Array([0x7b, 0xff, 0x7d]), 0)), /not valid UTF-8/);
  assert.throws(
    () => readSafetensors(rawFile('{"__metadata__":{"a":1}}', 0)),
    /"__metadata__"."a" must be a string, got 1/,
  );
});

test('sharded checkpoints are read through the index and validated', () => {
  const dir = join(tmp, 'sharded');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeSafetensors(
    join(dir, 'model-00001-of-00002.safetensors'),
    { a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } },
    { format: 'pt' },
  );
  writeSafetensors(
    join(dir, 'model-00002-of-00002.safetensors'),
    { b: { dtype: 'I32', shape: [1], data: new Int32Array([9]) } },
    { format: 'pt' },
  );
  const index = {
    metadata: { total_size: 12 },
    weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
  };
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  const got = readShardedSafetensors(dir);
  assert.deepEqual([...got.tensors.keys()].sort(), ['a', 'b']);
  assert.deepEqual([...(got.tensors.get('b')!.data as Int32Array)], [9]);
  assert.equal(got.metadata.format, 'pt');

  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { ...index.weight_map, c: 'model-00003-of-00003.safetensors' } }),
  );
  assert.throws(
    () => readShardedSafetensors(dir),
    /shard "model-00003-of-00003.safetensors" listed in weight_map does not exist/,
  );
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { a: '../escape.safetensors' } }),
  );
  assert.throws(() => readShardedSafetensors(dir), /weight_map\["a"\] must be a file name inside the folder/);
  // The same tensor stored in two shards.
  writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), {
    a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    b: { dtype: 'I32', shape: [1], data: new Int32Array([9]) },
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  assert.throws(() => readShardedSafetensors(dir), /tensor "a" also appears in another shard/);
  // Listed in the map but absent from its shard.
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', zz: 'model-00001-of-00002.safetensors' } }),
  );
  assert.throws(
    () => readShardedSafetensors(dir),
    /tensor "zz" listed in model.safetensors.index.json is missing from this shard/,
  );
  writeFileSync(join(dir, 'model.safetensors.index.json'), '{"weight_map": [1]}');
  assert.throws(() => readShardedSafetensors(dir), /field "weight_map" must be an object/);
});

test('bf16 conversions: exact widening and round-to-nearest-even narrowing', () => {
  // Widening is a 16-bit shift: 0x3f80 = 1.0, 0xc000 = -2.0, 0x4049 = 3.140625.
  assert.deepEqual(
    [...bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x4049, 0x7f80, 0x0000]))],
    [1, -2, 3.140625, Infinity, 0],
  );
  // 1 + 2^-8 lies exactly halfway between bf16 1.0 (0x3f80) and 1.0078125 (0x3f81): ties go to even 0x3f80.
  // 1 + 3*2^-8 is halfway between 0x3f81 and 0x3f82: ties to even 0x3f82. Slightly above halfway rounds up.
  const bits = f32ToBf16(
    new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, Math.PI, -0, NaN, 3.4e38]),
  );
  assert.deepEqual([...bits].slice(0, 5), [0x3f80, 0x3f82, 0x3f81, 0x4049, 0x8000]);
  assert.equal(bits[5], 0x7fc0);
  assert.equal(bits[6], 0x7f80); // 3.4e38 rounds past bf16's largest finite (3.3895e38) to +Inf
  // Every bf16 pattern survives a roundtrip through f32 (NaNs become the canonical quiet NaN).
  const all = new Uint16Array(65536).map((_, i) => i);
  const again = f32ToBf16(bf16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
    assert.equal(again[i], isNaN ? (i & 0x8000) | 0x7fc0 : i);
  }
});

test('f16 conversions: exact widening (normals, subnormals, specials) and RNE narrowing', () => {
  // Values from the IEEE 754 binary16 definition.
  assert.deepEqual(
    [...f16ToF32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x3555]))],
    [1, -2, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, Math.fround(0.333251953125)],
  );
  assert.ok(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0]));
  // 1 + 2^-11 is halfway between 1 (0x3c00) and 1 + 2^-10 (0x3c01): ties to even. 65520 is halfway
  // between 65504 and 65536 (= overflow): rounds to Inf. 2^-25 is halfway between 0 and the
  // smallest subnormal: ties to even 0; 3*2^-25 → 2*2^-24 (0x0002).
  assert.deepEqual(
    [
      ...f32ToF16(
        new Float32Array([
          1 + 2 ** -11,
          1 + 3 * 2 ** -11,
          65504,
          65519,
          65520,
          1e6,
          2 ** -25,
          3 * 2 ** -25,
          2 ** -26,
          -0,
          -1.5,
        ]),
      ),
    ],
    [0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0000, 0x0002, 0x0000, 0x8000, 0xbe00],
  );
  assert.equal(f32ToF16(new Float32Array([NaN]))[0]! & 0x7e00, 0x7e00);
  // Every finite f16 pattern roundtrips exactly.
  for (let i = 0; i < 65536; i++) {
    if ((i & 0x7c00) === 0x7c00) continue;
    assert.equal(f32ToF16(f16ToF32(new Uint16Array([i])))[0], i);
  }
});

test(
  'reads stories260K-hf/model.safetensors with the names and shapes its config implies',
  { skip: skipWithoutShared('stories260K-hf', 'model.safetensors') },
  () => {
    const dir = assetPath('stories260K-hf')!;
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
    const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
    const h = cfg.hidden_size!,
      inter = cfg.intermediate_size!,
      hd = cfg.head_dim!;
    const expected = new Map<string, number[]>([
      ['model.embed_tokens.weight', [cfg.vocab_size!, h]],
      ['model.norm.weight', [h]],
    ]);
    for (let i = 0; i < cfg.num_hidden_layers!; i++) {
      const p = `model.layers.${i}`;
      expected.set(`${p}.input_layernorm.weight`, [h]);
      expected.set(`${p}.post_attention_layernorm.weight`, [h]);
      expected.set(`${p}.self_attn.q_proj.weight`, [cfg.num_attention_heads! * hd, h]);
      expected.set(`${p}.self_attn.k_proj.weight`, [cfg.num_key_value_heads! * hd, h]);
      expected.set(`${p}.self_attn.v_proj.weight`, [cfg.num_key_value_heads! * hd, h]);
      expected.set(`${p}.self_attn.o_proj.weight`, [h, cfg.num_attention_heads! * hd]);
      expected.set(`${p}.mlp.gate_proj.weight`, [inter, h]);
      expected.set(`${p}.mlp.up_proj.weight`, [inter, h]);
      expected.set(`${p}.mlp.down_proj.weight`, [h, inter]);
    }
    assert.deepEqual([...tensors.keys()].sort(), [...expected.keys()].sort());
    let params = 0;
    for (const [name, shape] of expected) {
      const t = tensors.get(name)!;
      assert.equal(t.dtype, 'F32');
      assert.deepEqual(t.shape, shape, name);
      assert.ok(t.data instanceof Float32Array);
      assert.ok(t.data.every(Number.isFinite), name);
      params += t.data.length;
    }
    assert.equal(params, 260_032); // SOURCE.md: 260,032 parameters
    // RMSNorm gains of a trained model are not all equal to their initial value 1.
    assert.ok((tensors.get('model.norm.weight')!.data as Float32Array).some((v) => v !== 1));
  },
);
