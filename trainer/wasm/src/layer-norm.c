// LayerNorm over the last axis of [rows, h] fused with the sum that precedes it in BERT, one pass
// over each row each way (tfjs composes the forward from 9 kernels and the backward from about 20,
// with Sum kernels over tokens for the parameters' gradients). Biased variance, as torch's.
//
// Blocks (layer_norm_*), y an output projection before its bias:
//   out = LayerNorm((y + bias)·pre_mask + res)                  pre_mask optional (null)
// Embeddings (embedding_*), the lookups included:
//   out = LayerNorm((words[ids[r]] + types[type_ids[r]]) + positions[r % seq])·post_mask
//
// The backward recomputes the sum and its statistics from the inputs (the forward keeps nothing),
// so the tape holds only tensors the graph has anyway. Parameter gradients (gamma, beta, bias, the
// embedding tables) are summed over rows in row order: deterministic.
#include "simd-math.h"

static inline f32 hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline f32 rsqrt(f32 x) {
  return wasm_f32x4_extract_lane(wasm_f32x4_div(v_splat(1.0f), wasm_f32x4_sqrt(v_splat(x))), 0);
}

/** s = ((y + bias)·pre + res) + res2 over one row; every term but y optional (null). */
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

/** o holds s; replaces it with LayerNorm(s)·gamma + beta, times post (if any). */
static void row_normalize(f32 *o, const f32 *gamma, const f32 *beta, const f32 *post, u32 h, f32 eps) {
  f32 mean, rstd;
  row_stats(o, h, eps, &mean, &rstd);
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

/**
 * d holds s; replaces it with ∂L/∂s given dy (times post, if any) for the row, and adds the row's
 * terms to dgamma and dbeta: with g = dy·post and x̂ = (s − mean)·rstd,
 *   ∂L/∂s = rstd·(g·gamma − mean(g·gamma) − x̂·mean(g·gamma·x̂)).
 */
static void row_backward(f32 *d, const f32 *dy, const f32 *post, const f32 *gamma, f32 *dgamma, f32 *dbeta, u32 h, f32 eps) {
  f32 mean, rstd;
  row_stats(d, h, eps, &mean, &rstd);
  v128_t m = v_splat(mean), rs = v_splat(rstd);
  v128_t acc1 = v_splat(0.0f), acc2 = v_splat(0.0f);
  f32 t1 = 0.0f, t2 = 0.0f;
  u32 j = 0;
  for (; j + 4 <= h; j += 4) {
    v128_t g = v_load(dy + j);
    if (post) g = wasm_f32x4_mul(g, v_load(post + j));
    v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(v_load(d + j), m), rs);
    v_store(dbeta + j, wasm_f32x4_add(v_load(dbeta + j), g));
    v_store(dgamma + j, v_fma(g, xhat, v_load(dgamma + j)));
    v128_t gg = wasm_f32x4_mul(g, v_load(gamma + j));
    acc1 = wasm_f32x4_add(acc1, gg);
    acc2 = v_fma(gg, xhat, acc2);
  }
  for (; j < h; j++) {
    f32 g = dy[j];
    if (post) g *= post[j];
    f32 xhat = (d[j] - mean) * rstd;
    dbeta[j] += g;
    dgamma[j] += g * xhat;
    f32 gg = g * gamma[j];
    t1 += gg;
    t2 += gg * xhat;
  }
  const f32 c1 = (hsum(acc1) + t1) / (f32)h, c2 = (hsum(acc2) + t2) / (f32)h;
  v128_t vc1 = v_splat(c1), vc2 = v_splat(c2);
  for (j = 0; j + 4 <= h; j += 4) {
    v128_t g = v_load(dy + j);
    if (post) g = wasm_f32x4_mul(g, v_load(post + j));
    v128_t xhat = wasm_f32x4_mul(wasm_f32x4_sub(v_load(d + j), m), rs);
    v128_t gg = wasm_f32x4_mul(g, v_load(gamma + j));
    v_store(d + j, wasm_f32x4_mul(rs, wasm_f32x4_sub(wasm_f32x4_sub(gg, vc1), wasm_f32x4_mul(xhat, vc2))));
  }
  for (; j < h; j++) {
    f32 g = dy[j];
    if (post) g *= post[j];
    f32 xhat = (d[j] - mean) * rstd;
    d[j] = rstd * ((g * gamma[j] - c1) - xhat * c2);
  }
}

/** acc[j] += v[j] (v·mask[j] when mask; the product also stored to out when out). */
static void row_accumulate(f32 *acc, const f32 *v, const f32 *mask, f32 *out, u32 h) {
  u32 j = 0;
  for (; j + 4 <= h; j += 4) {
    v128_t x = v_load(v + j);
    if (mask) x = wasm_f32x4_mul(x, v_load(mask + j));
    if (out) v_store(out + j, x);
    if (acc) v_store(acc + j, wasm_f32x4_add(v_load(acc + j), x));
  }
  for (; j < h; j++) {
    f32 x = v[j];
    if (mask) x *= mask[j];
    if (out) out[j] = x;
    if (acc) acc[j] += x;
  }
}

static void zero(f32 *p, unsigned long n) {
  for (unsigned long j = 0; j < n; j++) p[j] = 0.0f;
}

static inline unsigned long at(u32 row, u32 h) { return (unsigned long)row * h; }

void EXPORT(layer_norm_forward)(f32 *out, const f32 *y, const f32 *bias, const f32 *pre_mask, const f32 *res,
                                const f32 *gamma, const f32 *beta, u32 rows, u32 h, f32 eps) {
  for (u32 r = 0; r < rows; r++) {
    f32 *o = out + at(r, h);
    row_sum(o, y + at(r, h), bias, pre_mask ? pre_mask + at(r, h) : 0, res + at(r, h), 0, h);
    row_normalize(o, gamma, beta, 0, h, eps);
  }
}

/**
 * Gradients of layer_norm_forward: ds = ∂L/∂s (res's gradient, and y's without a pre_mask),
 * dy_pre = ds·pre_mask (y's, with a pre_mask; else null), dbias = Σ_rows ∂L/∂y, dgamma, dbeta.
 */
void EXPORT(layer_norm_backward)(f32 *ds, f32 *dy_pre, f32 *dbias, f32 *dgamma, f32 *dbeta,
                                 const f32 *dy, const f32 *y, const f32 *bias, const f32 *pre_mask, const f32 *res,
                                 const f32 *gamma, u32 rows, u32 h, f32 eps) {
  zero(dbias, h);
  zero(dgamma, h);
  zero(dbeta, h);
  for (u32 r = 0; r < rows; r++) {
    f32 *d = ds + at(r, h);
    const f32 *pre = pre_mask ? pre_mask + at(r, h) : 0;
    row_sum(d, y + at(r, h), bias, pre, res + at(r, h), 0, h);
    row_backward(d, dy + at(r, h), 0, gamma, dgamma, dbeta, h, eps);
    row_accumulate(dbias, d, pre, dy_pre ? dy_pre + at(r, h) : 0, h);
  }
}

/** Token ids are int32 (the op checks them against their tables before the kernels run). */
static inline u32 id_at(const int *ids, u32 r) { return (u32)ids[r]; }

void EXPORT(embedding_forward)(f32 *out, const f32 *words, const int *ids, const f32 *types, const int *type_ids, const f32 *positions, u32 seq,
                               const f32 *gamma, const f32 *beta, const f32 *post_mask, u32 rows, u32 h, f32 eps) {
  for (u32 r = 0; r < rows; r++) {
    f32 *o = out + at(r, h);
    row_sum(o, words + at(id_at(ids, r), h), 0, 0, types + at(id_at(type_ids, r), h), positions + at(r % seq, h), h);
    row_normalize(o, gamma, beta, post_mask ? post_mask + at(r, h) : 0, h, eps);
  }
}

/**
 * Gradients of embedding_forward: the tables' (dwords [vocab, h], dtypes [ntypes, h], dpos
 * [npos, h], rows no token used stay 0), dgamma, dbeta. `scratch` holds one row.
 */
void EXPORT(embedding_backward)(f32 *dwords, u32 vocab, f32 *dtypes, u32 ntypes, f32 *dpos, u32 npos, f32 *dgamma, f32 *dbeta, f32 *scratch,
                                const f32 *dy, const f32 *words, const int *ids, const f32 *types, const int *type_ids, const f32 *positions, u32 seq,
                                const f32 *gamma, const f32 *post_mask, u32 rows, u32 h, f32 eps) {
  zero(dwords, at(vocab, h));
  zero(dtypes, at(ntypes, h));
  zero(dpos, at(npos, h));
  zero(dgamma, h);
  zero(dbeta, h);
  for (u32 r = 0; r < rows; r++) {
    u32 id = id_at(ids, r), type = id_at(type_ids, r), pos = r % seq;
    row_sum(scratch, words + at(id, h), 0, 0, types + at(type, h), positions + at(pos, h), h);
    row_backward(scratch, dy + at(r, h), post_mask ? post_mask + at(r, h) : 0, gamma, dgamma, dbeta, h, eps);
    row_accumulate(dwords + at(id, h), scratch, 0, 0, h);
    row_accumulate(dtypes + at(type, h), scratch, 0, 0, h);
    row_accumulate(dpos + at(pos, h), scratch, 0, 0, h);
  }
}
