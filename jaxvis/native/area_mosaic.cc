// P-Net's pyramid mosaic (jaxvis/faces/pyramid.py, `build_mosaic`) as one CPU kernel.
//
// Every level of every image is area-resampled (TensorFlow ResizeArea: output index o
// covers input [o*s, (o+1)*s), s = in/out, clamped to the input; each input pixel is
// weighted by its overlap, the sum divided by s) into its place in the mosaic; all else is
// zero. XLA builds this from cumulative sums and gathers (~94 ms a 1080p frame on two
// cores); here each output row is a weighted sum of a few input rows (the row pass, into a
// per-thread buffer), then each output pixel a weighted sum of a few buffer pixels.
//
// Each thread streams a chunk of an image's input rows in bands of ~256 KiB, and every
// level takes from a band what its output rows need while the band is in L2: the image is
// read from memory about once, not once per level (a 1080p image is 25 MB; most levels'
// spans are longer than a band). An output row whose span crosses a band boundary is
// carried to the next band in a per-level buffer (the spans [o*s, (o+1)*s) are disjoint,
// so at most one row per level is carried). A chunk owns the output rows whose span starts
// in it, reading past its end to finish them. Zeroing is separate work over bands of
// mosaic rows and touches only what no level writes. Chunks are shared by `threads`
// threads (`parallel_tasks`).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using jaxvis_native::parallel_tasks;

// Input rows per band: about this many bytes of rows, so a band, the carried rows and the
// row buffer stay in L2 (1 MiB per core on the development machine).
constexpr int64_t kBandBytes = 256 << 10;
constexpr int64_t kChunksPerThread = 4;   // chunks per thread and batch, for balance
constexpr int64_t kMinChunkBands = 4;     // ...but no chunk shorter than this many bands
constexpr int64_t kZeroRows = 32;         // mosaic rows per zeroing work item

// One output index's input span [first, first + count) and weights (overlap / s), as the
// XLA form computes positions: float32 s = in / max(out, 1), lo = min(o * s, in),
// hi = min((o + 1) * s, in).
struct Spans {
  std::vector<int32_t> first, count, offset;  // per output index; offset into `weight`
  std::vector<float> weight;
  // the same as `taps` weights per output from `start` (zeros padding each span to the
  // longest): the column pass then runs fixed-length, unrolled loops
  int taps = 0;
  std::vector<int32_t> start;
  std::vector<float> padded;
};

void area_spans(int64_t in, int64_t out, Spans& sp) {
  sp.first.resize(out);
  sp.count.resize(out);
  sp.offset.resize(out);
  sp.weight.clear();
  const float fin = static_cast<float>(in);
  const float s = fin / static_cast<float>(std::max<int64_t>(out, 1));
  for (int64_t o = 0; o < out; ++o) {
    const float fo = static_cast<float>(o);
    const float lo = std::min(fo * s, fin), hi = std::min((fo + 1.0f) * s, fin);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(lo)), in);
    const int64_t i1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(hi)), in);
    // an empty span (lo rounded onto `in`) still gets a row inside the input, for banding
    sp.first[o] = static_cast<int32_t>(std::min<int64_t>(i0, std::max<int64_t>(in - 1, 0)));
    sp.offset[o] = static_cast<int32_t>(sp.weight.size());
    int32_t n = 0;
    for (int64_t i = i0; i < i1; ++i, ++n)
      sp.weight.push_back((std::min(hi, static_cast<float>(i + 1)) - std::max(lo, static_cast<float>(i))) / s);
    sp.count[o] = n;
  }
}

// Fills `taps`, `start`, `padded` (taps = 0 when a span would not fit the input).
void pad_spans(int64_t in, Spans& sp) {
  const int64_t out = sp.first.size();
  int32_t taps = 1;
  for (int64_t o = 0; o < out; ++o) taps = std::max(taps, sp.count[o]);
  sp.taps = taps <= in ? taps : 0;
  if (!sp.taps) return;
  sp.start.resize(out);
  sp.padded.assign(out * taps, 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    // shifted left near the input's end, so no tap reads past it
    const int32_t st = std::min<int32_t>(sp.first[o], static_cast<int32_t>(in - taps));
    sp.start[o] = st;
    for (int32_t i = 0; i < sp.count[o]; ++i)
      sp.padded[o * taps + (sp.first[o] - st) + i] = sp.weight[sp.offset[o] + i];
  }
}

struct LevelPlan {      // one image at one level
  int64_t out_h = 0, out_w = 0, top = 0, left = 0;
  Spans rows, cols;
};

struct Job {
  const float* x;       // (B, H, W, C)
  float* y;             // (B, Hm, Wm, C)
  int64_t h, w, c, hm, wm, levels;
  std::vector<int64_t> in_h, in_w, band_rows, chunk_rows;  // per image
  std::vector<int64_t> chunks_before;                      // prefix sums of chunks per image
  std::vector<LevelPlan> lv;                               // [b * levels + k]
  int64_t zero_items_per_image, zero_items, total_items;
};

struct Scratch {        // one thread's buffers
  std::vector<float> row, carry;   // a finished output row; the carried row of each level
  std::vector<int64_t> next, stop; // per level: the next output row, one past the chunk's last
};

// Output pixels of one level row: out[j * C + ch] = sum_i w_i * buf[i * C + ch].
template <int C>
void columns(const float* buf, float* out, const Spans& sp, int64_t out_w, int64_t c_rt) {
  const int64_t c = C > 0 ? C : c_rt;
  for (int64_t j = 0; j < out_w; ++j) {
    const float* src = buf + sp.first[j] * c;
    const float* w = sp.weight.data() + sp.offset[j];
    const int32_t n = sp.count[j];
    float* dst = out + j * c;
    for (int64_t ch = 0; ch < c; ++ch) {
      float acc = 0.0f;
      for (int32_t i = 0; i < n; ++i) acc += w[i] * src[i * c + ch];
      dst[ch] = acc;
    }
  }
}

// The same with T taps per output (`Spans::padded`), unrolled: the large levels' spans
// are 2-4 pixels, where a loop of variable length costs more than its arithmetic.
template <int C, int T>
void columns_fixed(const float* buf, float* out, const Spans& sp, int64_t out_w) {
  const int32_t* start = sp.start.data();
  const float* weights = sp.padded.data();
  for (int64_t j = 0; j < out_w; ++j) {
    const float* src = buf + start[j] * C;
    const float* w = weights + j * T;
    float acc[C] = {};
    for (int m = 0; m < T; ++m)
      for (int ch = 0; ch < C; ++ch) acc[ch] += w[m] * src[m * C + ch];
    for (int ch = 0; ch < C; ++ch) out[j * C + ch] = acc[ch];
  }
}

template <int C>
void columns_any(const float* buf, float* out, const Spans& sp, int64_t out_w, int64_t c_rt) {
  if constexpr (C > 0) {
    switch (sp.taps) {
      case 1: return columns_fixed<C, 1>(buf, out, sp, out_w);
      case 2: return columns_fixed<C, 2>(buf, out, sp, out_w);
      case 3: return columns_fixed<C, 3>(buf, out, sp, out_w);
      case 4: return columns_fixed<C, 4>(buf, out, sp, out_w);
      case 5: return columns_fixed<C, 5>(buf, out, sp, out_w);
      case 6: return columns_fixed<C, 6>(buf, out, sp, out_w);
      case 7: return columns_fixed<C, 7>(buf, out, sp, out_w);
      case 8: return columns_fixed<C, 8>(buf, out, sp, out_w);
      default: break;
    }
  }
  columns<C>(buf, out, sp, out_w, c_rt);
}

// t = (init ? 0 : t) + sum_i w[i] * rows[i] over n >= 1 rows `stride` apart, four rows a
// pass so t is loaded and stored once per four rows rather than once per row.
void row_pass(float* __restrict t, const float* __restrict x, int64_t stride, const float* w, int64_t n,
              int64_t len, bool init) {
  for (int64_t i = 0; i < n; i += 4) {
    const float* a = x + i * stride;
    const float wa = w[i];
    const bool first = init && i == 0;
    switch (std::min<int64_t>(n - i, 4)) {
      case 1:
        if (first) for (int64_t v = 0; v < len; ++v) t[v] = wa * a[v];
        else for (int64_t v = 0; v < len; ++v) t[v] += wa * a[v];
        break;
      case 2: {
        const float *b = a + stride, wb = w[i + 1];
        if (first) for (int64_t v = 0; v < len; ++v) t[v] = wa * a[v] + wb * b[v];
        else for (int64_t v = 0; v < len; ++v) t[v] += wa * a[v] + wb * b[v];
        break;
      }
      case 3: {
        const float *b = a + stride, *c = b + stride, wb = w[i + 1], wc = w[i + 2];
        if (first) for (int64_t v = 0; v < len; ++v) t[v] = wa * a[v] + wb * b[v] + wc * c[v];
        else for (int64_t v = 0; v < len; ++v) t[v] += wa * a[v] + wb * b[v] + wc * c[v];
        break;
      }
      default: {
        const float *b = a + stride, *c = b + stride, *d = c + stride;
        const float wb = w[i + 1], wc = w[i + 2], wd = w[i + 3];
        if (first) for (int64_t v = 0; v < len; ++v) t[v] = wa * a[v] + wb * b[v] + wc * c[v] + wd * d[v];
        else for (int64_t v = 0; v < len; ++v) t[v] += wa * a[v] + wb * b[v] + wc * c[v] + wd * d[v];
        break;
      }
    }
  }
}

// Every level's output rows of image b whose span starts in input chunk `chunk`.
void run_chunk(const Job& job, int64_t b, int64_t chunk, Scratch& sc) {
  const int64_t in_h = job.in_h[b], band = job.band_rows[b];
  const int64_t r0 = chunk * job.chunk_rows[b], r1 = std::min(r0 + job.chunk_rows[b], in_h);
  const int64_t row_len = job.in_w[b] * job.c;          // valid values of one input row
  const int64_t in_stride = job.w * job.c, out_stride = job.wm * job.c;
  const float* xb = job.x + b * job.h * in_stride;
  float* yb = job.y + b * job.hm * out_stride;
  for (int64_t k = 0; k < job.levels; ++k) {
    const LevelPlan& lp = job.lv[b * job.levels + k];
    const auto& first = lp.rows.first;  // nondecreasing: a chunk's rows are one run
    const bool empty = lp.out_h == 0 || lp.out_w == 0;
    sc.next[k] = empty ? 0 : std::lower_bound(first.begin(), first.end(), r0) - first.begin();
    sc.stop[k] = empty ? 0 : std::lower_bound(first.begin(), first.end(), r1) - first.begin();
  }
  for (int64_t a = r0, e; a < in_h; a = e) {  // band [a, e)
    e = std::min(a + band, in_h);
    bool pending = false;
    for (int64_t k = 0; k < job.levels; ++k) {
      const LevelPlan& lp = job.lv[b * job.levels + k];
      float* carry = sc.carry.data() + k * job.w * job.c;
      int64_t o = sc.next[k];
      for (; o < sc.stop[k] && lp.rows.first[o] < e; ++o) {
        float* out = yb + (lp.top + o) * out_stride + lp.left * job.c;
        const int64_t f = lp.rows.first[o], end = f + lp.rows.count[o];
        if (end == f) {                 // an empty span (lo rounded onto the input's end)
          std::fill(out, out + lp.out_w * job.c, 0.0f);
          continue;
        }
        const int64_t lo = std::max(f, a), hi = std::min(end, e);
        const bool starts = f >= a, ends = end <= e;
        float* acc = starts && ends ? sc.row.data() : carry;
        row_pass(acc, xb + lo * in_stride, in_stride, lp.rows.weight.data() + lp.rows.offset[o] + (lo - f),
                 hi - lo, row_len, starts);
        if (!ends) break;               // carried into the next band
        // column pass straight into the mosaic
        if (job.c == 3) columns_any<3>(acc, out, lp.cols, lp.out_w, 3);
        else if (job.c == 1) columns_any<1>(acc, out, lp.cols, lp.out_w, 1);
        else columns_any<0>(acc, out, lp.cols, lp.out_w, job.c);
      }
      sc.next[k] = o;
      pending |= o < sc.stop[k];
    }
    if (!pending && e >= r1) break;
  }
}

// Zeros mosaic rows [r0, r1) of image b wherever none of its levels lies.
void zero_rows(const Job& job, int64_t b, int64_t r0, int64_t r1) {
  std::vector<std::pair<int64_t, int64_t>> spans;  // written [left, right) of one row
  float* yb = job.y + b * job.hm * job.wm * job.c;
  for (int64_t r = r0; r < r1; ++r) {
    spans.clear();
    for (int64_t k = 0; k < job.levels; ++k) {
      const LevelPlan& lp = job.lv[b * job.levels + k];
      if (lp.out_w > 0 && r >= lp.top && r < lp.top + lp.out_h) spans.emplace_back(lp.left, lp.left + lp.out_w);
    }
    std::sort(spans.begin(), spans.end());
    float* row = yb + r * job.wm * job.c;
    int64_t x = 0;
    for (const auto& [l, rr] : spans) {
      if (l > x) std::fill(row + x * job.c, row + l * job.c, 0.0f);
      x = std::max(x, rr);
    }
    if (x < job.wm) std::fill(row + x * job.c, row + job.wm * job.c, 0.0f);
  }
}

Scratch make_scratch(const Job& job) {
  Scratch sc;
  sc.row.resize(job.w * job.c);
  sc.carry.resize(job.levels * job.w * job.c);
  sc.next.resize(job.levels);
  sc.stop.resize(job.levels);
  return sc;
}

// Work item `item`: the zeroing items first, then every image's chunks.
void run_item(const Job& job, int64_t item, Scratch& sc) {
  if (item < job.zero_items) {
    const int64_t b = item / job.zero_items_per_image, z = item % job.zero_items_per_image;
    zero_rows(job, b, z * kZeroRows, std::min(job.hm, (z + 1) * kZeroRows));
    return;
  }
  item -= job.zero_items;
  const int64_t b = std::upper_bound(job.chunks_before.begin(), job.chunks_before.end(), item) -
                    job.chunks_before.begin() - 1;
  run_chunk(job, b, item - job.chunks_before[b], sc);
}

std::string shape_str(ffi::Span<const int64_t> d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + (d.size() == 1 ? ",)" : ")");
}

// The mosaic of shape-checked buffers; "" or what is wrong with their values.
std::string area_mosaic(const float* x, int64_t nb, int64_t h, int64_t w, int64_t c, const int32_t* sz,
                        const int32_t* ls, const int32_t* pl, int64_t nl, float* y, int64_t hm, int64_t wm,
                        int64_t threads) {
  Job job;
  job.x = x;
  job.y = y;
  job.h = h, job.w = w, job.c = c, job.hm = hm, job.wm = wm, job.levels = nl;
  job.in_h.resize(nb), job.in_w.resize(nb), job.band_rows.resize(nb), job.chunk_rows.resize(nb);
  job.chunks_before.assign(nb + 1, 0);
  job.lv.resize(nb * nl);
  const int64_t t = std::max<int64_t>(threads, 1);
  const int64_t chunks_per_image = (kChunksPerThread * t + nb - 1) / std::max<int64_t>(nb, 1);
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t ih = sz[2 * b], iw = sz[2 * b + 1];
    if (ih < 0 || ih > h || iw < 0 || iw > w)
      return "sizes[" + std::to_string(b) + "] = (" + std::to_string(ih) + ", " + std::to_string(iw) +
             ") lies outside the " + std::to_string(h) + "x" + std::to_string(w) + " canvas";
    job.in_h[b] = ih, job.in_w[b] = iw;
    const int64_t band = std::max<int64_t>(4, kBandBytes / std::max<int64_t>(1, iw * c * 4));
    const int64_t chunk = std::max((ih + chunks_per_image - 1) / chunks_per_image, kMinChunkBands * band);
    job.band_rows[b] = band, job.chunk_rows[b] = chunk;
    job.chunks_before[b + 1] = job.chunks_before[b] + (ih + chunk - 1) / chunk;
    for (int64_t k = 0; k < nl; ++k) {
      LevelPlan& lp = job.lv[b * nl + k];
      lp.out_h = ls[(b * nl + k) * 2], lp.out_w = ls[(b * nl + k) * 2 + 1];
      lp.top = pl[2 * k], lp.left = pl[2 * k + 1];
      const std::string at = "image " + std::to_string(b) + ", level " + std::to_string(k) + ": ";
      if (lp.out_h < 0 || lp.out_w < 0 || lp.top < 0 || lp.left < 0 || lp.top + lp.out_h > job.hm ||
          lp.left + lp.out_w > job.wm)
        return at + "size (" + std::to_string(lp.out_h) + ", " + std::to_string(lp.out_w) + ") at (" +
               std::to_string(lp.top) + ", " + std::to_string(lp.left) + ") does not fit the " +
               std::to_string(hm) + "x" + std::to_string(wm) + " mosaic";
      if (lp.out_h == 0 || lp.out_w == 0) continue;
      if (ih == 0 || iw == 0) return at + "a nonempty level of an empty image";
      // disjoint levels: each mosaic value has one writer (no races between threads)
      for (int64_t q = 0; q < k; ++q) {
        const LevelPlan& o = job.lv[b * nl + q];
        if (o.out_h > 0 && o.out_w > 0 && lp.top < o.top + o.out_h && o.top < lp.top + lp.out_h &&
            lp.left < o.left + o.out_w && o.left < lp.left + lp.out_w)
          return at + "overlaps level " + std::to_string(q);
      }
      area_spans(ih, lp.out_h, lp.rows);
      area_spans(iw, lp.out_w, lp.cols);
      pad_spans(iw, lp.cols);
    }
  }
  job.zero_items_per_image = (job.hm + kZeroRows - 1) / kZeroRows;
  job.zero_items = nb * job.zero_items_per_image;
  job.total_items = job.zero_items + job.chunks_before[nb];
  if (job.hm * job.wm * c == 0 || job.total_items == 0) return "";

  parallel_tasks(job.total_items, t, [&] { return make_scratch(job); },
                 [&](int64_t item, Scratch& sc) { run_item(job, item, sc); });
  return "";
}

ffi::Error AreaMosaicImpl(ffi::Buffer<ffi::F32> images, ffi::Buffer<ffi::S32> sizes,
                          ffi::Buffer<ffi::S32> lsizes, ffi::Buffer<ffi::S32> places,
                          ffi::ResultBuffer<ffi::F32> mosaic, int64_t threads) {
  const auto di = images.dimensions(), ds = sizes.dimensions(), dl = lsizes.dimensions(),
             dp = places.dimensions(), dm = mosaic->dimensions();
  if (di.size() != 4)
    return ffi::Error::InvalidArgument("AreaMosaic: images must be (B, H, W, C), got " + shape_str(di));
  const int64_t nb = di[0], h = di[1], w = di[2], c = di[3];
  if (ds.size() != 2 || ds[0] != nb || ds[1] != 2)
    return ffi::Error::InvalidArgument("AreaMosaic: sizes must be (B, 2) = (" + std::to_string(nb) +
                                       ", 2), got " + shape_str(ds));
  if (dp.size() != 2 || dp[1] != 2)
    return ffi::Error::InvalidArgument("AreaMosaic: places must be (L, 2), got " + shape_str(dp));
  const int64_t nl = dp[0];
  if (dl.size() != 3 || dl[0] != nb || dl[1] != nl || dl[2] != 2)
    return ffi::Error::InvalidArgument("AreaMosaic: lsizes must be (B, L, 2) = (" + std::to_string(nb) + ", " +
                                       std::to_string(nl) + ", 2), got " + shape_str(dl));
  if (dm.size() != 4 || dm[0] != nb || dm[3] != c)
    return ffi::Error::InvalidArgument("AreaMosaic: mosaic must be (B, Hm, Wm, C) with B, C of the images, got " +
                                       shape_str(dm));
  const std::string bad = area_mosaic(images.typed_data(), nb, h, w, c, sizes.typed_data(), lsizes.typed_data(),
                                      places.typed_data(), nl, mosaic->typed_data(), dm[1], dm[2], threads);
  if (!bad.empty()) return ffi::Error::InvalidArgument("AreaMosaic: " + bad);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(AreaMosaic, AreaMosaicImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // images (B, H, W, C)
                                  .Arg<ffi::Buffer<ffi::S32>>()   // sizes (B, 2)
                                  .Arg<ffi::Buffer<ffi::S32>>()   // lsizes (B, L, 2)
                                  .Arg<ffi::Buffer<ffi::S32>>()   // places (L, 2)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // mosaic (B, Hm, Wm, C)
                                  .Attr<int64_t>("threads"));
