// Micro-benchmarks of the CPU kernels at TinyLlama-1.1B shapes.
//   build/bench/kernels_bench --benchmark_filter='matmul/f16/M1/'
// Names: <kernel>/<weight type>/M<rows>/K<in>xN<out>/<path>/t<threads>.
// Counters: GFLOP/s (2·M·N·K per call) and GB/s (weight bytes per call).
// Decode weights rotate through copies worth >= 512 MiB so that every call
// streams W from DRAM, as a real decode step does.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "tf/half.h"
#include "tf/rng.h"
#include "tf/thread_pool.h"

namespace {

using tf::DType;
using tf::kernels::MatmulPath;

tf::ThreadPool& pool(int threads) {
  static tf::ThreadPool p1(1), p2(2);
  return threads == 1 ? p1 : p2;
}

struct Buffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t n) : p(std::aligned_alloc(64, (n + 63) / 64 * 64)), bytes(n) {}
  ~Buffer() { std::free(p); }
  Buffer(const Buffer&) = delete;
};

std::vector<float> random_floats(size_t n, uint64_t seed) {
  tf::Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = rng.normal() * 0.05f;
  return v;
}

// Copies of one random [N, K] weight matrix.
struct Weights {
  std::vector<std::unique_ptr<Buffer>> copies;
  size_t bytes = 0;
};

const Weights& weights(DType t, size_t N, size_t K, size_t min_total) {
  static std::map<std::tuple<int, size_t, size_t>, Weights> cache;
  Weights& w = cache[{int(t), N, K}];
  size_t elt = tf::traits(t).type_size;
  w.bytes = N * K * elt;
  if (w.copies.empty()) {
    auto f = random_floats(N * K, N * 31 + K);
    auto first = std::make_unique<Buffer>(w.bytes);
    if (t == DType::F32) std::memcpy(first->p, f.data(), w.bytes);
    if (t == DType::F16) tf::f32_to_f16(f.data(), static_cast<uint16_t*>(first->p), N * K);
    if (t == DType::BF16) tf::f32_to_bf16(f.data(), static_cast<uint16_t*>(first->p), N * K);
    w.copies.push_back(std::move(first));
  }
  while (w.copies.size() * w.bytes < min_total) {
    auto c = std::make_unique<Buffer>(w.bytes);
    std::memcpy(c->p, w.copies[0]->p, w.bytes);
    w.copies.push_back(std::move(c));
  }
  return w;
}

void BM_Matmul(benchmark::State& state, DType t, size_t M, size_t N, size_t K, MatmulPath path, int threads) {
  const bool decode = M <= 16;
  const Weights& w = weights(t, N, K, decode ? size_t(512) << 20 : 0);
  auto x = random_floats(M * K, 1);
  std::vector<float> y(M * N);
  tf::kernels::MatmulArgs a;
  a.M = M;
  a.N = N;
  a.K = K;
  a.x = x.data();
  a.w_type = t;
  a.y = y.data();
  size_t i = 0;
  for (auto _ : state) {
    a.w = w.copies[i++ % w.copies.size()]->p;
    tf::kernels::matmul(a, pool(threads), path);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(double(w.bytes), benchmark::Counter::kIsIterationInvariantRate);
}

// What one core pair can stream: the yardstick for the decode GEMV.
void BM_StreamRead(benchmark::State& state, int threads) {
  const size_t bytes = size_t(1) << 30, n = bytes / sizeof(uint64_t);
  Buffer buf(bytes);
  std::memset(buf.p, 1, bytes);
  const uint64_t* p = static_cast<const uint64_t*>(buf.p);
  std::vector<uint64_t> sums(2);
  for (auto _ : state) {
    pool(threads).parallel_for(n, n / 2, [&](size_t b, size_t e, int t) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = b; i + 4 <= e; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      sums[size_t(t)] += s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

const char* type_name(DType t) { return t == DType::F32 ? "f32" : t == DType::F16 ? "f16" : "bf16"; }
const char* path_name(MatmulPath p) {
  switch (p) {
    case MatmulPath::Gemv: return "gemv";
    case MatmulPath::Gemm: return "gemm";
    case MatmulPath::Blas: return "blas";
    default: return "auto";
  }
}

void register_all() {
  for (int t : {1, 2})
    benchmark::RegisterBenchmark(("stream_read/t" + std::to_string(t)).c_str(), BM_StreamRead, t)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);

  // TinyLlama-1.1B: hidden 2048, 32 q heads / 4 kv heads of 64, MLP 5632, vocab 32000.
  const std::pair<size_t, size_t> shapes[] = {{2048, 2048}, {2048, 256}, {2048, 5632}, {5632, 2048}, {2048, 32000}};
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (auto [K, N] : shapes)
      for (int th : {1, 2}) {
        auto add = [&](size_t M, MatmulPath p) {
          std::string name = std::string("matmul/") + type_name(t) + "/M" + std::to_string(M) + "/K" +
                             std::to_string(K) + "xN" + std::to_string(N) + "/" + path_name(p) + "/t" +
                             std::to_string(th);
          benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, M, N, K, p, th)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        };
        add(1, MatmulPath::Auto);
        add(512, MatmulPath::Gemm);
        add(512, MatmulPath::Blas);
      }
  // Where the GEMV stops beating the GEMM.
  for (size_t M : {2, 3, 4, 6, 8, 12, 16})
    for (MatmulPath p : {MatmulPath::Gemv, MatmulPath::Gemm})
      benchmark::RegisterBenchmark(("matmul_skinny/f16/M" + std::to_string(M) + "/K2048xN2048/" + path_name(p) + "/t2").c_str(),
                                   BM_Matmul, DType::F16, M, size_t(2048), size_t(2048), p, 2)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
