// A probe, not part of the library: P-Net's conv3 (3x3 VALID, NHWC float32, 16 -> 32
// channels) as a plain AVX-512 kernel behind XLA's FFI, to measure how far XLA:CPU's own
// convolution is from what this CPU can do (benchmarks/native_conv.py builds and times it).
//
// Each step keeps 6 output pixels x 32 channels in 12 vector registers and accumulates the
// 9 taps x 16 input channels as broadcast-FMAs; rows are split between `threads` threads.
#include <immintrin.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr int64_t kIn = 16, kOut = 32, kPixels = 6;

// Output pixel `ox` onwards of row `oy`, `n` pixels (n <= kPixels), accumulated in registers.
template <int n>
inline void pixels(const float* x, const float* w, float* yrow, int64_t width, int64_t oy, int64_t ox) {
  __m512 acc[n][2];
  for (int p = 0; p < n; ++p) acc[p][0] = acc[p][1] = _mm512_setzero_ps();
  for (int ky = 0; ky < 3; ++ky) {
    const float* xrow = x + ((oy + ky) * width + ox) * kIn;
    for (int kx = 0; kx < 3; ++kx) {
      const float* wk = w + (ky * 3 + kx) * kIn * kOut;
      const float* xp = xrow + kx * kIn;
      for (int c = 0; c < kIn; ++c) {
        const __m512 w0 = _mm512_loadu_ps(wk + c * kOut), w1 = _mm512_loadu_ps(wk + c * kOut + 16);
        for (int p = 0; p < n; ++p) {
          const __m512 b = _mm512_set1_ps(xp[p * kIn + c]);
          acc[p][0] = _mm512_fmadd_ps(b, w0, acc[p][0]);
          acc[p][1] = _mm512_fmadd_ps(b, w1, acc[p][1]);
        }
      }
    }
  }
  for (int p = 0; p < n; ++p) {
    _mm512_storeu_ps(yrow + (ox + p) * kOut, acc[p][0]);
    _mm512_storeu_ps(yrow + (ox + p) * kOut + 16, acc[p][1]);
  }
}

void rows(const float* x, const float* w, float* y, int64_t width, int64_t y0, int64_t y1) {
  const int64_t out_w = width - 2;
  for (int64_t oy = y0; oy < y1; ++oy) {
    float* yrow = y + oy * out_w * kOut;
    int64_t ox = 0;
    for (; ox + kPixels <= out_w; ox += kPixels) pixels<kPixels>(x, w, yrow, width, oy, ox);
    for (; ox < out_w; ++ox) pixels<1>(x, w, yrow, width, oy, ox);
  }
}

ffi::Error Conv3x3Impl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> y,
                       int64_t threads) {
  const auto d = x.dimensions();
  if (d.size() != 4 || d[3] != kIn || d[1] < 3 || d[2] < 3)
    return ffi::Error::InvalidArgument("x: expected (N, H >= 3, W >= 3, 16)");
  if (w.element_count() != 9 * kIn * kOut) return ffi::Error::InvalidArgument("w: expected (3, 3, 16, 32)");
  const int64_t n = d[0], h = d[1], width = d[2], out_h = h - 2;
  const float* wp = w.typed_data();
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.typed_data() + i * h * width * kIn;
    float* yi = y->typed_data() + i * out_h * (width - 2) * kOut;
    const int64_t t = threads < 1 ? 1 : threads;
    std::vector<std::thread> pool;
    for (int64_t k = 1; k < t; ++k)
      pool.emplace_back(rows, xi, wp, yi, width, out_h * k / t, out_h * (k + 1) / t);
    rows(xi, wp, yi, width, 0, out_h / t);
    for (auto& th : pool) th.join();
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(Conv3x3_16_32, Conv3x3Impl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));
