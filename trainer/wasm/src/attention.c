// Multi-head self-attention core, forward and backward, one call each for all (example, head)
// pairs: q, k, v and the gradients stay [batch·seq, hidden] with head h in columns [h·dh, (h+1)·dh),
// read and written in place with strides, so there are no transposes and no per-head dispatch.
//
// Per (b, h), with S = seq and P = softmax(q·kᵀ·scale + maskAdd), Pd = P ⊙ drop:
//   forward:  context = Pd·v; P is kept for the backward.
//   backward: dv = Pdᵀ·dctx; dPd = dctx·vᵀ; dS = (P ⊙ dP − rowsum(P ⊙ dP) ⊙ P)·scale with
//             dP = dPd ⊙ drop; dq = dS·k; dk = dSᵀ·q.
// Every product is one register-blocked micro-kernel (MR × NR = 4 rows × 8 columns: 8 vector
// accumulators, which x64's 16 vector registers hold with the operands; 6 rows measured no faster)
// over a right-hand side packed with its columns padded to a multiple of 8 in the caller's workspace.
// Summation orders are fixed, so results are deterministic.
#include "simd-math.h"

#define NR 8

static inline u32 round8(u32 x) { return (x + 7u) & ~7u; }

static inline f32 hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline f32 hmax(v128_t v) {
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/** Stores the first `nv` (< 8 means a partial last panel) of 8 columns. */
static inline void store_cols(f32 *c, v128_t lo, v128_t hi, u32 nv) {
  if (nv == NR) {
    v_store(c, lo);
    v_store(c + 4, hi);
  } else {
    f32 tmp[NR];
    v_store(tmp, lo);
    v_store(tmp + 4, hi);
    for (u32 j = 0; j < nv; j++) c[j] = tmp[j];
  }
}

/** Rows of the micro-kernel's block (its columns are NR). */
#define MR 4

/**
 * C[m, n] = Σ_k A(m, k)·B[k·ldb + n] for m < M, n < N, where A(m, k) = A[m·lda + k] (transA = 0)
 * or A[k·lda + m] (transA = 1). B must be readable up to column round8(N) of each row. C rows are
 * ldc apart; only columns < N are written.
 */
static inline __attribute__((always_inline)) void gemm(int transA, f32 *C, u32 ldc, const f32 *A, u32 lda, const f32 *B, u32 ldb, u32 M, u32 N, u32 K) {
  for (u32 n = 0; n < N; n += NR) {
    u32 nv = N - n < NR ? N - n : NR;
    const f32 *bp = B + n;
    u32 m = 0;
    for (; m + MR <= M; m += MR) {
      v128_t cl[MR], ch[MR];
#pragma clang loop unroll(full)
      for (u32 r = 0; r < MR; r++) cl[r] = ch[r] = wasm_f32x4_splat(0);
      const f32 *b = bp;
      if (transA) {
        const f32 *a = A + m;
        for (u32 k = 0; k < K; k++, a += lda, b += ldb) {
          v128_t bl = v_load(b), bh = v_load(b + 4);
#pragma clang loop unroll(full)
          for (u32 r = 0; r < MR; r++) {
            v128_t ar = v_splat(a[r]);
            cl[r] = v_fma(ar, bl, cl[r]);
            ch[r] = v_fma(ar, bh, ch[r]);
          }
        }
      } else {
        const f32 *a = A + m * lda;
        for (u32 k = 0; k < K; k++, b += ldb) {
          v128_t bl = v_load(b), bh = v_load(b + 4);
#pragma clang loop unroll(full)
          for (u32 r = 0; r < MR; r++) {
            v128_t ar = v_splat(a[r * lda + k]);
            cl[r] = v_fma(ar, bl, cl[r]);
            ch[r] = v_fma(ar, bh, ch[r]);
          }
        }
      }
      f32 *c = C + m * ldc + n;
#pragma clang loop unroll(full)
      for (u32 r = 0; r < MR; r++) store_cols(c + r * ldc, cl[r], ch[r], nv);
    }
    for (; m < M; m++) {
      v128_t cl = wasm_f32x4_splat(0), ch = cl;
      const f32 *b = bp;
      for (u32 k = 0; k < K; k++, b += ldb) {
        v128_t a = v_splat(transA ? A[k * lda + m] : A[m * lda + k]);
        cl = v_fma(a, v_load(b), cl);
        ch = v_fma(a, v_load(b + 4), ch);
      }
      store_cols(C + m * ldc + n, cl, ch, nv);
    }
  }
}

static void gemm_nn(f32 *C, u32 ldc, const f32 *A, u32 lda, const f32 *B, u32 ldb, u32 M, u32 N, u32 K) {
  gemm(0, C, ldc, A, lda, B, ldb, M, N, K);
}

static void gemm_tn(f32 *C, u32 ldc, const f32 *A, u32 lda, const f32 *B, u32 ldb, u32 M, u32 N, u32 K) {
  gemm(1, C, ldc, A, lda, B, ldb, M, N, K);
}

/** dst[r·ldd + c] = src[r·lds + c] for r < rows, c < cols; zero up to column ldd. */
static void pack_rows(f32 *dst, u32 ldd, const f32 *src, u32 lds, u32 rows, u32 cols) {
  for (u32 r = 0; r < rows; r++) {
    for (u32 c = 0; c < cols; c++) dst[r * ldd + c] = src[r * lds + c];
    for (u32 c = cols; c < ldd; c++) dst[r * ldd + c] = 0;
  }
}

/** dst[c·ldd + r] = src[r·lds + c] (the transpose) for r < rows, c < cols; zero up to column ldd. */
static void pack_transposed(f32 *dst, u32 ldd, const f32 *src, u32 lds, u32 rows, u32 cols) {
  for (u32 r = 0; r < rows; r++) {
    for (u32 c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
  }
  for (u32 c = 0; c < cols; c++) {
    for (u32 r = rows; r < ldd; r++) dst[c * ldd + r] = 0;
  }
}

/**
 * One row of scores x (S values, room for Sp) → p = softmax(x·scale + madd) into `p` (S values) and
 * p ⊙ drop (or p) back into x. Padding lanes hold −∞, so that they add exp(−∞) = 0 to the sum.
 */
static void softmax_row(f32 *x, const f32 *madd, f32 *p, const f32 *drop, u32 S, u32 Sp, f32 scale) {
  const u32 S4 = S & ~3u;
  const v128_t vscale = v_splat(scale);
  u32 j = 0;
  for (; j < S4; j += 4) v_store(x + j, wasm_f32x4_add(wasm_f32x4_mul(v_load(x + j), vscale), v_load(madd + j)));
  for (; j < S; j++) x[j] = x[j] * scale + madd[j];
  for (; j < Sp; j++) x[j] = -__builtin_inff();
  v128_t vmax = v_load(x);
  for (j = 4; j < Sp; j += 4) vmax = wasm_f32x4_pmax(vmax, v_load(x + j));
  const v128_t m = v_splat(hmax(vmax));
  v128_t vsum = wasm_f32x4_splat(0);
  for (j = 0; j < Sp; j += 4) {
    v128_t e = v_exp(wasm_f32x4_sub(v_load(x + j), m));
    v_store(x + j, e);
    vsum = wasm_f32x4_add(vsum, e);
  }
  const f32 sum = hsum(vsum);
  const v128_t vs = v_splat(sum);
  for (j = 0; j < S4; j += 4) {
    v128_t pv = wasm_f32x4_div(v_load(x + j), vs);
    v_store(p + j, pv);
    v_store(x + j, drop ? wasm_f32x4_mul(pv, v_load(drop + j)) : pv);
  }
  for (; j < S; j++) {
    f32 pv = x[j] / sum;
    p[j] = pv;
    x[j] = drop ? pv * drop[j] : pv;
  }
}

/**
 * In place on one row: x = dPd (S values) → dS = (P ⊙ dP − Σ(P ⊙ dP)·P)·scale, dP = dPd ⊙ drop
 * (the order of tfjs's softmax gradient: dy·y − sum(dy·y)·y).
 */
static void softmax_backward_row(f32 *x, const f32 *p, const f32 *drop, u32 S, f32 scale) {
  const u32 S4 = S & ~3u;
  v128_t vdot = wasm_f32x4_splat(0);
  u32 j = 0;
  for (; j < S4; j += 4) {
    v128_t dp = drop ? wasm_f32x4_mul(v_load(x + j), v_load(drop + j)) : v_load(x + j);
    v128_t t = wasm_f32x4_mul(dp, v_load(p + j));
    v_store(x + j, t);
    vdot = wasm_f32x4_add(vdot, t);
  }
  f32 dot = hsum(vdot);
  for (; j < S; j++) {
    f32 t = (drop ? x[j] * drop[j] : x[j]) * p[j];
    x[j] = t;
    dot += t;
  }
  const v128_t vdotv = v_splat(dot), vscale = v_splat(scale);
  for (j = 0; j < S4; j += 4) {
    v128_t ds = wasm_f32x4_sub(v_load(x + j), wasm_f32x4_mul(vdotv, v_load(p + j)));
    v_store(x + j, wasm_f32x4_mul(ds, vscale));
  }
  for (; j < S; j++) x[j] = (x[j] - dot * p[j]) * scale;
}

/** Floats of workspace attention_forward needs. */
u32 EXPORT(attention_forward_workspace)(u32 seq, u32 head_dim) {
  const u32 Sp = round8(seq), dhp = round8(head_dim);
  return head_dim * Sp + seq * dhp + seq * Sp;
}

/** Floats of workspace attention_backward needs. */
u32 EXPORT(attention_backward_workspace)(u32 seq, u32 head_dim) {
  const u32 Sp = round8(seq), dhp = round8(head_dim);
  return head_dim * Sp + seq * dhp + seq * Sp;
}

/**
 * out, q, k, v: [batch·seq, heads·dh]; probs: [batch, heads, seq, seq] (written: P before dropout);
 * mask_add: [batch, seq]; drop: [batch, heads, seq, seq] or 0 (no dropout); ws: the workspace
 * (attention_forward_workspace floats).
 */
void EXPORT(attention_forward)(f32 *out, f32 *probs, const f32 *q, const f32 *k, const f32 *v, const f32 *mask_add,
                               const f32 *drop, f32 *ws, u32 batch, u32 seq, u32 heads, u32 head_dim, f32 scale) {
  const u32 S = seq, dh = head_dim, hid = heads * dh, Sp = round8(S), dhp = round8(dh);
  f32 *kt = ws;             // [dh][Sp]: k of the head, transposed
  f32 *vp = kt + dh * Sp;   // [S][dhp]: v of the head
  f32 *sc = vp + S * dhp;   // [S][Sp]: scores, then P ⊙ drop
  for (u32 b = 0; b < batch; b++) {
    const u32 row0 = b * S * hid;
    for (u32 h = 0; h < heads; h++) {
      const u32 col0 = row0 + h * dh;
      const u32 bh = (b * heads + h) * S * S;
      pack_transposed(kt, Sp, k + col0, hid, S, dh);
      pack_rows(vp, dhp, v + col0, hid, S, dh);
      gemm_nn(sc, Sp, q + col0, hid, kt, Sp, S, S, dh);
      for (u32 i = 0; i < S; i++) softmax_row(sc + i * Sp, mask_add + b * S, probs + bh + i * S, drop ? drop + bh + i * S : 0, S, Sp, scale);
      gemm_nn(out + col0, hid, sc, Sp, vp, dhp, S, dh, S);
    }
  }
}

/**
 * dq, dk, dv, dctx, q, k, v: [batch·seq, heads·dh]; probs: P from attention_forward; drop as there;
 * ws: attention_backward_workspace floats.
 */
void EXPORT(attention_backward)(f32 *dq, f32 *dk, f32 *dv, const f32 *dctx, const f32 *q, const f32 *k, const f32 *v,
                                const f32 *probs, const f32 *drop, f32 *ws, u32 batch, u32 seq, u32 heads, u32 head_dim, f32 scale) {
  const u32 S = seq, dh = head_dim, hid = heads * dh, Sp = round8(S), dhp = round8(dh);
  f32 *vt = ws;             // [dh][Sp]: v of the head, transposed
  f32 *rp = vt + dh * Sp;   // [S][dhp]: dctx, then k, then q of the head
  f32 *x = rp + S * dhp;    // [S][Sp]: P ⊙ drop, then dPd, then dS
  for (u32 b = 0; b < batch; b++) {
    const u32 row0 = b * S * hid;
    for (u32 h = 0; h < heads; h++) {
      const u32 col0 = row0 + h * dh;
      const u32 bh = (b * heads + h) * S * S;
      const f32 *p = probs + bh;
      const f32 *dr = drop ? drop + bh : 0;
      // dv = Pdᵀ·dctx
      pack_rows(rp, dhp, dctx + col0, hid, S, dh);
      if (dr) {
        for (u32 i = 0; i < S; i++) {
          for (u32 j = 0; j < S; j++) x[i * Sp + j] = p[i * S + j] * dr[i * S + j];
        }
        gemm_tn(dv + col0, hid, x, Sp, rp, dhp, S, dh, S);
      } else {
        gemm_tn(dv + col0, hid, p, S, rp, dhp, S, dh, S);
      }
      // dPd = dctx·vᵀ, then dS in place
      pack_transposed(vt, Sp, v + col0, hid, S, dh);
      gemm_nn(x, Sp, dctx + col0, hid, vt, Sp, S, S, dh);
      for (u32 i = 0; i < S; i++) softmax_backward_row(x + i * Sp, p + i * S, dr ? dr + i * S : 0, S, scale);
      // dq = dS·k, dk = dSᵀ·q
      pack_rows(rp, dhp, k + col0, hid, S, dh);
      gemm_nn(dq + col0, hid, x, Sp, rp, dhp, S, dh, S);
      pack_rows(rp, dhp, q + col0, hid, S, dh);
      gemm_tn(dk + col0, hid, x, Sp, rp, dhp, S, dh, S);
    }
  }
}
