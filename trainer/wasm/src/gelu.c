// Exact GELU after a Linear layer's bias, gelu(x + bias) with gelu(x) = x·(1 + erf(x/√2))/2, and
// its gradients, one pass each (tfjs composes the forward from six element-wise kernels and the
// backward from about ten, plus the bias's sum over rows).
#include "simd-math.h"

static inline v128_t gelu(v128_t x) {
  v128_t cdf = wasm_f32x4_mul(v_splat(0.5f), wasm_f32x4_add(v_splat(1.0f), v_erf(wasm_f32x4_mul(x, v_splat(0.70710678118654752f)))));
  return wasm_f32x4_mul(x, cdf);
}

/**
 * dGELU/dx = Φ(x) + x·φ(x). erf(x/√2) by v_erf's formula (A&S 7.1.26), whose exp(−(x/√2)²) is
 * φ's exp(−x²/2): one exp for both.
 */
static inline v128_t gelu_grad(v128_t x) {
  v128_t e = v_exp(wasm_f32x4_mul(v_splat(-0.5f), wasm_f32x4_mul(x, x)));
  v128_t ax = wasm_f32x4_mul(wasm_f32x4_abs(x), v_splat(0.70710678118654752f));
  // Φ(x) = (1 + erf(x/√2))/2 with erf(|x|/√2) = 1 − poly·e, its sign x's.
  v128_t erf = v_copysign(wasm_f32x4_sub(v_splat(1.0f), wasm_f32x4_mul(v_erfc_poly(ax), e)), x);
  v128_t cdf = wasm_f32x4_mul(v_splat(0.5f), wasm_f32x4_add(v_splat(1.0f), erf));
  v128_t pdf = wasm_f32x4_mul(v_splat(0.39894228040143268f), e);
  return v_fma(x, pdf, cdf);
}

/** Four lanes of x + bias starting at column j of a row of `cols`, zero-padded past its end. */
static inline v128_t load_biased(const f32 *x, const f32 *bias, u32 j, u32 cols) {
  if (j + 4 <= cols) return wasm_f32x4_add(v_load(x + j), v_load(bias + j));
  f32 in[4] = {0, 0, 0, 0};
  for (u32 k = 0; j + k < cols; k++) in[k] = x[j + k] + bias[j + k];
  return v_load(in);
}

static inline void store_part(f32 *out, v128_t v, u32 j, u32 cols) {
  if (j + 4 <= cols) {
    v_store(out + j, v);
    return;
  }
  f32 res[4];
  v_store(res, v);
  for (u32 k = 0; j + k < cols; k++) out[j + k] = res[k];
}

/** out = gelu(x + bias) for x [rows, cols] and bias [cols] (a Linear layer's bias, then GELU). */
void EXPORT(gelu_bias_forward)(f32 *out, const f32 *x, const f32 *bias, u32 rows, u32 cols) {
  for (u32 r = 0; r < rows; r++) {
    const f32 *xr = x + (unsigned long)r * cols;
    f32 *o = out + (unsigned long)r * cols;
    for (u32 j = 0; j < cols; j += 4) store_part(o, gelu(load_biased(xr, bias, j, cols)), j, cols);
  }
}

/** dx = dy·gelu'(x + bias); dbias = Σ_rows dx, summed in row order. */
void EXPORT(gelu_bias_backward)(f32 *dx, f32 *dbias, const f32 *dy, const f32 *x, const f32 *bias, u32 rows, u32 cols) {
  for (u32 j = 0; j < cols; j++) dbias[j] = 0.0f;
  for (u32 r = 0; r < rows; r++) {
    const f32 *xr = x + (unsigned long)r * cols;
    const f32 *g = dy + (unsigned long)r * cols;
    f32 *d = dx + (unsigned long)r * cols;
    u32 j = 0;
    for (; j + 4 <= cols; j += 4) {
      v128_t v = wasm_f32x4_mul(v_load(g + j), gelu_grad(wasm_f32x4_add(v_load(xr + j), v_load(bias + j))));
      v_store(d + j, v);
      v_store(dbias + j, wasm_f32x4_add(v_load(dbias + j), v));
    }
    if (j < cols) {
      f32 gin[4] = {0, 0, 0, 0}, res[4];
      for (u32 k = 0; j + k < cols; k++) gin[k] = g[j + k];
      v_store(res, wasm_f32x4_mul(v_load(gin), gelu_grad(load_biased(xr, bias, j, cols))));
      for (u32 k = 0; j + k < cols; k++) {
        d[j + k] = res[k];
        dbias[j + k] += res[k];
      }
    }
  }
}
