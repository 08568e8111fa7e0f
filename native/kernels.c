/*
 * Robustness Lab's native kernels for the tfjs wasm backend (wasm32 + SIMD128).
 *
 * The module imports tfjs-wasm's own linear memory (wasm-ld --import-memory), so every pointer
 * below is a byte offset into tfjs's heap: the kernels read and write tensors in place, with no
 * copy. The module therefore owns no memory of its own: no data segments, no static variables, no
 * stack frames (scripts/build-kernels.sh checks the binary has no data section and never moves the
 * stack pointer).
 *
 * Geometry arguments follow tfjs's Conv2DInfo, NHWC.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* Adds n floats of src into dst. */
static inline void add_run(float *restrict dst, const float *restrict src, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  }
  for (; i < n; i++) dst[i] += src[i];
}

static inline void zero(float *p, int n) {
  int i = 0;
  v128_t z = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

/*
 * col2im: scatter-adds patch rows cols[m, (kh·kW + kw)·c + ci] (m = (n·outH + oh)·outW + ow)
 * into the NHWC image, which is zeroed first. The input gradient of a convolution.
 */
EXPORT(col2im)
void col2im(const float *restrict cols, float *restrict image, int batch, int inH, int inW, int c, int outH,
            int outW, int kH, int kW, int strideH, int strideW, int dilationH, int dilationW, int padTop,
            int padLeft) {
  const int patchLen = kH * kW * c;
  const int imageLen = inH * inW * c;
  for (int n = 0; n < batch; n++) {
    float *img = image + n * imageLen;
    zero(img, imageLen);
    const float *row = cols + n * outH * outW * patchLen;
    for (int oh = 0; oh < outH; oh++) {
      for (int ow = 0; ow < outW; ow++, row += patchLen) {
        for (int kh = 0; kh < kH; kh++) {
          const int ih = oh * strideH + kh * dilationH - padTop;
          if (ih < 0 || ih >= inH) continue;
          for (int kw = 0; kw < kW; kw++) {
            const int iw = ow * strideW + kw * dilationW - padLeft;
            if (iw < 0 || iw >= inW) continue;
            float *to = img + (ih * inW + iw) * c;
            const float *from = row + (kh * kW + kw) * c;
            if (c == 1) *to += *from;
            else add_run(to, from, c);
          }
        }
      }
    }
  }
}

/* The output columns [lo, hi) whose input column ow·stride + offset lies inside [0, inW). */
static inline void valid_columns(int outW, int stride, int offset, int inW, int *lo, int *hi) {
  int l = 0, h = outW;
  while (l < outW && l * stride + offset < 0) l++;
  while (h > l && (h - 1) * stride + offset >= inW) h--;
  *lo = l;
  *hi = h;
}

/*
 * Transposed im2col: colsT[k, m] with k = (kh·kW + kw)·c + ci and m = (n·outH + oh)·outW + ow,
 * zero where the tap falls in the padding. Written one sample at a time (its image stays in
 * cache); each output row segment is a contiguous run of outW floats. With c a multiple of 4, four
 * neighbouring pixels' channel runs are loaded as vectors and transposed 4×4, so each store writes
 * four columns of one channel's row. The filter gradient is then colsT · dy.
 */
EXPORT(im2col_t)
void im2col_t(const float *restrict image, float *restrict colsT, int batch, int inH, int inW, int c, int outH,
              int outW, int kH, int kW, int strideH, int strideW, int dilationH, int dilationW, int padTop,
              int padLeft) {
  const int rows = batch * outH * outW;
  const int plane = outH * outW;
  const int imageLen = inH * inW * c;
  const int step = strideW * c;
  for (int n = 0; n < batch; n++) {
    const float *img = image + n * imageLen;
    for (int kh = 0; kh < kH; kh++) {
      for (int kw = 0; kw < kW; kw++) {
        const int offset = kw * dilationW - padLeft;
        int lo, hi;
        valid_columns(outW, strideW, offset, inW, &lo, &hi);
        float *tap = colsT + (kh * kW + kw) * c * rows + n * plane;
        for (int oh = 0; oh < outH; oh++) {
          const int ih = oh * strideH + kh * dilationH - padTop;
          if (ih < 0 || ih >= inH) {
            for (int ci = 0; ci < c; ci++) zero(tap + ci * rows + oh * outW, outW);
            continue;
          }
          for (int ci = 0; ci < c; ci++) {
            float *o = tap + ci * rows + oh * outW;
            for (int ow = 0; ow < lo; ow++) o[ow] = 0.0f;
            for (int ow = hi; ow < outW; ow++) o[ow] = 0.0f;
          }
          const float *row = img + ih * inW * c;
          int ow = lo;
          if ((c & 3) == 0) {
            for (; ow + 4 <= hi; ow += 4) {
              const float *p = row + (ow * strideW + offset) * c;
              for (int cb = 0; cb < c; cb += 4) {
                const v128_t p0 = wasm_v128_load(p + cb);
                const v128_t p1 = wasm_v128_load(p + step + cb);
                const v128_t p2 = wasm_v128_load(p + 2 * step + cb);
                const v128_t p3 = wasm_v128_load(p + 3 * step + cb);
                const v128_t t0 = wasm_i32x4_shuffle(p0, p1, 0, 4, 1, 5);
                const v128_t t1 = wasm_i32x4_shuffle(p2, p3, 0, 4, 1, 5);
                const v128_t t2 = wasm_i32x4_shuffle(p0, p1, 2, 6, 3, 7);
                const v128_t t3 = wasm_i32x4_shuffle(p2, p3, 2, 6, 3, 7);
                float *o = tap + cb * rows + oh * outW + ow;
                wasm_v128_store(o, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
                wasm_v128_store(o + rows, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
                wasm_v128_store(o + 2 * rows, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
                wasm_v128_store(o + 3 * rows, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
              }
            }
          }
          if (c == 1) {
            /* The first layer's single channel: one strided copy per row. */
            float *o = tap + oh * outW;
            const float *p = row + offset;
            for (; ow < hi; ow++) o[ow] = p[ow * strideW];
          }
          for (; ow < hi; ow++) {
            const float *p = row + (ow * strideW + offset) * c;
            for (int ci = 0; ci < c; ci++) tap[ci * rows + oh * outW + ow] = p[ci];
          }
        }
      }
    }
  }
}

/* sign(v): −1, 0 or 1, and 0 for NaN (both comparisons are false), as tfjs's cpu backend. */
static inline v128_t sign4(v128_t v) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t pos = wasm_v128_and(wasm_f32x4_gt(v, wasm_f32x4_splat(0.0f)), one);
  const v128_t neg = wasm_v128_and(wasm_f32x4_lt(v, wasm_f32x4_splat(0.0f)), one);
  return wasm_f32x4_sub(pos, neg);
}

static inline float sign1(float v) { return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f; }

EXPORT(sign_f32)
void sign_f32(const float *restrict x, float *restrict out, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, sign4(wasm_v128_load(x + i)));
  for (; i < n; i++) out[i] = sign1(x[i]);
}

/*
 * min(max(x, lo), hi) keeping NaN, in place allowed (x may be out): the fused relu / relu6 of
 * src/engine/kernels/activation.ts. wasm's f32x4.max and f32x4.min return NaN when either operand
 * is NaN (unlike pmax/pmin and XNNPACK's clamp, which turn NaN into a bound), as the cpu backend does.
 */
EXPORT(clamp_f32)
void clamp_f32(const float *x, float *out, int n, float lo, float hi) {
  v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_min(wasm_f32x4_max(wasm_v128_load(x + i), vlo), vhi));
  for (; i < n; i++) {
    float v = x[i];
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
}

/*
 * clip(x + clip(v − x, −ε, ε), lo, hi): threat.ts's L∞ projection, op for op (tfjs's maximum/minimum
 * are std::max/min: pick b only when a < b, resp. b < a, which pmax/pmin do).
 */
static inline v128_t project4(v128_t xi, v128_t v, v128_t vne, v128_t ve, v128_t vlo, v128_t vhi) {
  v128_t delta = wasm_f32x4_pmin(wasm_f32x4_pmax(wasm_f32x4_sub(v, xi), vne), ve);
  return wasm_f32x4_pmin(wasm_f32x4_pmax(wasm_f32x4_add(xi, delta), vlo), vhi);
}

static inline float project1(float xi, float v, float e, float lo, float hi) {
  float delta = v - xi;
  delta = delta < -e ? -e : delta;
  delta = e < delta ? e : delta;
  float y = xi + delta;
  y = y < lo ? lo : y;
  return hi < y ? hi : y;
}

/*
 * One L∞ PGD step, fused: out = clip(x + clip(cur + α·sign(g) − x, −ε, ε), lo, hi), in the same
 * float operations and order as the composed tfjs ops (threat.ts's project after pgd.ts's move),
 * so the result is identical. α and ε are per sample (stride 1) or one value (stride 0).
 */
EXPORT(linf_step)
void linf_step(const float *restrict x, const float *restrict cur, const float *restrict grad,
               const float *restrict alpha, int alphaStride, const float *restrict eps, int epsStride,
               float *restrict out, int batch, int per, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo);
  const v128_t vhi = wasm_f32x4_splat(hi);
  for (int n = 0; n < batch; n++) {
    const float a = alpha[n * alphaStride];
    const float e = eps[n * epsStride];
    const v128_t va = wasm_f32x4_splat(a);
    const v128_t ve = wasm_f32x4_splat(e);
    const v128_t vne = wasm_f32x4_splat(-e);
    const int base = n * per;
    int i = 0;
    for (; i + 4 <= per; i += 4) {
      const v128_t xi = wasm_v128_load(x + base + i);
      const v128_t moved = wasm_f32x4_add(wasm_v128_load(cur + base + i),
                                          wasm_f32x4_mul(va, sign4(wasm_v128_load(grad + base + i))));
      wasm_v128_store(out + base + i, project4(xi, moved, vne, ve, vlo, vhi));
    }
    for (; i < per; i++) {
      out[base + i] = project1(x[base + i], cur[base + i] + a * sign1(grad[base + i]), e, lo, hi);
    }
  }
}

/*
 * One L∞ APGD step (Croce & Hein 2020), fused: z = Π(cur + η·sign(g)), then, after the first step,
 * Π(cur + m·(z − cur) + m'·(cur − prev)) with m' = 1 − m as the caller rounds it; Π is the L∞
 * projection onto the ball ∩ box. The same float operations in the same order as apgd.ts's
 * composed ops. η and ε are per sample (stride 1) or one value (stride 0).
 */
EXPORT(apgd_linf_step)
void apgd_linf_step(const float *restrict x, const float *restrict cur, const float *restrict prev,
                    const float *restrict grad, const float *restrict eta, int etaStride,
                    const float *restrict eps, int epsStride, float *restrict out, int batch, int per, float lo,
                    float hi, float m, float m1, int first) {
  const v128_t vlo = wasm_f32x4_splat(lo);
  const v128_t vhi = wasm_f32x4_splat(hi);
  const v128_t vm = wasm_f32x4_splat(m);
  const v128_t vm1 = wasm_f32x4_splat(m1);
  for (int n = 0; n < batch; n++) {
    const float a = eta[n * etaStride];
    const float e = eps[n * epsStride];
    const v128_t va = wasm_f32x4_splat(a);
    const v128_t ve = wasm_f32x4_splat(e);
    const v128_t vne = wasm_f32x4_splat(-e);
    const int base = n * per;
    int i = 0;
    for (; i + 4 <= per; i += 4) {
      const v128_t xi = wasm_v128_load(x + base + i);
      const v128_t c = wasm_v128_load(cur + base + i);
      const v128_t moved = wasm_f32x4_add(c, wasm_f32x4_mul(va, sign4(wasm_v128_load(grad + base + i))));
      v128_t z = project4(xi, moved, vne, ve, vlo, vhi);
      if (!first) {
        const v128_t p = wasm_v128_load(prev + base + i);
        const v128_t v = wasm_f32x4_add(wasm_f32x4_add(c, wasm_f32x4_mul(vm, wasm_f32x4_sub(z, c))),
                                        wasm_f32x4_mul(vm1, wasm_f32x4_sub(c, p)));
        z = project4(xi, v, vne, ve, vlo, vhi);
      }
      wasm_v128_store(out + base + i, z);
    }
    for (; i < per; i++) {
      const float xi = x[base + i];
      const float c = cur[base + i];
      float z = project1(xi, c + a * sign1(grad[base + i]), e, lo, hi);
      if (!first) z = project1(xi, (c + m * (z - c)) + m1 * (c - prev[base + i]), e, lo, hi);
      out[base + i] = z;
    }
  }
}

/*
 * Sum over the leading axes: out[j] = Σ_i x[i·inner + j] for i = 0 … outer − 1, in that order (the
 * order tfjs-wasm's Sum adds in after it transposes the reduced axes innermost, so the result is
 * identical), SIMD over j and without the transpose. The bias gradients of a layer: dy summed over
 * batch, height and width.
 */
EXPORT(sum_leading)
void sum_leading(const float *restrict x, float *restrict out, int outer, int inner) {
  int j = 0;
  for (; j + 16 <= inner; j += 16) {
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
    const float *p = x + j;
    for (int i = 0; i < outer; i++, p += inner) {
      a0 = wasm_f32x4_add(a0, wasm_v128_load(p));
      a1 = wasm_f32x4_add(a1, wasm_v128_load(p + 4));
      a2 = wasm_f32x4_add(a2, wasm_v128_load(p + 8));
      a3 = wasm_f32x4_add(a3, wasm_v128_load(p + 12));
    }
    wasm_v128_store(out + j, a0);
    wasm_v128_store(out + j + 4, a1);
    wasm_v128_store(out + j + 8, a2);
    wasm_v128_store(out + j + 12, a3);
  }
  for (; j + 4 <= inner; j += 4) {
    v128_t a = wasm_f32x4_splat(0.0f);
    const float *p = x + j;
    for (int i = 0; i < outer; i++, p += inner) a = wasm_f32x4_add(a, wasm_v128_load(p));
    wasm_v128_store(out + j, a);
  }
  for (; j < inner; j++) {
    float a = 0.0f;
    const float *p = x + j;
    for (int i = 0; i < outer; i++, p += inner) a += *p;
    out[j] = a;
  }
}
