/**
 * The one half-precision implementation: scalar and array forms agree on every bit pattern, and
 * float32 -> half -> float32 round trips every finite half exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16BitsToFloat, bf16ToF32, f16BitsToFloat, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/dtypes/half.js';
import * as io from '../../src/io/safetensors.js';

test('every bf16 and f16 bit pattern: scalar = array conversion, and narrowing back restores it', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const bf = bf16ToF32(all);
  const f16 = f16ToF32(all);
  for (let i = 0; i < 65536; i++) {
    assert.ok(Object.is(bf16BitsToFloat(i), bf[i]), `bf16 ${i}`);
    assert.ok(Object.is(f16BitsToFloat(i), f16[i]), `f16 ${i}`);
  }
  const bfBack = f32ToBf16(bf);
  const f16Back = f32ToF16(f16);
  for (let i = 0; i < 65536; i++) {
    if (!Number.isNaN(bf[i])) assert.equal(bfBack[i], i, `bf16 round trip ${i}`);
    if (!Number.isNaN(f16[i])) assert.equal(f16Back[i], i, `f16 round trip ${i}`);
  }
  assert.equal(f16BitsToFloat(0x3c00), 1);
  assert.equal(bf16BitsToFloat(0x3f80), 1);
  assert.equal(io.f16ToF32, f16ToF32, 'io re-exports the same implementation');
});
