// LayerNorm over the last axis of [rows, h] fused with the sum that precedes it in BERT, one pass
// over each row each way (tfjs composes the forward from 9 kernels and the backward from about 20,
// with Sum kernels over tokens for the parameters' gradients):
//
//   s   = (y + bias)·pre_mask + res + res2[row % period]      every term but y optional (null)
//   out = ((s − mean(s))·rsqrt(var(s) + eps)·gamma + beta)·post_mask
//
// Blocks: y the output projection before its bias, pre_mask its dropout mask, res the residual.
// Embeddings: y the word embeddings, res the token types', res2 the positions' ([period, h]),
// post_mask the dropout after the LayerNorm. The variance is the biased one, as torch's.
//
// The backward recomputes s and its statistics from the inputs (the forward keeps nothing), so
// the tape holds only tensors the graph has anyway. Parameter gradients (gamma, beta, bias, res2)
// are summed over rows in row order: deterministic.
#include "simd-math.h"

static inline f32 hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline f32 rsqrt(f32 x) {
  return wasm_f32x4_extract_lane(wasm_f32x4_div(v_splat(1.0f), wasm_f32x4_sqrt(v_splat(x))), 0);
}

/** s[j] for j < h of one row. */
static void row_sum(f32 *s, const f32 *y, const f32 *bias, const f32 *pre, const f32 *res, const f32 *res2, u32 h) {
  u32 j = 0;
  for (; j + 4 <= h; j += 4) {
    v128_t v = v_load(y + j);
    if (bias) v = wasm_f32x4_add(v, v_load(bias + j));
    if (pre) v = wasm_f32x4_mul(v, v_load(pre + j));
    if (res) v = wasm_f32x4_add(v, v_load(res + j));
    if (res2) v = wasm_f32x4_add(v, v_load(res2 + j));
    v_store(s + j, v);
  }
  for (; j < h; j++) {
    f32 v = y[j];
    if (bias) v += bias[j];
    if (pre) v *= pre[j];
    if (res) v += res[j];
    if (res2) v += res2[j];
    s[j] = v;
  }
}

/** Mean and 1/sqrt(biased variance + eps) of s[0..h). */
static void row_stats(const f32 *s, u32 h, f32 eps, f32 *mean_out, f32 *rstd_out) {
  v128_t acc = v_splat(0.0f);
  f32 tail = 0.0f;
  u32 j = 0;
  for (; j + 4 <= h; j += 4) acc = wasm_f32x4_add(acc, v_load(s + j));
  for (; j < h; j++) tail += s[j];
  f32 mean = (hsum(acc) + tail) / (f32)h;
  v128_t m = v_splat(mean);
  acc = v_splat(0.0f);
  tail = 0.0f;
  for (j = 0; j + 4 <= h; j += 4) {
    v128_t d = wasm_f32x4_sub(v_load(s + j), m);
    acc = v_fma(d, d, acc);
  }
  for (; j < h; j++) tail += (s[j] - mean) * (s[j] - mean);
  *mean_out = mean;
  *rstd_out = rsqrt((hsum(acc) + tail) / (f32)h + eps);
}

static inline const f32 *row_of(const f32 *p, u32 row, u32 h) { return p ? p + (unsigned long)row * h : 0; }

void EXPORT(layer_norm_forward)(f32 *out, const f32 *y, const f32 *bias, const f32 *pre_mask, const f32 *res, const f32 *res2, u32 period,
                                const f32 *gamma, const f32 *beta, const f32 *post_mask, u32 rows, u32 h, f32 eps) {
  for (u32 r = 0; r < rows; r++) {
    f32 *o = out + (unsigned long)r * h;
    row_sum(o, y + (unsigned long)r * h, bias, row_of(pre_mask, r, h), row_of(res, r, h), row_of(res2, res2 ? r % period : 0, h), h);
    f32 mean, rstd;
    row_stats(o, h, eps, &mean, &rstd);
    const f32 *post = row_of(post_mask, r, h);
    v128_t m = v_splat(mean), rs = v_splat(rstd);
    u32 j = 0;
    for (; j + 4 <= h; j += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(v_load(o + j), m), rs), v_load(gamma + j)), v_load(beta + j));
      if (post) v = wasm_f32x4_mul(v, v_load(post + j));
      v_store(o + j, v);
    }
    for (; j < h; j++) {
      f32 v = (o[j] - mean) * rstd * gamma[j] + beta[j];
      if (post) v *= post[j];
      o[j] = v;
    }
  }
}

static void zero(f32 *p, u32 n) {
  if (!p) return;
  for (u32 j = 0; j < n; j++) p[j] = 0.0f;
}

/**
 * Gradients of layer_norm_forward: ds = ∂L/∂s (the gradient of res, and of y without a pre_mask),
 * dy_pre = ds·pre_mask (of y with one; null without), dbias = Σ_rows ∂L/∂y, dres2[p] = Σ of ds over
 * the rows at position p (null: not wanted), dgamma, dbeta.
 */
void EXPORT(layer_norm_backward)(f32 *ds, f32 *dy_pre, f32 *dbias, f32 *dres2, f32 *dgamma, f32 *dbeta,
                                 const f32 *dy, const f32 *y, const f32 *bias, const f32 *pre_mask, const f32 *res, const f32 *res2, u32 period,
                                 const f32 *gamma, const f32 *post_mask, u32 rows, u32 h, f32 eps) {
  zero(dbias, h);
  zero(dres2, res2 ? period * h : 0);
  zero(dgamma, h);
  zero(dbeta, h);
  const f32 inv_h = 1.0f / (f32)h;
  for (u32 r = 0; r < rows; r++) {
    f32 *d = ds + (unsigned long)r * h;
    const f32 *pre = row_of(pre_mask, r, h);
    const f32 *post = row_of(post_mask, r, h);
    const f32 *g_in = dy + (unsigned long)r * h;
    // s into the output row, as scratch until the second loop overwrites it with ds.
    row_sum(d, y + (unsigned long)r * h, bias, pre, row_of(res, r, h), row_of(res2, res2 ? r % period : 0, h), h);
    f32 mean, rstd;
    row_stats(d, h, eps, &mean, &rstd);
    v128_t m = v_splat(mean), rs = v_splat(rstd);
    // g = dy·post_mask; dbeta += g; dgamma += g·x̂; Σ g·gamma and Σ g·gamma·x̂ for the row.
    v128_t acc1 = v_splat(0.0f), acc2 = v_splat(0.0f);
    f32 t1 = 0.0f, t2 = 0.0f;
    u32 j = 0;
    for (; j + 4 <= h; j += 4) {
      v128_t g = v_load(g_in + j);
      if (post) g = wasm_f32x4_mul(g, v_load(post + j));
      v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(v_load(d + j), m), rs);
      v_store(dbeta + j, wasm_f32x4_add(v_load(dbeta + j), g));
      v_store(dgamma + j, v_fma(g, xhat, v_load(dgamma + j)));
      v128_t gg = wasm_f32x4_mul(g, v_load(gamma + j));
      acc1 = wasm_f32x4_add(acc1, gg);
      acc2 = v_fma(gg, xhat, acc2);
    }
    for (; j < h; j++) {
      f32 g = g_in[j];
      if (post) g *= post[j];
      f32 xhat = (d[j] - mean) * rstd;
      dbeta[j] += g;
      dgamma[j] += g * xhat;
      f32 gg = g * gamma[j];
      t1 += gg;
      t2 += gg * xhat;
    }
    const f32 c1 = (hsum(acc1) + t1) * inv_h, c2 = (hsum(acc2) + t2) * inv_h;
    // ds = rstd·(g·gamma − c1 − x̂·c2)
    f32 *dp = dy_pre ? dy_pre + (unsigned long)r * h : 0;
    f32 *dr2 = dres2 ? dres2 + (unsigned long)(r % period) * h : 0;
    v128_t vc1 = v_splat(c1), vc2 = v_splat(c2);
    for (j = 0; j + 4 <= h; j += 4) {
      v128_t g = v_load(g_in + j);
      if (post) g = wasm_f32x4_mul(g, v_load(post + j));
      v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(v_load(d + j), m), rs);
      v128_t gg = wasm_f32x4_mul(g, v_load(gamma + j));
      v128_t v = wasm_f32x4_mul(rs, wasm_f32x4_sub(wasm_f32x4_sub(gg, vc1), wasm_f32x4_mul(xhat, vc2)));
      v_store(d + j, v);
      if (dr2) v_store(dr2 + j, wasm_f32x4_add(v_load(dr2 + j), v));
      if (dp) {
        v = wasm_f32x4_mul(v, v_load(pre + j));
        v_store(dp + j, v);
      }
      if (dbias) v_store(dbias + j, wasm_f32x4_add(v_load(dbias + j), v));
    }
    for (; j < h; j++) {
      f32 g = g_in[j];
      if (post) g *= post[j];
      f32 xhat = (d[j] - mean) * rstd;
      f32 v = rstd * ((g * gamma[j] - c1) - xhat * c2);
      d[j] = v;
      if (dr2) dr2[j] += v;
      if (dp) {
        v *= pre[j];
        dp[j] = v;
      }
      if (dbias) dbias[j] += v;
    }
  }
}
