// The optimizer step (trainer/src/train/optimizer.ts) in one pass per parameter tensor: the
// composed path runs ~15 tfjs kernels per tensor, each a full read and write of it.
//
// Same float32 arithmetic as the composed ops, operation for operation: each op of optimizer.ts is
// one rounded float32 operation here, in the same order, with the same float32 scalars (the caller
// rounds them as tfjs does), so the two paths agree bit for bit given the same clipping factor.
// The build's -ffast-math would let clang reassociate (turned off below, for C's vector operators:
// the pragma does not reach wasm_simd128.h's functions, compiled under the command line's flags)
// and replace the division by the loop-invariant sqrt(1 − β2^t) with a product by its reciprocal
// (1 ulp off; prevented by reading that divisor through a volatile, see update_loop).
#include "simd-math.h"

#pragma clang fp reassociate(off) contract(off)

/** Σ x[i]² in float64: the squares of floats are exact in a double, and 8 partial sums keep it fast. */
double EXPORT(sum_squares)(const f32 *x, u32 n) {
  v128_t a0 = wasm_f64x2_splat(0), a1 = a0, a2 = a0, a3 = a0;
  u32 i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t x0 = v_load(x + i), x1 = v_load(x + i + 4);
    v128_t d0 = wasm_f64x2_promote_low_f32x4(x0), d1 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x0, x0, 2, 3, 2, 3));
    v128_t d2 = wasm_f64x2_promote_low_f32x4(x1), d3 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x1, x1, 2, 3, 2, 3));
    a0 = wasm_f64x2_add(a0, wasm_f64x2_mul(d0, d0));
    a1 = wasm_f64x2_add(a1, wasm_f64x2_mul(d1, d1));
    a2 = wasm_f64x2_add(a2, wasm_f64x2_mul(d2, d2));
    a3 = wasm_f64x2_add(a3, wasm_f64x2_mul(d3, d3));
  }
  v128_t a = wasm_f64x2_add(wasm_f64x2_add(a0, a1), wasm_f64x2_add(a2, a3));
  double sum = wasm_f64x2_extract_lane(a, 0) + wasm_f64x2_extract_lane(a, 1);
  for (; i < n; i++) sum += (double)x[i] * (double)x[i];
  return sum;
}

/** The scalars of one tensor's update, already rounded to float32 as tfjs rounds them. */
typedef struct {
  f32 coef;     // gradient clipping factor (1 when the norm is within max_grad_norm)
  f32 beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon;
  f32 prior;    // lr·λ of pre-trained weight decay (used only with p0)
  f32 decay;    // adamw: 1 − lr·wd;  bertadam: wd
  f32 step;     // adamw: lr/(1 − β1^t);  bertadam: lr
  f32 bc2_sqrt; // adamw: sqrt(1 − β2^t)
} Scalars;

enum { ADAMW = 0, BERTADAM = 1 };

/**
 * Four lanes of the update; m and v are updated through their pointers, the new p returned.
 * `kind` and `with_p0` are constants at each call site, so every variant is its own loop.
 */
/** Four float lanes with C's operators, which (unlike wasm_simd128.h's functions) the pragma above covers. */
typedef f32 f32x4 __attribute__((vector_size(16)));

static inline f32x4 splat4(f32 x) { return (f32x4){x, x, x, x}; }

static inline __attribute__((always_inline)) v128_t update4(int kind, int with_p0, v128_t p_, v128_t g_, f32 *m_at, f32 *v_at, v128_t m_, v128_t v_, v128_t p0_, const Scalars *s, const volatile f32 *bc2_sqrt) {
  f32x4 p = (f32x4)p_, g = (f32x4)g_, m = (f32x4)m_, v = (f32x4)v_;
  // p ← p − (p − p0)·lr·λ
  if (with_p0) p = p - (p - (f32x4)p0_) * splat4(s->prior);
  g = g * splat4(s->coef);
  m = m * splat4(s->beta1) + g * splat4(s->one_minus_beta1);
  v = v * splat4(s->beta2) + (g * g) * splat4(s->one_minus_beta2);
  v_store(m_at, (v128_t)m);
  v_store(v_at, (v128_t)v);
  f32x4 sqrt_v = (f32x4)wasm_f32x4_sqrt((v128_t)v);
  if (kind == ADAMW) {
    // p ← p·(1 − lr·wd);  p ← p − (m / (sqrt(v)/sqrt(1 − β2^t) + ε))·(lr/(1 − β1^t))
    p = p * splat4(s->decay);
    f32x4 denom = sqrt_v / splat4(*bc2_sqrt) + splat4(s->epsilon);
    return (v128_t)(p - (m / denom) * splat4(s->step));
  }
  // p ← p − (m/(sqrt(v) + ε) + p·wd)·lr
  f32x4 update = m / (sqrt_v + splat4(s->epsilon)) + p * splat4(s->decay);
  return (v128_t)(p - update * splat4(s->step));
}

static inline __attribute__((always_inline)) void update_loop(int kind, int with_p0, f32 *p_out, const f32 *p, const f32 *g, f32 *m, f32 *v, const f32 *p0, u32 n, const Scalars *s) {
  u32 i = 0;
  v128_t zero = wasm_f32x4_splat(0);
  // A volatile read in every iteration: no loop-invariant divisor for clang to take the reciprocal of.
  const volatile f32 *bc2_sqrt = &s->bc2_sqrt;
  for (; i + 4 <= n; i += 4) {
    v128_t q0 = with_p0 ? v_load(p0 + i) : zero;
    v_store(p_out + i, update4(kind, with_p0, v_load(p + i), v_load(g + i), m + i, v + i, v_load(m + i), v_load(v + i), q0, s, bc2_sqrt));
  }
  if (i < n) {
    // The tail in lanes of a stack block; the unused lanes compute on zeros and are dropped.
    f32 tp[4] = {0, 0, 0, 0}, tg[4] = {0, 0, 0, 0}, tm[4] = {0, 0, 0, 0}, tv[4] = {0, 0, 0, 0}, tq[4] = {0, 0, 0, 0}, out[4];
    for (u32 j = 0; i + j < n; j++) {
      tp[j] = p[i + j];
      tg[j] = g[i + j];
      tm[j] = m[i + j];
      tv[j] = v[i + j];
      if (with_p0) tq[j] = p0[i + j];
    }
    v_store(out, update4(kind, with_p0, v_load(tp), v_load(tg), tm, tv, v_load(tm), v_load(tv), v_load(tq), s, bc2_sqrt));
    for (u32 j = 0; i + j < n; j++) {
      p_out[i + j] = out[j];
      m[i + j] = tm[j];
      v[i + j] = tv[j];
    }
  }
}

/**
 * One tensor's update: p_out ← the new p; m and v in place. p0 is 0 without pre-trained weight
 * decay. kind: 0 adamw, 1 bertadam. Pointers are byte offsets on the shared heap; p_out must not
 * alias p, g or p0 (m and v alias only themselves).
 */
void EXPORT(adam_update)(u32 kind, f32 *p_out, const f32 *p, const f32 *g, f32 *m, f32 *v, const f32 *p0, u32 n,
                         f32 coef, f32 beta1, f32 one_minus_beta1, f32 beta2, f32 one_minus_beta2, f32 epsilon,
                         f32 prior, f32 decay, f32 step, f32 bc2_sqrt) {
  Scalars s = {coef, beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon, prior, decay, step, bc2_sqrt};
  if (kind == ADAMW) {
    if (p0) update_loop(ADAMW, 1, p_out, p, g, m, v, p0, n, &s);
    else update_loop(ADAMW, 0, p_out, p, g, m, v, p0, n, &s);
  } else {
    if (p0) update_loop(BERTADAM, 1, p_out, p, g, m, v, p0, n, &s);
    else update_loop(BERTADAM, 0, p_out, p, g, m, v, p0, n, &s);
  }
}
