// Vector math for the kernels: no libm in a freestanding wasm build, and these are branch-free
// over four lanes. Accuracy is float32's (exp: ~2 ulp; erf: 1.5e-7 absolute, the Abramowitz &
// Stegun 7.1.26 formula that tfjs's own Erf kernels use).
#pragma once
#include <wasm_simd128.h>

typedef float f32;
typedef unsigned int u32;

#define EXPORT(name) __attribute__((export_name(#name))) name

static inline v128_t v_splat(f32 x) { return wasm_f32x4_splat(x); }
static inline v128_t v_load(const f32 *p) { return wasm_v128_load(p); }
static inline void v_store(f32 *p, v128_t v) { wasm_v128_store(p, v); }
static inline v128_t v_fma(v128_t a, v128_t b, v128_t c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }

/** e^x (Cephes expf); exactly 0 below -87.3, as softmax over masked (-3.4e38) scores needs. */
static inline v128_t v_exp(v128_t x) {
  const v128_t hi = v_splat(88.3762626647949f), lo = v_splat(-87.3365447505531f);
  v128_t underflow = wasm_f32x4_lt(x, lo);
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, lo), hi);
  v128_t fx = wasm_f32x4_nearest(wasm_f32x4_mul(x, v_splat(1.44269504088896341f)));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, v_splat(0.693359375f)));
  x = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, v_splat(-2.12194440e-4f)));
  v128_t z = wasm_f32x4_mul(x, x);
  v128_t y = v_splat(1.9875691500e-4f);
  y = v_fma(y, x, v_splat(1.3981999507e-3f));
  y = v_fma(y, x, v_splat(8.3334519073e-3f));
  y = v_fma(y, x, v_splat(4.1665795894e-2f));
  y = v_fma(y, x, v_splat(1.6666665459e-1f));
  y = v_fma(y, x, v_splat(5.0000001201e-1f));
  y = wasm_f32x4_add(v_fma(y, z, x), v_splat(1.0f));
  v128_t pow2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fx), wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(y, pow2), underflow);
}

/**
 * Abramowitz & Stegun 7.1.26's polynomial: erf(a) = 1 − poly(a)·e^(−a²) for a = |x| ≥ 0 (callers
 * that also need e^(−a²), as GELU's gradient does, compute it once).
 */
static inline v128_t v_erfc_poly(v128_t ax) {
  v128_t t = wasm_f32x4_div(v_splat(1.0f), v_fma(ax, v_splat(0.3275911f), v_splat(1.0f)));
  v128_t poly = v_splat(1.061405429f);
  poly = v_fma(poly, t, v_splat(-1.453152027f));
  poly = v_fma(poly, t, v_splat(1.421413741f));
  poly = v_fma(poly, t, v_splat(-0.284496736f));
  poly = v_fma(poly, t, v_splat(0.254829592f));
  return wasm_f32x4_mul(poly, t);
}

/** copysign(magnitude, sign) */
static inline v128_t v_copysign(v128_t magnitude, v128_t sign) {
  return wasm_v128_or(magnitude, wasm_v128_and(sign, wasm_i32x4_splat((int)0x80000000u)));
}

/** erf(x), Abramowitz & Stegun 7.1.26. */
static inline v128_t v_erf(v128_t x) {
  v128_t ax = wasm_f32x4_abs(x);
  v128_t y = wasm_f32x4_sub(v_splat(1.0f), wasm_f32x4_mul(v_erfc_poly(ax), v_exp(wasm_f32x4_neg(wasm_f32x4_mul(ax, ax)))));
  return v_copysign(y, x);
}
