// Bilinear resampling of packed 8-bit RGB into planar float model inputs,
// and the 2x2 box halving of the image pyramid, as WebAssembly with SIMD
// (built by build.sh; the .wasm is committed). Plain JS typed-array loops
// ran these at 10-25 ns a pixel, a third of an enrolment's time.
//
// Coordinates: output pixel (i, j) samples the source at
// (a*i + b*j + c, d*i + e*j + f), pixel centres at integers. Each sample is
// normalised to (value - mean) * scale per output plane. Samples outside the
// image take `border` (0..255), or the nearest edge pixel when border is
// REPLICATE. Arithmetic is float32 (the reference, test/helpers/
// reference-sampler.ts, uses float64; they agree to ~1e-5 of full scale).
//
// Every image and buffer the caller passes has 16 bytes of slack after it:
// the SIMD loads read up to 15 bytes past the last one they use.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

enum { RGB = 0, BGR = 1, GRAY = 2, GRAY3 = 3 };
enum { REPLICATE = -1 };

// Integers 0..2^23 to floats by the exponent trick (the float with bits
// 0x4b000000 | n is 2^23 + n): LLVM 14 lowers a plain widen-and-convert of
// bytes to four scalar unsigned conversions, several times slower.
// The bits 0x4b000000 are also the float 2^23. The constant is read from
// memory once per call: as a v128.const operand LLVM repeats it at every
// use, and V8 builds each one anew.
v128_t resample_magic = { 0x4b000000, 0x4b000000, 0x4b000000, 0x4b000000 };
#define MAGIC const v128_t magic = resample_magic
#define u32_to_f32(n) wasm_f32x4_sub(wasm_v128_or((n), magic), magic)

/** One pixel's R, G, B (and the next byte) as floats. */
#define pixel(p) u32_to_f32(wasm_u32x4_extend_low_u16x8(wasm_u16x8_load8x8(p)))

static inline int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

// Coordinates are clamped to +-2^24, far outside any image (the engine takes
// at most 40 megapixels, 16:1): a sample that far out is the border value or
// the edge pixel either way, and neighbour offsets and i32 conversions of
// clamped values cannot overflow. image-ops.ts refuses non-finite maps.
#define FAR 16777216.0

static inline double clampc(double v) { return v < -FAR ? -FAR : v > FAR ? FAR : v; }

/** floor of a coordinate already clamped by clampc. */
static inline int floori(double v) {
  const int i = (int)v;
  return (double)i > v ? i - 1 : i;
}

/** The output side of a sample: normalisation and the planes it is written to. */
typedef struct {
  float *r, *g, *b;   // plane receiving source R, G, B (rgb / bgr)
  int gray, gray3;
  v128_t mean, scale; // per source channel (lane 0 = R)
  float m0, s0;       // luma normalisation (gray, gray3)
} Output;

static Output output_of(float *out, int plane, int channels, float m0, float s0, float m1, float s1, float m2, float s2) {
  Output o;
  const int bgr = channels == BGR;
  o.gray = channels == GRAY || channels == GRAY3;
  o.gray3 = channels == GRAY3;
  // Source R goes to plane 0 (rgb) or plane 2 (bgr), with that plane's statistics.
  o.r = out + (bgr ? 2 * plane : 0);
  o.g = out + plane;
  o.b = out + (bgr ? 0 : 2 * plane);
  o.mean = bgr ? wasm_f32x4_make(m2, m1, m0, 0.0f) : wasm_f32x4_make(m0, m1, m2, 0.0f);
  o.scale = bgr ? wasm_f32x4_make(s2, s1, s0, 0.0f) : wasm_f32x4_make(s0, s1, s2, 0.0f);
  o.m0 = m0;
  o.s0 = s0;
  return o;
}

/** Writes the sampled value v (lanes R, G, B, 0..255) of output pixel k. */
static inline __attribute__((always_inline)) void put(const Output *o, int k, v128_t v, int gray) {
  if (gray) {
    const float lum = (0.299f * wasm_f32x4_extract_lane(v, 0) + 0.587f * wasm_f32x4_extract_lane(v, 1)
                       + 0.114f * wasm_f32x4_extract_lane(v, 2) - o->m0) * o->s0;
    o->r[k] = lum;
    if (o->gray3) o->g[k] = o->b[k] = lum;
  } else {
    v = wasm_f32x4_mul(wasm_f32x4_sub(v, o->mean), o->scale);
    o->r[k] = wasm_f32x4_extract_lane(v, 0);
    o->g[k] = wasm_f32x4_extract_lane(v, 1);
    o->b[k] = wasm_f32x4_extract_lane(v, 2);
  }
}

/** Neighbours p00 (x0, y0), p10 (x0 + 1, y0), p01, p11 blended: weights g = 1 - w across (x) then down (y). */
static inline __attribute__((always_inline)) v128_t bilerp(v128_t p00, v128_t p10, v128_t p01, v128_t p11, v128_t gx, v128_t wx, v128_t gy, v128_t wy) {
  const v128_t top = wasm_f32x4_add(wasm_f32x4_mul(p00, gx), wasm_f32x4_mul(p10, wx));
  const v128_t bottom = wasm_f32x4_add(wasm_f32x4_mul(p01, gx), wasm_f32x4_mul(p11, wx));
  return wasm_f32x4_add(wasm_f32x4_mul(top, gy), wasm_f32x4_mul(bottom, wy));
}

/** The bilinear sample at (x0 + fx, y0 + fy) near or outside the image's edge (kept out of the hot loop). */
static __attribute__((noinline)) v128_t edge_sample(const uint8_t *src, int W, int H, int x0, int y0, float fx, float fy, int replicate, float fillValue) {
  MAGIC;
  const int stride = W * 3;
  const v128_t fill = wasm_f32x4_splat(fillValue);
  v128_t p00, p10, p01, p11;
  if (replicate) {
    const int xa = clampi(x0, W - 1), xb = clampi(x0 + 1, W - 1), ya = clampi(y0, H - 1), yb = clampi(y0 + 1, H - 1);
    p00 = pixel(src + ya * stride + xa * 3); p10 = pixel(src + ya * stride + xb * 3);
    p01 = pixel(src + yb * stride + xa * 3); p11 = pixel(src + yb * stride + xb * 3);
  } else {
    const int inA = x0 >= 0 && x0 < W, inB = x0 + 1 >= 0 && x0 + 1 < W, in0 = y0 >= 0 && y0 < H, in1 = y0 + 1 >= 0 && y0 + 1 < H;
    // Offsets only of neighbours inside the image (others may be 2^24 away).
    p00 = in0 && inA ? pixel(src + y0 * stride + x0 * 3) : fill;
    p10 = in0 && inB ? pixel(src + y0 * stride + (x0 + 1) * 3) : fill;
    p01 = in1 && inA ? pixel(src + (y0 + 1) * stride + x0 * 3) : fill;
    p11 = in1 && inB ? pixel(src + (y0 + 1) * stride + (x0 + 1) * 3) : fill;
  }
  return bilerp(p00, p10, p01, p11, wasm_f32x4_splat(1 - fx), wasm_f32x4_splat(fx), wasm_f32x4_splat(1 - fy), wasm_f32x4_splat(fy));
}

#define LANE(v, q) wasm_i32x4_shuffle((v), (v), (q), (q), (q), (q))

/** The bilinear sample of an inside pixel at byte offset `at`, weights from lane Q of gx/wx, gy/wy. */
#define INSIDE_SAMPLE(at, Q) ({ \
    const uint8_t *p_ = src + (at); \
    bilerp(pixel(p_), pixel(p_ + 3), pixel(p_ + stride), pixel(p_ + stride + 3), LANE(gx, Q), LANE(wx, Q), LANE(gy, Q), LANE(wy, Q)); })

/** Writes four consecutive output pixels given as planes (lanes R0 R1 R2 R3, G0..., B0...). */
static inline __attribute__((always_inline)) void put_planes(const Output *o, int k, v128_t r, v128_t g, v128_t b, int gray) {
  if (gray) {
    const v128_t lum = wasm_f32x4_mul(wasm_f32x4_sub(wasm_f32x4_add(wasm_f32x4_add(
      wasm_f32x4_mul(r, wasm_f32x4_splat(0.299f)), wasm_f32x4_mul(g, wasm_f32x4_splat(0.587f))), wasm_f32x4_mul(b, wasm_f32x4_splat(0.114f))),
      wasm_f32x4_splat(o->m0)), wasm_f32x4_splat(o->s0));
    wasm_v128_store(o->r + k, lum);
    if (o->gray3) { wasm_v128_store(o->g + k, lum); wasm_v128_store(o->b + k, lum); }
  } else {
    wasm_v128_store(o->r + k, wasm_f32x4_mul(wasm_f32x4_sub(r, LANE(o->mean, 0)), LANE(o->scale, 0)));
    wasm_v128_store(o->g + k, wasm_f32x4_mul(wasm_f32x4_sub(g, LANE(o->mean, 1)), LANE(o->scale, 1)));
    wasm_v128_store(o->b + k, wasm_f32x4_mul(wasm_f32x4_sub(b, LANE(o->mean, 2)), LANE(o->scale, 2)));
  }
}

/** Writes four consecutive output pixels (values R, G, B, - each) as whole vectors per plane. */
static inline __attribute__((always_inline)) void put4(const Output *o, int k, v128_t v0, v128_t v1, v128_t v2, v128_t v3, int gray) {
  // Transpose: lanes R0 R1 R2 R3, G0.., B0...
  const v128_t rg01 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5), rg23 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5);
  const v128_t b01 = wasm_i32x4_shuffle(v0, v1, 2, 6, 2, 6), b23 = wasm_i32x4_shuffle(v2, v3, 2, 6, 2, 6);
  put_planes(o, k, wasm_i32x4_shuffle(rg01, rg23, 0, 1, 4, 5), wasm_i32x4_shuffle(rg01, rg23, 2, 3, 6, 7), wasm_i32x4_shuffle(b01, b23, 0, 1, 4, 5), gray);
}

/**
 * Any affine map: each output pixel reads its four neighbours. Coordinates
 * are found four pixels at a time (float32 offsets from a float64 start):
 * their floors, weights and byte offsets, and whether all four lie inside
 * the image; then four samples and one transposed store per plane.
 */
static inline __attribute__((always_inline)) void affine_body(const uint8_t *src, int W, int H, int outW, int outH,
    double a, double b, double c, double d, double e, double f, int border, const Output o, const int gray) {
  MAGIC;
  const int stride = W * 3;
  const int replicate = border == REPLICATE;
  const float fillValue = replicate ? 0.0f : (float)border;
  const v128_t lanes = wasm_f32x4_make(0, 1, 2, 3), one = wasm_f32x4_splat(1.0f);
  const v128_t maxX = wasm_i32x4_splat(W - 2), maxY = wasm_i32x4_splat(H - 2), zero = wasm_i32x4_splat(0);
  const v128_t stride4 = wasm_i32x4_splat(stride), three = wasm_i32x4_splat(3);
  const v128_t far = wasm_f32x4_splat((float)FAR), nearFar = wasm_f32x4_splat((float)-FAR);
  int k = 0;
  for (int j = 0; j < outH; j++) {
    const double rx = b * j + c, ry = e * j + f;
    for (int i = 0; i < outW; i += 4) {
      const double sx = clampc(rx + a * i), sy = clampc(ry + d * i);
      const int ix = floori(sx), iy = floori(sy);
      // Offsets within the four clamped like the start, so ix + offset stays within +-2^25.
      const v128_t xs = wasm_f32x4_pmax(wasm_f32x4_pmin(wasm_f32x4_add(wasm_f32x4_splat((float)(sx - ix)), wasm_f32x4_mul(lanes, wasm_f32x4_splat((float)a))), far), nearFar);
      const v128_t ys = wasm_f32x4_pmax(wasm_f32x4_pmin(wasm_f32x4_add(wasm_f32x4_splat((float)(sy - iy)), wasm_f32x4_mul(lanes, wasm_f32x4_splat((float)d))), far), nearFar);
      const v128_t fxs = wasm_f32x4_floor(xs), fys = wasm_f32x4_floor(ys);
      const v128_t wx = wasm_f32x4_sub(xs, fxs), wy = wasm_f32x4_sub(ys, fys);
      const v128_t gx = wasm_f32x4_sub(one, wx), gy = wasm_f32x4_sub(one, wy);
      const v128_t x0 = wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fxs), wasm_i32x4_splat(ix));
      const v128_t y0 = wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(fys), wasm_i32x4_splat(iy));
      const v128_t inside = wasm_v128_and(wasm_v128_and(wasm_i32x4_ge(x0, zero), wasm_i32x4_le(x0, maxX)),
                                          wasm_v128_and(wasm_i32x4_ge(y0, zero), wasm_i32x4_le(y0, maxY)));
      if (outW - i >= 4 && wasm_i32x4_all_true(inside)) {
        const v128_t offs = wasm_i32x4_add(wasm_i32x4_mul(y0, stride4), wasm_i32x4_mul(x0, three));
        put4(&o, k, INSIDE_SAMPLE(wasm_i32x4_extract_lane(offs, 0), 0), INSIDE_SAMPLE(wasm_i32x4_extract_lane(offs, 1), 1),
             INSIDE_SAMPLE(wasm_i32x4_extract_lane(offs, 2), 2), INSIDE_SAMPLE(wasm_i32x4_extract_lane(offs, 3), 3), gray);
        k += 4;
        continue;
      }
      // Some of the four at or past the edge (or the row's last few): one at a time.
      const int n = outW - i < 4 ? outW - i : 4;
      int xi[4], yi[4];
      float fx[4], fy[4];
      wasm_v128_store(xi, x0); wasm_v128_store(yi, y0);
      wasm_v128_store(fx, wx); wasm_v128_store(fy, wy);
      for (int q = 0; q < n; q++, k++) put(&o, k, edge_sample(src, W, H, xi[q], yi[q], fx[q], fy[q], replicate, fillValue), gray);
    }
  }
}

/**
 * Steps so large that four pixels' float32 offsets from the group's start are
 * no longer exact enough (or the start's clamp to +-2^24 moves the others):
 * only where the pyramid cannot go coarser (a level side under 4 px).
 */
static inline int wide_steps(double a, double d) {
  return a > 1024 || a < -1024 || d > 1024 || d < -1024;
}

/** The general map one pixel at a time, each coordinate in float64 (for wide_steps). */
static __attribute__((noinline)) void affine_per_pixel(const uint8_t *src, int W, int H, int outW, int outH,
    double a, double b, double c, double d, double e, double f, int border, const Output *o) {
  const int replicate = border == REPLICATE;
  const float fillValue = replicate ? 0.0f : (float)border;
  int k = 0;
  for (int j = 0; j < outH; j++) {
    for (int i = 0; i < outW; i++, k++) {
      const double x = clampc(a * i + b * j + c), y = clampc(d * i + e * j + f);
      const int x0 = floori(x), y0 = floori(y);
      put(o, k, edge_sample(src, W, H, x0, y0, (float)(x - x0), (float)(y - y0), replicate, fillValue), o->gray);
    }
  }
}

EXPORT(sample_affine)
void sample_affine(const uint8_t *src, int W, int H, float *out, int outW, int outH,
                   double a, double b, double c, double d, double e, double f, int channels, int border,
                   float m0, float s0, float m1, float s1, float m2, float s2) {
  const Output o = output_of(out, outW * outH, channels, m0, s0, m1, s1, m2, s2);
  // Specialised for gray and colour output (a per-pixel branch otherwise).
  if (wide_steps(a, d)) affine_per_pixel(src, W, H, outW, outH, a, b, c, d, e, f, border, &o);
  else if (o.gray) affine_body(src, W, H, outW, outH, a, b, c, d, e, f, border, o, 1);
  else affine_body(src, W, H, outW, outH, a, b, c, d, e, f, border, o, 0);
}

/** row[0..n) = bytes of src row r0 and r1 blended (1 - fy, fy), as floats; n rounded up to 16. */
static void blend_rows(const uint8_t *r0, const uint8_t *r1, float fy, int n, float *row) {
  MAGIC;
  const v128_t g = wasm_f32x4_splat(1 - fy), w = wasm_f32x4_splat(fy);
  for (int k = 0; k < n; k += 16) {
    const v128_t b0 = wasm_v128_load(r0 + k);
    const v128_t lo0 = wasm_u16x8_extend_low_u8x16(b0), hi0 = wasm_u16x8_extend_high_u8x16(b0);
    v128_t v[4] = { wasm_u32x4_extend_low_u16x8(lo0), wasm_u32x4_extend_high_u16x8(lo0), wasm_u32x4_extend_low_u16x8(hi0), wasm_u32x4_extend_high_u16x8(hi0) };
    if (fy == 0) {
      for (int q = 0; q < 4; q++) wasm_v128_store(row + k + 4 * q, u32_to_f32(v[q]));
    } else {
      const v128_t b1 = wasm_v128_load(r1 + k);
      const v128_t lo1 = wasm_u16x8_extend_low_u8x16(b1), hi1 = wasm_u16x8_extend_high_u8x16(b1);
      const v128_t u[4] = { wasm_u32x4_extend_low_u16x8(lo1), wasm_u32x4_extend_high_u16x8(lo1), wasm_u32x4_extend_low_u16x8(hi1), wasm_u32x4_extend_high_u16x8(hi1) };
      for (int q = 0; q < 4; q++) {
        wasm_v128_store(row + k + 4 * q, wasm_f32x4_add(wasm_f32x4_mul(u32_to_f32(v[q]), g), wasm_f32x4_mul(u32_to_f32(u[q]), w)));
      }
    }
  }
}

static inline void fill_row(float *row, int n, float value) {
  const v128_t v = wasm_f32x4_splat(value);
  for (int k = 0; k < n; k += 4) wasm_v128_store(row + k, v);
}

/** Output column i of a blended row: its two taps weighted (1 - tw[i], tw[i]). */
static inline __attribute__((always_inline)) v128_t column_tap(const float *row, const int *ta, const int *tb, const float *tw, int i) {
  const v128_t w = wasm_f32x4_splat(tw[i]), g = wasm_f32x4_splat(1 - tw[i]);
  return wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(row + ta[i]), g), wasm_f32x4_mul(wasm_v128_load(row + tb[i]), w));
}

/**
 * Maps without a turn or turned by 180 degrees (b = d = 0): source x depends
 * only on the output column, source y only on the row. Each output row first
 * blends the two source rows it falls between (whole vectors), then takes
 * each column's two taps from that blend. `scratch` holds 3 * W + 32 floats,
 * then 2 * outW ints and outW floats (see SCRATCH_WORDS in image-ops.ts).
 */
static inline __attribute__((always_inline)) void rows_body(const uint8_t *src, int W, int H, int outW, int outH,
    double a, double c, double e, double f, int border, float *scratch, const Output o, const int gray) {
  const int stride = W * 3;
  const int replicate = border == REPLICATE;
  const float fillValue = replicate ? 0.0f : (float)border;
  // The blended row covers source columns lo..hi, then a 16-float margin;
  // a tap outside the image reads from the margin, which holds the fill value.
  float *row = scratch;
  int *ta = (int *)(scratch + 3 * W + 32), *tb = ta + outW;
  float *tw = (float *)(tb + outW);
  int lo = W, hi = -1;
  for (int i = 0; i < outW; i++) {
    const double x = clampc(a * i + c);
    const int x0 = floori(x);
    int xa = x0, xb = x0 + 1;
    tw[i] = (float)(x - x0);
    if (replicate) { xa = clampi(xa, W - 1); xb = clampi(xb, W - 1); }
    if (xa >= 0 && xa < W) { if (xa < lo) lo = xa; if (xa > hi) hi = xa; }
    if (xb >= 0 && xb < W) { if (xb < lo) lo = xb; if (xb > hi) hi = xb; }
    ta[i] = xa;
    tb[i] = xb;
  }
  const int span = hi >= lo ? 3 * (hi - lo + 1) : 0;
  const int outside = 3 * W + 16; // float index of the fill margin
  for (int i = 0; i < outW; i++) {
    ta[i] = ta[i] >= 0 && ta[i] < W ? 3 * (ta[i] - lo) : outside;
    tb[i] = tb[i] >= 0 && tb[i] < W ? 3 * (tb[i] - lo) : outside;
  }
  fill_row(row + outside, 16, fillValue);
  const int n = (span + 15) & ~15;
  int k = 0;
  for (int j = 0; j < outH; j++) {
    const double y = clampc(e * j + f);
    const int y0 = floori(y);
    const float fy = (float)(y - y0);
    int ya = y0, yb = y0 + 1;
    if (replicate) { ya = clampi(ya, H - 1); yb = clampi(yb, H - 1); }
    const int in0 = ya >= 0 && ya < H, in1 = yb >= 0 && yb < H;
    if (!in0 && !in1) {
      fill_row(row, n, fillValue);
    } else if (in0 && (in1 || fy == 0)) {
      blend_rows(src + ya * stride + 3 * lo, src + (in1 ? yb : ya) * stride + 3 * lo, fy, n, row);
    } else {
      // One of the two rows is outside: blend the other with the fill value.
      const int inside = in0 ? ya : yb;
      const float keep = in0 ? 1 - fy : fy;
      blend_rows(src + inside * stride + 3 * lo, src, 0, n, row);
      for (int q = 0; q < span; q++) row[q] = row[q] * keep + fillValue * (1 - keep);
    }
    // Four pixels at a time, stored as whole vectors per plane (put4): the
    // scalar stores of put() were most of this loop's time.
    int i = 0;
    for (; i + 4 <= outW; i += 4, k += 4) {
      put4(&o, k, column_tap(row, ta, tb, tw, i), column_tap(row, ta, tb, tw, i + 1),
           column_tap(row, ta, tb, tw, i + 2), column_tap(row, ta, tb, tw, i + 3), gray);
    }
    for (; i < outW; i++, k++) put(&o, k, column_tap(row, ta, tb, tw, i), gray);
  }
}

/**
 * A whole-pixel shift (a = e = 1, c and f integers: the detector's tile
 * passes on their pyramid level): every output pixel is one source pixel,
 * exactly what rows_body computes (its taps weigh 1 and 0), without the
 * blended row. Four pixels at a time are taken apart into planes straight
 * from their 12 bytes.
 */
static inline __attribute__((always_inline)) void copy_body(const uint8_t *src, int W, int H, int outW, int outH,
    int x0, int y0, int border, const Output o, const int gray) {
  MAGIC;
  const int stride = W * 3;
  const int replicate = border == REPLICATE;
  const v128_t fill = wasm_f32x4_splat(replicate ? 0.0f : (float)border), zero = wasm_i32x4_splat(0);
  // Output columns [lo, hi) read inside the image; the others the border.
  const int lo = clampi(-x0, outW), hi = clampi(W - x0, outW);
  int k = 0;
  for (int j = 0; j < outH; j++, k += outW) {
    int y = y0 + j;
    if (replicate) y = clampi(y, H - 1);
    else if (y < 0 || y >= H) {
      for (int i = 0; i < outW; i++) put(&o, k + i, fill, gray);
      continue;
    }
    const uint8_t *row = src + y * stride;
    for (int i = 0; i < lo; i++) put(&o, k + i, replicate ? pixel(row) : fill, gray);
    int i = lo;
    for (; i + 4 <= hi; i += 4) {
      const v128_t v = wasm_v128_load(row + 3 * (x0 + i)); // 12 bytes used; the slack covers the rest
      put_planes(&o, k + i,
        u32_to_f32(wasm_i8x16_shuffle(v, zero, 0, 16, 16, 16, 3, 16, 16, 16, 6, 16, 16, 16, 9, 16, 16, 16)),
        u32_to_f32(wasm_i8x16_shuffle(v, zero, 1, 16, 16, 16, 4, 16, 16, 16, 7, 16, 16, 16, 10, 16, 16, 16)),
        u32_to_f32(wasm_i8x16_shuffle(v, zero, 2, 16, 16, 16, 5, 16, 16, 16, 8, 16, 16, 16, 11, 16, 16, 16)), gray);
    }
    for (; i < hi; i++) put(&o, k + i, pixel(row + 3 * (x0 + i)), gray);
    for (i = hi > lo ? hi : lo; i < outW; i++) put(&o, k + i, replicate ? pixel(row + 3 * (W - 1)) : fill, gray);
  }
}

/**
 * Whether the map is a whole-pixel shift that copy_body serves: shifts
 * within +-2^24 (as clampc keeps them), checked before the conversions to
 * int, which are undefined outside its range.
 */
static inline int whole_pixel_shift(double a, double c, double e, double f) {
  return a == 1.0 && e == 1.0 && c > -FAR && c < FAR && f > -FAR && f < FAR && c == (double)(int)c && f == (double)(int)f;
}

EXPORT(sample_rows)
void sample_rows(const uint8_t *src, int W, int H, float *out, int outW, int outH,
                 double a, double c, double e, double f, int channels, int border,
                 float m0, float s0, float m1, float s1, float m2, float s2, float *scratch) {
  const Output o = output_of(out, outW * outH, channels, m0, s0, m1, s1, m2, s2);
  if (whole_pixel_shift(a, c, e, f)) {
    if (o.gray) copy_body(src, W, H, outW, outH, (int)c, (int)f, border, o, 1);
    else copy_body(src, W, H, outW, outH, (int)c, (int)f, border, o, 0);
  } else if (o.gray) rows_body(src, W, H, outW, outH, a, c, e, f, border, scratch, o, 1);
  else rows_body(src, W, H, outW, outH, a, c, e, f, border, scratch, o, 0);
}

/** dst ((w/2) x (h/2), at least 1 x 1) = rounded 2x2 box means of src; an odd last row and column dropped. */
EXPORT(halve)
void halve(const uint8_t *src, int w, int h, uint8_t *dst) {
  const int ow = w > 1 ? w >> 1 : 1, oh = h > 1 ? h >> 1 : 1;
  const int stride = w * 3;
  // A 1-pixel-wide source cannot be halved in that direction; reuse the pixel.
  const int dx = w > 1 ? 3 : 0, dy = h > 1 ? stride : 0;
  for (int y = 0; y < oh; y++) {
    const uint8_t *p = src + 2 * y * stride, *q = p + dy;
    uint8_t *o = dst + y * ow * 3;
    for (int x = 0; x < ow; x++, p += 6, q += 6, o += 3) {
      o[0] = (uint8_t)((p[0] + p[dx] + q[0] + q[dx] + 2) >> 2);
      o[1] = (uint8_t)((p[1] + p[dx + 1] + q[1] + q[dx + 1] + 2) >> 2);
      o[2] = (uint8_t)((p[2] + p[dx + 2] + q[2] + q[dx + 2] + 2) >> 2);
    }
  }
}

/**
 * dst (h x w) = src (w x h) transposed: dst pixel (y, x) is src pixel (x, y).
 * A quarter-turned map reads a source column per output row; on the
 * transposed image it reads a row, and sample_rows serves it. In 16 x 16
 * blocks, so both sides stay in cache.
 */
EXPORT(transpose)
void transpose(const uint8_t *src, int w, int h, uint8_t *dst) {
  for (int by = 0; by < h; by += 16) {
    const int ey = by + 16 < h ? by + 16 : h;
    for (int bx = 0; bx < w; bx += 16) {
      const int ex = bx + 16 < w ? bx + 16 : w;
      for (int x = bx; x < ex; x++) {
        uint8_t *o = dst + (x * h + by) * 3;
        const uint8_t *p = src + (by * w + x) * 3;
        for (int y = by; y < ey; y++, o += 3, p += 3 * w) {
          o[0] = p[0]; o[1] = p[1]; o[2] = p[2];
        }
      }
    }
  }
}
