// MTCNN's R-Net (24x24 crops) and O-Net (48x48 crops) for CPUs, one crop at a time.
//
// Same result as `nets.RNet` / `nets.ONet` (float32, up to summation order). XLA:CPU runs
// their convolutions on one thread at ~40 GFLOP/s; here a crop's activations (at most
// ~300 KB) stay in cache from layer to layer, each convolution keeps several output
// pixels' channels in vector registers (broadcast-FMA), and the crops are shared by
// `threads` workers.
//
// Layouts (prepared by `jaxvis/faces/native_nets.py`): activations are HWC with channels
// padded to a multiple of 16; a convolution kernel is (k * k * cin, cout_pad), a dense
// kernel (rows of the previous activation in its HWC-padded order, out_pad); biases and
// PReLU slopes are padded with zeros.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using namespace jaxvis_native;

constexpr int kSlack = 8 * 128;  // floats past every activation: blocks may read past a row's end

struct Layer {
  const float* w;  // conv: (k * k * cin, cout); dense: (rows, cout)
  const float* b;  // (cout,)
  const float* a;  // (cout,) PReLU slopes, or nullptr for none
  int k, cin, cout;  // cout padded to a multiple of 16
};

// A feature map: h x w pixels of `c` floats (c a multiple of 16, or 3 for the input).
struct Map {
  float* data;
  int h, w, c;
};

// NP output pixels from (oy, ox), NV vectors of output channels each, kept in registers.
template <int NV, int NP>
inline void conv_block(const Layer& l, const Map& in, int oy, int ox, float* out, int np) {
  v16 acc[NP][NV];
  for (int v = 0; v < NV; ++v) {
    const v16 bv = load(l.b + v * kLanes);
    for (int p = 0; p < NP; ++p) acc[p][v] = bv;
  }
  for (int ky = 0; ky < l.k; ++ky) {
    for (int kx = 0; kx < l.k; ++kx) {
      const float* src = in.data + ((oy + ky) * in.w + ox + kx) * in.c;
      const float* wt = l.w + (ky * l.k + kx) * l.cin * l.cout;
      for (int ci = 0; ci < l.cin; ++ci) {
        v16 wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = load(wt + ci * l.cout + v * kLanes);
        for (int p = 0; p < NP; ++p) {
          const float xv = src[p * in.c + ci];
          for (int v = 0; v < NV; ++v) acc[p][v] += wv[v] * xv;
        }
      }
    }
  }
  for (int p = 0; p < np; ++p)
    for (int v = 0; v < NV; ++v) store(out + p * NV * kLanes + v * kLanes, prelu(acc[p][v], load(l.a + v * kLanes)));
}

// VALID convolution + PReLU: in -> out ((h - k + 1) x (w - k + 1) x cout).
template <int NV, int NP>
Map conv(const Layer& l, const Map& in, float* out_data) {
  Map out{out_data, in.h - l.k + 1, in.w - l.k + 1, l.cout};
  for (int oy = 0; oy < out.h; ++oy)
    for (int ox = 0; ox < out.w; ox += NP)
      conv_block<NV, NP>(l, in, oy, ox, out.data + (oy * out.w + ox) * out.c, std::min(NP, out.w - ox));
  return out;
}

// Max-pool (window, stride 2): "SAME" pads the end with -inf as lax.reduce_window does
// (low pad total / 2, the rest high); "VALID" keeps whole windows only.
Map pool(const Map& in, int window, bool same, float* out_data) {
  int oh, ow, pad_y = 0, pad_x = 0;
  if (same) {
    oh = (in.h + 1) / 2, ow = (in.w + 1) / 2;
    pad_y = std::max((oh - 1) * 2 + window - in.h, 0) / 2;
    pad_x = std::max((ow - 1) * 2 + window - in.w, 0) / 2;
  } else {
    oh = (in.h - window) / 2 + 1, ow = (in.w - window) / 2 + 1;
  }
  Map out{out_data, oh, ow, in.c};
  const v16 neg = v16{} - std::numeric_limits<float>::infinity();
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) {
      const int y0 = std::max(2 * i - pad_y, 0), y1 = std::min(2 * i - pad_y + window, in.h);
      const int x0 = std::max(2 * j - pad_x, 0), x1 = std::min(2 * j - pad_x + window, in.w);
      for (int v = 0; v < in.c / kLanes; ++v) {
        v16 m = neg;
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) {
            const v16 e = load(in.data + (y * in.w + x) * in.c + v * kLanes);
            m = (v16)(e > m ? e : m);
          }
        store(out.data + (i * ow + j) * in.c + v * kLanes, m);
      }
    }
  }
  return out;
}

// Dense layer over `n` inputs (+ PReLU when l.a is set); out has l.cout floats.
void dense(const Layer& l, const float* in, int n, float* out) {
  for (int v0 = 0; v0 < l.cout / kLanes; v0 += 4) {  // 4 output vectors at a time
    const int nv = std::min(4, l.cout / kLanes - v0);
    v16 acc[4];
    for (int v = 0; v < nv; ++v) acc[v] = load(l.b + (v0 + v) * kLanes);
    for (int i = 0; i < n; ++i) {
      const float xv = in[i];
      const float* wr = l.w + i * l.cout + v0 * kLanes;
      for (int v = 0; v < nv; ++v) acc[v] += load(wr + v * kLanes) * xv;
    }
    for (int v = 0; v < nv; ++v)
      store(out + (v0 + v) * kLanes, l.a ? prelu(acc[v], load(l.a + (v0 + v) * kLanes)) : acc[v]);
  }
}

// Scratch for one worker: two ping-pong activation buffers.
struct Scratch {
  std::vector<float> a, b;
  explicit Scratch(size_t floats) : a(floats + kSlack, 0.f), b(floats + kSlack, 0.f) {}
};

// Copies crop n (side x side x 3) into the scratch (the blocks may read past its rows).
Map input(const float* crops, int64_t n, int side, float* dst) {
  std::copy(crops + n * side * side * 3, crops + (n + 1) * side * side * 3, dst);
  return Map{dst, side, side, 3};
}

void rnet_one(const std::vector<Layer>& l, const float* crops, int64_t n, Scratch& s, float* deltas, float* logits) {
  Map x = input(crops, n, 24, s.a.data());
  x = conv<2, 8>(l[0], x, s.b.data());       // 22 x 22 x 32 (28 used)
  x = pool(x, 3, true, s.a.data());           // 11 x 11
  x = conv<3, 6>(l[1], x, s.b.data());       // 9 x 9 x 48
  x = pool(x, 3, false, s.a.data());          // 4 x 4
  x = conv<4, 4>(l[2], x, s.b.data());       // 3 x 3 x 64
  float* h = s.a.data();
  dense(l[3], x.data, x.h * x.w * x.c, h);    // 128
  float* o = s.a.data() + 1024;
  dense(l[4], h, 128, o);                     // 16: deltas 0-3, logits 4-5
  std::copy(o, o + 4, deltas + n * 4);
  std::copy(o + 4, o + 6, logits + n * 2);
}

void onet_one(const std::vector<Layer>& l, int points, const float* crops, int64_t n, Scratch& s, float* deltas,
              float* landmarks, float* logits) {
  Map x = input(crops, n, 48, s.a.data());
  x = conv<2, 8>(l[0], x, s.b.data());       // 46 x 46 x 32
  x = pool(x, 3, true, s.a.data());           // 23 x 23
  x = conv<4, 4>(l[1], x, s.b.data());       // 21 x 21 x 64
  x = pool(x, 3, false, s.a.data());          // 10 x 10
  x = conv<4, 4>(l[2], x, s.b.data());       // 8 x 8 x 64
  x = pool(x, 2, true, s.a.data());           // 4 x 4
  x = conv<8, 2>(l[3], x, s.b.data());       // 3 x 3 x 128
  float* h = s.a.data();
  dense(l[4], x.data, x.h * x.w * x.c, h);    // 256
  float* o = s.a.data() + 1024;
  dense(l[5], h, 256, o);                     // deltas 0-3, logits 4-5, landmarks from 6
  std::copy(o, o + 4, deltas + n * 4);
  std::copy(o + 4, o + 6, logits + n * 2);
  std::copy(o + 6, o + 6 + points, landmarks + n * points);
}

template <typename F>
void parallel_crops(int64_t count, int64_t threads, size_t scratch_floats, F one) {
  parallel_tasks(count, threads, [&] { return Scratch(scratch_floats); }, one);
}

// "" when a prepared parameter holds n values, else what is wrong.
std::string expect(const ffi::Buffer<ffi::F32>& buf, int64_t n, const char* what) {
  if (buf.element_count() == n) return "";
  return std::string(what) + ": expected " + std::to_string(n) + " values, got " +
         std::to_string(buf.element_count());
}

using F32 = ffi::Buffer<ffi::F32>;

ffi::Error RNetImpl(F32 crops, F32 w1, F32 b1, F32 a1, F32 w2, F32 b2, F32 a2, F32 w3, F32 b3, F32 a3, F32 w4,
                    F32 b4, F32 a4, F32 w5, F32 b5, ffi::ResultBuffer<ffi::F32> deltas,
                    ffi::ResultBuffer<ffi::F32> logits, int64_t threads) {
  const auto d = crops.dimensions();
  if (d.size() != 4 || d[1] != 24 || d[2] != 24 || d[3] != 3)
    return ffi::Error::InvalidArgument("crops: expected (N, 24, 24, 3) float32");
  for (const std::string& e : {expect(w1, 27 * 32, "conv1"), expect(w2, 9 * 28 * 48, "conv2"),
                               expect(w3, 4 * 48 * 64, "conv3"), expect(w4, 576 * 128, "fc4"),
                               expect(w5, 128 * 16, "fc5")})
    if (!e.empty()) return ffi::Error::InvalidArgument(e);
  const std::vector<Layer> l = {{w1.typed_data(), b1.typed_data(), a1.typed_data(), 3, 3, 32},
                                {w2.typed_data(), b2.typed_data(), a2.typed_data(), 3, 28, 48},
                                {w3.typed_data(), b3.typed_data(), a3.typed_data(), 2, 48, 64},
                                {w4.typed_data(), b4.typed_data(), a4.typed_data(), 0, 0, 128},
                                {w5.typed_data(), b5.typed_data(), nullptr, 0, 0, 16}};
  const float* x = crops.typed_data();
  float *dp = deltas->typed_data(), *lp = logits->typed_data();
  parallel_crops(d[0], threads, 22 * 22 * 32, [&](int64_t n, Scratch& s) { rnet_one(l, x, n, s, dp, lp); });
  return ffi::Error::Success();
}

ffi::Error ONetImpl(F32 crops, F32 w1, F32 b1, F32 a1, F32 w2, F32 b2, F32 a2, F32 w3, F32 b3, F32 a3, F32 w4,
                    F32 b4, F32 a4, F32 w5, F32 b5, F32 a5, F32 w6, F32 b6, ffi::ResultBuffer<ffi::F32> deltas,
                    ffi::ResultBuffer<ffi::F32> landmarks, ffi::ResultBuffer<ffi::F32> logits, int64_t threads) {
  const auto d = crops.dimensions();
  if (d.size() != 4 || d[1] != 48 || d[2] != 48 || d[3] != 3)
    return ffi::Error::InvalidArgument("crops: expected (N, 48, 48, 3) float32");
  const auto ld = landmarks->dimensions();
  const int points = static_cast<int>(ld.size() == 2 ? ld[1] : 0);
  const int head = (6 + points + kLanes - 1) / kLanes * kLanes;
  for (const std::string& e : {expect(w1, 27 * 32, "conv1"), expect(w2, 9 * 32 * 64, "conv2"),
                               expect(w3, 9 * 64 * 64, "conv3"), expect(w4, 4 * 64 * 128, "conv4"),
                               expect(w5, 1152 * 256, "fc5"), expect(w6, 256 * head, "fc6")})
    if (!e.empty()) return ffi::Error::InvalidArgument(e);
  const std::vector<Layer> l = {{w1.typed_data(), b1.typed_data(), a1.typed_data(), 3, 3, 32},
                                {w2.typed_data(), b2.typed_data(), a2.typed_data(), 3, 32, 64},
                                {w3.typed_data(), b3.typed_data(), a3.typed_data(), 3, 64, 64},
                                {w4.typed_data(), b4.typed_data(), a4.typed_data(), 2, 64, 128},
                                {w5.typed_data(), b5.typed_data(), a5.typed_data(), 0, 0, 256},
                                {w6.typed_data(), b6.typed_data(), nullptr, 0, 0, head}};
  const float* x = crops.typed_data();
  float *dp = deltas->typed_data(), *mp = landmarks->typed_data(), *lp = logits->typed_data();
  parallel_crops(d[0], threads, 46 * 46 * 32,
                 [&](int64_t n, Scratch& s) { onet_one(l, points, x, n, s, dp, mp, lp); });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(RNet, RNetImpl,
                              ffi::Ffi::Bind()
                                  .Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Ret<F32>().Ret<F32>()
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(ONet, ONetImpl,
                              ffi::Ffi::Bind()
                                  .Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>().Arg<F32>()
                                  .Ret<F32>().Ret<F32>().Ret<F32>()
                                  .Attr<int64_t>("threads"));
