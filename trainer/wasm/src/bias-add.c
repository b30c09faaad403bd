// A Linear layer's bias: out = y + bias over the rows of y [rows, cols], and its gradient, the
// column sums of dy. tfjs runs the first through its general broadcasting Add (an index
// computation per element) and the second through Sum with a reshape, both ~10x this.
#include "simd-math.h"

void EXPORT(bias_add_forward)(f32 *out, const f32 *y, const f32 *bias, u32 rows, u32 cols) {
  for (u32 r = 0; r < rows; r++) {
    const f32 *yr = y + (unsigned long)r * cols;
    f32 *o = out + (unsigned long)r * cols;
    u32 j = 0;
    for (; j + 4 <= cols; j += 4) v_store(o + j, wasm_f32x4_add(v_load(yr + j), v_load(bias + j)));
    for (; j < cols; j++) o[j] = yr[j] + bias[j];
  }
}

/** dbias[j] = Σ_r dy[r, j], summed in row order. */
void EXPORT(bias_grad)(f32 *dbias, const f32 *dy, u32 rows, u32 cols) {
  for (u32 j = 0; j < cols; j++) dbias[j] = 0.0f;
  for (u32 r = 0; r < rows; r++) {
    const f32 *g = dy + (unsigned long)r * cols;
    u32 j = 0;
    for (; j + 4 <= cols; j += 4) v_store(dbias + j, wasm_f32x4_add(v_load(dbias + j), v_load(g + j)));
    for (; j < cols; j++) dbias[j] += g[j];
  }
}
