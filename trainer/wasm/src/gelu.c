// Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2, and its gradient, one pass each (tfjs composes the
// forward from five element-wise kernels and the backward from about ten).
#include "simd-math.h"

static inline v128_t gelu(v128_t x) {
  v128_t cdf = wasm_f32x4_mul(v_splat(0.5f), wasm_f32x4_add(v_splat(1.0f), v_erf(wasm_f32x4_mul(x, v_splat(0.70710678118654752f)))));
  return wasm_f32x4_mul(x, cdf);
}

/** dGELU/dx = Φ(x) + x·φ(x). */
static inline v128_t gelu_grad(v128_t x) {
  v128_t cdf = wasm_f32x4_mul(v_splat(0.5f), wasm_f32x4_add(v_splat(1.0f), v_erf(wasm_f32x4_mul(x, v_splat(0.70710678118654752f)))));
  v128_t pdf = wasm_f32x4_mul(v_splat(0.39894228040143268f), v_exp(wasm_f32x4_mul(v_splat(-0.5f), wasm_f32x4_mul(x, x))));
  return v_fma(x, pdf, cdf);
}

/** out[i] = gelu(x[i]), i < n. Pointers are byte offsets on the shared heap, 16-byte aligned. */
void EXPORT(gelu_forward)(f32 *out, const f32 *x, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) v_store(out + i, gelu(v_load(x + i)));
  if (i < n) {
    f32 in[4] = {0, 0, 0, 0}, res[4];
    for (u32 j = 0; i + j < n; j++) in[j] = x[i + j];
    v_store(res, gelu(v_load(in)));
    for (u32 j = 0; i + j < n; j++) out[i + j] = res[j];
  }
}

/** dx[i] = dy[i]·gelu'(x[i]). */
void EXPORT(gelu_backward)(f32 *dx, const f32 *dy, const f32 *x, u32 n) {
  u32 i = 0;
  for (; i + 4 <= n; i += 4) v_store(dx + i, wasm_f32x4_mul(v_load(dy + i), gelu_grad(v_load(x + i))));
  if (i < n) {
    f32 in[4] = {0, 0, 0, 0}, g[4] = {0, 0, 0, 0}, res[4];
    for (u32 j = 0; i + j < n; j++) { in[j] = x[i + j]; g[j] = dy[i + j]; }
    v_store(res, wasm_f32x4_mul(v_load(g), gelu_grad(v_load(in))));
    for (u32 j = 0; i + j < n; j++) dx[i + j] = res[j];
  }
}
