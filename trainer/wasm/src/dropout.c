// Dropout masks on the heap, element for element the masks seeded-masks.ts draws in JavaScript:
// Ballast's Rng (util/rng.ts) is mulberry32, whose i-th output depends only on state0 + i·K, so
// four lanes draw four consecutive outputs at once.
#include "simd-math.h"

#define MULBERRY_K 0x6d2b79f5u

static inline v128_t mulberry32(v128_t s) {
  // t = imul(s ^ (s >>> 15), s | 1); t ^= t + imul(t ^ (t >>> 7), t | 61); t ^ (t >>> 14)
  v128_t t = wasm_i32x4_mul(wasm_v128_xor(s, wasm_u32x4_shr(s, 15)), wasm_v128_or(s, wasm_i32x4_splat(1)));
  t = wasm_v128_xor(t, wasm_i32x4_add(t, wasm_i32x4_mul(wasm_v128_xor(t, wasm_u32x4_shr(t, 7)), wasm_v128_or(t, wasm_i32x4_splat(61)))));
  return wasm_v128_xor(t, wasm_u32x4_shr(t, 14));
}

/**
 * out[i] = 0 when draw i < threshold (the draw u/2^32 < rate), else scale; `state` is the Rng's
 * state before the first draw. threshold = ceil(rate·2^32), at most 2^32 - 1 for rate < 1.
 */
void EXPORT(dropout_mask)(f32 *out, u32 n, u32 state, u32 threshold, f32 scale) {
  // Unsigned u < threshold, as signed after flipping the top bit (no unsigned lane compare on i32x4).
  const v128_t flip = wasm_i32x4_splat((int)0x80000000u);
  v128_t limit = wasm_v128_xor(wasm_i32x4_splat((int)threshold), flip);
  v128_t keep = v_splat(scale);
  v128_t s = wasm_i32x4_make((int)(state + MULBERRY_K), (int)(state + 2 * MULBERRY_K), (int)(state + 3 * MULBERRY_K), (int)(state + 4 * MULBERRY_K));
  v128_t step = wasm_i32x4_splat((int)(4 * MULBERRY_K));
  u32 i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t dropped = wasm_i32x4_lt(wasm_v128_xor(mulberry32(s), flip), limit);
    v_store(out + i, wasm_v128_andnot(keep, dropped));
    s = wasm_i32x4_add(s, step);
  }
  if (i < n) {
    f32 tail[4];
    v128_t dropped = wasm_i32x4_lt(wasm_v128_xor(mulberry32(s), flip), limit);
    v_store(tail, wasm_v128_andnot(keep, dropped));
    for (u32 j = 0; i + j < n; j++) out[i + j] = tail[j];
  }
}
