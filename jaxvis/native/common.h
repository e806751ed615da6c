// What the kernels share: 16-float vectors and a loop that shares tasks among threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace jaxvis_native {

// GCC vector extensions: one AVX-512 register where the CPU has them (the kernels are
// compiled with -march=native), split by the compiler elsewhere.
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
constexpr int kLanes = 16;

inline v16 load(const float* p) { return *reinterpret_cast<const v16u*>(p); }
inline void store(float* p, v16 v) { *reinterpret_cast<v16u*>(p) = v; }
inline v16 splat(float s) { return v16{} + s; }
inline v16 prelu(v16 v, v16 alpha) {
  const v16 zero{};
  return (v16)(v > zero ? v : zero) + alpha * (v16)(v < zero ? v : zero);
}

// Runs task(i, scratch) for i in [0, tasks) on up to `threads` threads (this one included),
// which take indices from one counter; each thread makes its own scratch with make().
template <typename Make, typename Task>
void parallel_tasks(int64_t tasks, int64_t threads, Make make, Task task) {
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    auto scratch = make();
    for (int64_t i = next++; i < tasks; i = next++) task(i, scratch);
  };
  std::vector<std::thread> pool;
  const int64_t workers = std::clamp<int64_t>(threads, 1, std::max<int64_t>(tasks, 1));
  for (int64_t i = 1; i < workers; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace jaxvis_native
