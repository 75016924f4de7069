#include "train/scratch.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace tf::train::detail {

namespace {

struct Pool {
  struct Block {
    float* data;
    size_t n;
  };
  std::mutex mutex;
  std::vector<Block> free;
  // Kept idle at most: enough for a step's head buffers and a few more.
  static constexpr size_t kMaxBlocks = 16;
  static constexpr size_t kMaxFloats = size_t(1) << 28;  // 1 GiB

  size_t idle_floats() const {
    size_t s = 0;
    for (const Block& b : free) s += b.n;
    return s;
  }
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: buffers may return during static destruction
  return *p;
}

}  // namespace

std::shared_ptr<float[]> scratch(size_t n) {
  Pool& p = pool();
  float* data = nullptr;
  size_t have = 0;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    auto best = p.free.end();
    for (auto it = p.free.begin(); it != p.free.end(); ++it)
      if (it->n >= n && (best == p.free.end() || it->n < best->n)) best = it;
    if (best != p.free.end()) {
      data = best->data;
      have = best->n;
      p.free.erase(best);
    }
  }
  if (!data) {
    have = std::max<size_t>(n, 16);
    data = static_cast<float*>(std::aligned_alloc(64, (have * sizeof(float) + 63) / 64 * 64));
    if (!data) throw std::bad_alloc();
  }
  return std::shared_ptr<float[]>(data, [have](float* q) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    if (p.free.size() < Pool::kMaxBlocks && p.idle_floats() + have <= Pool::kMaxFloats)
      p.free.push_back({q, have});
    else
      std::free(q);
  });
}

}  // namespace tf::train::detail
