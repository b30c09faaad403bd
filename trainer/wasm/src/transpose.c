// Batched transpose of the last two axes, out[b][c][r] = in[b][r][c], in 4×4 SIMD blocks within
// 32×32 tiles (tfjs's wasm Transpose is a per-element strided loop, several ns an element). It
// feeds the transposed operands of every Linear's backward products (wasm-batch-matmul.ts).
#include "simd-math.h"

#define TILE 32

static inline void block4(f32 *out, const f32 *in, u32 rows, u32 cols, u32 r, u32 c) {
  v128_t a = v_load(in + (r + 0) * cols + c);
  v128_t b = v_load(in + (r + 1) * cols + c);
  v128_t d = v_load(in + (r + 2) * cols + c);
  v128_t e = v_load(in + (r + 3) * cols + c);
  // 4×4 transpose: interleave pairs, then halves.
  v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
  v128_t ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  v128_t de_lo = wasm_i32x4_shuffle(d, e, 0, 4, 1, 5);
  v128_t de_hi = wasm_i32x4_shuffle(d, e, 2, 6, 3, 7);
  v_store(out + (c + 0) * rows + r, wasm_i64x2_shuffle(ab_lo, de_lo, 0, 2));
  v_store(out + (c + 1) * rows + r, wasm_i64x2_shuffle(ab_lo, de_lo, 1, 3));
  v_store(out + (c + 2) * rows + r, wasm_i64x2_shuffle(ab_hi, de_hi, 0, 2));
  v_store(out + (c + 3) * rows + r, wasm_i64x2_shuffle(ab_hi, de_hi, 1, 3));
}

static void transpose_one(f32 *out, const f32 *in, u32 rows, u32 cols) {
  u32 rows4 = rows & ~3u, cols4 = cols & ~3u;
  for (u32 r0 = 0; r0 < rows4; r0 += TILE) {
    u32 r1 = r0 + TILE < rows4 ? r0 + TILE : rows4;
    for (u32 c0 = 0; c0 < cols4; c0 += TILE) {
      u32 c1 = c0 + TILE < cols4 ? c0 + TILE : cols4;
      for (u32 r = r0; r < r1; r += 4)
        for (u32 c = c0; c < c1; c += 4) block4(out, in, rows, cols, r, c);
    }
  }
  // The ragged right columns and bottom rows, element by element.
  for (u32 r = 0; r < rows; r++)
    for (u32 c = (r < rows4 ? cols4 : 0); c < cols; c++) out[c * rows + r] = in[r * cols + c];
}

/** out[b][c][r] = in[b][r][c] for b < batch; in is [batch, rows, cols] row-major. */
void EXPORT(transpose_last2)(f32 *out, const f32 *in, u32 batch, u32 rows, u32 cols) {
  for (u32 b = 0; b < batch; b++) transpose_one(out + b * rows * cols, in + b * rows * cols, rows, cols);
}
