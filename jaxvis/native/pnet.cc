// P-Net (MTCNN's proposal network) over a pyramid mosaic, fused, for CPUs.
//
// Same result as `nets.PNet` with `conv1_mask` (float32, up to summation order):
//   conv1 3x3 (3 -> 10) -> PReLU -> masked 2x2/2 max-pool (SAME) -> conv2 3x3 (10 -> 16)
//   -> PReLU -> conv3 3x3 (16 -> 32) -> PReLU -> 1x1 heads (4 box deltas, 2 logits).
// XLA:CPU runs each of these as its own pass over memory, its convolutions on one thread
// at ~40 GFLOP/s. Here each worker streams a band of output rows through ring buffers of a
// few pooled / conv2 rows (they stay in cache), keeps several output pixels' channels in
// vector registers (broadcast-FMA), and the bands of all images are shared by `threads`
// workers.
//
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "common.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using namespace jaxvis_native;

constexpr int kRing = 4;  // rows kept per ring (3 are read at once)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The network's weights, each output-channel vector padded to 16 lanes.
struct Weights {
  std::vector<float> w1;  // (27, 16): [ky, kx, ci] rows, 10 channels used
  std::vector<float> w2;  // (90, 16): [ky, kx, ci]
  std::vector<float> w3;  // (144, 32): [ky, kx, ci]
  std::vector<float> wh;  // (32, 16): lanes 0-3 box deltas, 4-5 logits
  v16 b1, a1, b2, a2, b3[2], a3[2], bh;
};

v16 padded(const float* p, int n) {
  v16 v{};
  for (int i = 0; i < n; ++i) v[i] = p[i];
  return v;
}

// One image's geometry.
struct Shape {
  int64_t h, w;    // mosaic
  int64_t ph, pw;  // pooled map: ceil((h - 2) / 2)
  int64_t gh, gw;  // output grid: pooled - 4
};

// conv1 + PReLU at `nc` consecutive conv1 columns from x0, of conv1 row y and (`two`) row
// y + 1: up to 16 pixels share each weight load.
template <int nc, bool two>
inline void conv1_block(const Weights& k, const Shape& s, const float* x, int64_t y, int64_t x0, v16 (*out)[8]) {
  v16 acc[2][nc];
  for (int c = 0; c < nc; ++c) acc[0][c] = acc[1][c] = k.b1;
  for (int ky = 0; ky < 3; ++ky) {
    const float* row = x + ((y + ky) * s.w + x0) * 3;
    for (int kx = 0; kx < 3; ++kx) {
      for (int ci = 0; ci < 3; ++ci) {
        const v16 wv = load(&k.w1[((ky * 3 + kx) * 3 + ci) * kLanes]);
        const float* r = row + kx * 3 + ci;
        for (int c = 0; c < nc; ++c) acc[0][c] += wv * r[c * 3];
        if (two)
          for (int c = 0; c < nc; ++c) acc[1][c] += wv * r[s.w * 3 + c * 3];
      }
    }
  }
  for (int c = 0; c < nc; ++c) {
    out[0][c] = prelu(acc[0][c], k.a1);
    if (two) out[1][c] = prelu(acc[1][c], k.a1);
  }
}

template <bool two>
void conv1_any(int nc, const Weights& k, const Shape& s, const float* x, int64_t y, int64_t x0, v16 (*out)[8]) {
  switch (nc) {  // the last block of a row may be short: no read past the input
    case 8: conv1_block<8, two>(k, s, x, y, x0, out); break;
    case 7: conv1_block<7, two>(k, s, x, y, x0, out); break;
    case 6: conv1_block<6, two>(k, s, x, y, x0, out); break;
    case 5: conv1_block<5, two>(k, s, x, y, x0, out); break;
    case 4: conv1_block<4, two>(k, s, x, y, x0, out); break;
    case 3: conv1_block<3, two>(k, s, x, y, x0, out); break;
    case 2: conv1_block<2, two>(k, s, x, y, x0, out); break;
    default: conv1_block<1, two>(k, s, x, y, x0, out); break;
  }
}

// Pooled row i (pw pixels, 16 floats each, lanes 10-15 unused) of one image: four pool
// windows (8 conv1 columns x 2 rows) per step.
void pooled_row(const Weights& k, const Shape& s, const float* x, const bool* mask, int64_t i, float* out) {
  const int64_t ch = s.h - 2, cw = s.w - 2;  // conv1 output extent
  const int64_t y = 2 * i;
  const bool two = y + 1 < ch;                // SAME pooling pads past the end with -inf
  for (int64_t j = 0; j < s.pw; j += 4) {
    const int64_t x0 = 2 * j;
    const int nc = static_cast<int>(std::min<int64_t>(8, cw - x0));  // conv1 columns that exist
    const int np = static_cast<int>(std::min<int64_t>(4, s.pw - j));  // pool windows this step
    v16 v[2][8];
    if (two) conv1_any<true>(nc, k, s, x, y, x0, v);
    else conv1_any<false>(nc, k, s, x, y, x0, v);
    v16 best[4] = {splat(kNegInf), splat(kNegInf), splat(kNegInf), splat(kNegInf)};
    for (int dy = 0; dy < (two ? 2 : 1); ++dy) {
      const bool* m = mask + (y + dy) * cw + x0;
      for (int c = 0; c < nc; ++c)
        if (m[c]) best[c / 2] = (v16)(v[dy][c] > best[c / 2] ? v[dy][c] : best[c / 2]);
    }
    // A window with no valid pixel reads 0 (as the block form of the XLA P-Net does):
    // no valid output cell depends on it, and 0 keeps the invalid ones finite.
    for (int p = 0; p < np; ++p) {
      if (best[p][0] == kNegInf) best[p] = v16{};
      store(out + (j + p) * kLanes, best[p]);
    }
  }
}

// Ring rows end in this many pixels of slack: the conv2 / conv3 blocks always compute
// whole blocks (the accumulators then stay in registers) and store only what exists.
constexpr int64_t kSlackPixels = 32;
constexpr int kConv2Pixels = 24, kConv3Pixels = 12;

// conv2 (10 -> 16) + PReLU: pixels [j0, j0 + n) of a row from pooled rows q..q+2.
inline void conv2_block(const Weights& k, const float* const* prow, int64_t j0, int n, float* out) {
  v16 acc[kConv2Pixels];
  for (int p = 0; p < kConv2Pixels; ++p) acc[p] = k.b2;
  for (int ky = 0; ky < 3; ++ky) {
    for (int kx = 0; kx < 3; ++kx) {
      const float* src = prow[ky] + (j0 + kx) * kLanes;
      for (int ci = 0; ci < 10; ++ci) {
        const v16 wv = load(&k.w2[((ky * 3 + kx) * 10 + ci) * kLanes]);
#pragma GCC unroll 24
        for (int p = 0; p < kConv2Pixels; ++p) acc[p] += wv * src[p * kLanes + ci];
      }
    }
  }
  for (int p = 0; p < n; ++p) store(out + (j0 + p) * kLanes, prelu(acc[p], k.a2));
}

void conv2_row(const Weights& k, const Shape& s, const float* const* prow, float* out) {
  const int64_t n = s.pw - 2;
  for (int64_t j = 0; j < n; j += kConv2Pixels)
    conv2_block(k, prow, j, static_cast<int>(std::min<int64_t>(kConv2Pixels, n - j)), out);
}

// conv3 (16 -> 32) + PReLU + the 1x1 heads: cells [j0, j0 + n) of output row r.
inline void output_block(const Weights& k, const float* const* crow, int64_t j0, int n, float* deltas,
                         float* logits) {
  v16 acc[kConv3Pixels][2];
  for (int p = 0; p < kConv3Pixels; ++p) acc[p][0] = k.b3[0], acc[p][1] = k.b3[1];
  for (int ky = 0; ky < 3; ++ky) {
    for (int kx = 0; kx < 3; ++kx) {
      const float* src = crow[ky] + (j0 + kx) * kLanes;
      for (int ci = 0; ci < 16; ++ci) {
        const float* wp = &k.w3[((ky * 3 + kx) * 16 + ci) * 32];
        const v16 w0 = load(wp), w1 = load(wp + 16);
#pragma GCC unroll 12
        for (int p = 0; p < kConv3Pixels; ++p) {
          const float xv = src[p * kLanes + ci];
          acc[p][0] += w0 * xv;
          acc[p][1] += w1 * xv;
        }
      }
    }
  }
  alignas(64) float feat[kConv3Pixels * 32];
  for (int p = 0; p < n; ++p) {
    store(feat + p * 32, prelu(acc[p][0], k.a3[0]));
    store(feat + p * 32 + 16, prelu(acc[p][1], k.a3[1]));
  }
  for (int p = 0; p < n; ++p) {
    v16 h = k.bh;
    for (int c = 0; c < 32; ++c) h += load(&k.wh[c * kLanes]) * feat[p * 32 + c];
    const int64_t cell = j0 + p;
    for (int t = 0; t < 4; ++t) deltas[cell * 4 + t] = h[t];
    logits[cell * 2] = h[4];
    logits[cell * 2 + 1] = h[5];
  }
}

void output_row(const Weights& k, const Shape& s, const float* const* crow, float* deltas, float* logits) {
  for (int64_t j = 0; j < s.gw; j += kConv3Pixels)
    output_block(k, crow, j, static_cast<int>(std::min<int64_t>(kConv3Pixels, s.gw - j)), deltas, logits);
}

// Output rows [r0, r1) of one image, streamed through the two rings.
void band(const Weights& k, const Shape& s, const float* x, const bool* mask, int64_t r0, int64_t r1,
          float* deltas, float* logits) {
  const int64_t pool_row = (s.pw + kSlackPixels) * kLanes, conv2_row_len = (s.pw - 2 + kSlackPixels) * kLanes;
  std::vector<float> pool(kRing * pool_row, 0.f), conv2(kRing * conv2_row_len, 0.f);
  auto pslot = [&](int64_t i) { return pool.data() + (i % kRing) * pool_row; };
  auto cslot = [&](int64_t q) { return conv2.data() + (q % kRing) * conv2_row_len; };
  int64_t next_pool = r0, next_conv2 = r0;
  for (int64_t r = r0; r < r1; ++r) {
    for (; next_conv2 <= r + 2; ++next_conv2) {
      for (; next_pool <= next_conv2 + 2; ++next_pool) pooled_row(k, s, x, mask, next_pool, pslot(next_pool));
      const float* prow[3] = {pslot(next_conv2), pslot(next_conv2 + 1), pslot(next_conv2 + 2)};
      conv2_row(k, s, prow, cslot(next_conv2));
    }
    const float* crow[3] = {cslot(r), cslot(r + 1), cslot(r + 2)};
    output_row(k, s, crow, deltas + r * s.gw * 4, logits + r * s.gw * 2);
  }
}

ffi::Error PNetImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::PRED> mask, ffi::Buffer<ffi::F32> w1,
                    ffi::Buffer<ffi::F32> b1, ffi::Buffer<ffi::F32> a1, ffi::Buffer<ffi::F32> w2,
                    ffi::Buffer<ffi::F32> b2, ffi::Buffer<ffi::F32> a2, ffi::Buffer<ffi::F32> w3,
                    ffi::Buffer<ffi::F32> b3, ffi::Buffer<ffi::F32> a3, ffi::Buffer<ffi::F32> w41,
                    ffi::Buffer<ffi::F32> b41, ffi::Buffer<ffi::F32> w42, ffi::Buffer<ffi::F32> b42,
                    ffi::ResultBuffer<ffi::F32> deltas, ffi::ResultBuffer<ffi::F32> logits, int64_t threads) {
  const auto d = x.dimensions();
  if (d.size() != 4 || d[3] != 3 || d[1] < 12 || d[2] < 12)
    return ffi::Error::InvalidArgument("x: expected (B, H >= 12, W >= 12, 3) float32");
  const auto md = mask.dimensions();
  if (md.size() != 3 || md[0] != d[0] || md[1] != d[1] - 2 || md[2] != d[2] - 2)
    return ffi::Error::InvalidArgument("conv1_mask: expected (B, H - 2, W - 2) bool");
  const struct { ffi::Buffer<ffi::F32>* buf; int64_t n; const char* name; } expect[] = {
      {&w1, 270, "conv1 kernel (3, 3, 3, 10)"}, {&b1, 10, "conv1 bias (10,)"}, {&a1, 10, "prelu1 (10,)"},
      {&w2, 1440, "conv2 kernel (3, 3, 10, 16)"}, {&b2, 16, "conv2 bias (16,)"}, {&a2, 16, "prelu2 (16,)"},
      {&w3, 4608, "conv3 kernel (3, 3, 16, 32)"}, {&b3, 32, "conv3 bias (32,)"}, {&a3, 32, "prelu3 (32,)"},
      {&w41, 128, "conv4_1 kernel (1, 1, 32, 4)"}, {&b41, 4, "conv4_1 bias (4,)"},
      {&w42, 64, "conv4_2 kernel (1, 1, 32, 2)"}, {&b42, 2, "conv4_2 bias (2,)"}};
  for (const auto& e : expect)
    if (e.buf->element_count() != e.n) return ffi::Error::InvalidArgument(std::string("expected ") + e.name);

  Weights k;
  k.w1.assign(27 * kLanes, 0.f);
  for (int t = 0; t < 27; ++t)
    for (int o = 0; o < 10; ++o) k.w1[t * kLanes + o] = w1.typed_data()[t * 10 + o];
  k.w2.assign(w2.typed_data(), w2.typed_data() + 1440);  // (90, 16) already
  k.w3.assign(w3.typed_data(), w3.typed_data() + 4608);  // (144, 32) already
  k.wh.assign(32 * kLanes, 0.f);
  for (int c = 0; c < 32; ++c) {
    for (int o = 0; o < 4; ++o) k.wh[c * kLanes + o] = w41.typed_data()[c * 4 + o];
    for (int o = 0; o < 2; ++o) k.wh[c * kLanes + 4 + o] = w42.typed_data()[c * 2 + o];
  }
  k.b1 = padded(b1.typed_data(), 10), k.a1 = padded(a1.typed_data(), 10);
  k.b2 = padded(b2.typed_data(), 16), k.a2 = padded(a2.typed_data(), 16);
  for (int h = 0; h < 2; ++h) {
    k.b3[h] = padded(b3.typed_data() + 16 * h, 16);
    k.a3[h] = padded(a3.typed_data() + 16 * h, 16);
  }
  float bh[6];
  std::copy(b41.typed_data(), b41.typed_data() + 4, bh);
  std::copy(b42.typed_data(), b42.typed_data() + 2, bh + 4);
  k.bh = padded(bh, 6);

  Shape s;
  s.h = d[1], s.w = d[2];
  s.ph = (s.h - 2 + 1) / 2, s.pw = (s.w - 2 + 1) / 2;
  s.gh = s.ph - 4, s.gw = s.pw - 4;
  const int64_t batch = d[0];
  const int64_t workers = std::max<int64_t>(1, threads);
  // Bands: enough for every worker to stay busy, few enough that the 6-row halo each
  // band recomputes stays small.
  const int64_t per_image = std::clamp<int64_t>((2 * workers + batch - 1) / batch, 1, std::max<int64_t>(1, s.gh / 16));
  const int64_t tasks = batch * per_image;
  parallel_tasks(tasks, workers, [] { return 0; }, [&](int64_t t, int) {
    const int64_t b = t / per_image, part = t % per_image;
    const int64_t r0 = s.gh * part / per_image, r1 = s.gh * (part + 1) / per_image;
    band(k, s, x.typed_data() + b * s.h * s.w * 3, mask.typed_data() + b * (s.h - 2) * (s.w - 2), r0, r1,
         deltas->typed_data() + b * s.gh * s.gw * 4, logits->typed_data() + b * s.gh * s.gw * 2);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(PNet, PNetImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));
