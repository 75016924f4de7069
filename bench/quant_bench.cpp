// Micro-benchmarks of matmul with ggml block-type weights at TinyLlama-1.1B
// shapes (compare with kernels_bench's f16 / f32 rows).
//   build/bench/quant_bench --benchmark_filter='q4_0/M1/'
// Names: quant/<type>/M<rows>/K<in>xN<out>/<path>/t<threads>[/cached].
// Counters: GB/s (weight bytes per call), GFLOP/s (2·M·N·K per call).
// Decode rows rotate through copies of W worth >= 512 MiB so every call
// streams W from DRAM, as a decode step does; "/cached" runs on one copy
// (W stays in cache: the kernels' compute capacity).
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
#include "tf/dtype.h"
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

// Byte offsets of a block's f16 scales; the rest of a block is random bytes
// (any bit pattern is a valid block).
std::vector<size_t> f16_fields(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {0};
  }
}

struct Weights {
  std::vector<std::vector<uint8_t>> copies;
  size_t bytes = 0;
};

const Weights& weights(DType t, size_t N, size_t K, size_t min_total) {
  static std::map<std::tuple<int, size_t, size_t>, Weights> cache;
  Weights& w = cache[{int(t), N, K}];
  const auto& tr = tf::traits(t);
  w.bytes = N * K / tr.block_size * tr.type_size;
  while (w.copies.empty() || w.copies.size() * w.bytes < min_total) {
    tf::Rng rng(w.copies.size() + 1);
    std::vector<uint8_t> v(w.bytes);
    for (auto& b : v) b = uint8_t(rng.next_u64() >> 56);
    for (size_t i = 0; i < w.bytes / tr.type_size; ++i)
      for (size_t off : f16_fields(t)) {
        const uint16_t d = tf::f32_to_f16(0.001f + 0.01f * rng.uniform());
        std::memcpy(&v[i * tr.type_size + off], &d, 2);
      }
    w.copies.push_back(std::move(v));
  }
  return w;
}

// The same weights in the decode kernels' load-time layout.
const Weights& interleaved_weights(DType t, size_t N, size_t K, size_t min_total) {
  static std::map<std::tuple<int, size_t, size_t>, Weights> cache;
  Weights& w = cache[{int(t), N, K}];
  if (w.copies.empty()) {
    const Weights& plain = weights(t, N, K, min_total);
    for (const auto& c : plain.copies) {
      std::vector<uint8_t> v(tf::kernels::interleaved_weight_bytes(t, N, K));
      tf::kernels::interleave_weights(t, c.data(), c.size() / N, N, K, v.data(), pool(1));
      w.copies.push_back(std::move(v));
    }
    w.bytes = plain.bytes;
  }
  return w;
}

void run(benchmark::State& st, DType t, size_t M, size_t N, size_t K, MatmulPath path, int threads, bool cached,
         bool interleaved = false) {
  const Weights& w = interleaved ? interleaved_weights(t, N, K, cached ? 0 : size_t(512) << 20)
                                 : weights(t, N, K, cached ? 0 : size_t(512) << 20);
  tf::Rng rng(7);
  std::vector<float> x(M * K), y(M * N);
  for (float& f : x) f = rng.normal();
  tf::kernels::MatmulArgs a;
  a.M = M;
  a.N = N;
  a.K = K;
  a.x = x.data();
  a.w_type = t;
  a.w_interleaved = interleaved;
  a.y = y.data();
  size_t i = 0;
  for (auto _ : st) {
    a.w = w.copies[i++ % w.copies.size()].data();
    tf::kernels::matmul(a, pool(threads), path);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(double(w.bytes) * double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * N * K) * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

const char* path_name(MatmulPath p) { return p == MatmulPath::Gemv ? "dot" : p == MatmulPath::Gemm ? "gemm" : "auto"; }

int register_all() {
  const DType types[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                         DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};
  for (DType t : types) {
    const std::string tn(tf::dtype_name(t));
    for (int threads : {1, 2}) {
      for (bool cached : {false, true}) {
        std::string name = "quant/" + tn + "/M1/K2048xN5632/dot/t" + std::to_string(threads) + (cached ? "/cached" : "");
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          run(st, t, 1, 5632, 2048, MatmulPath::Gemv, threads, cached);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
        if (tf::kernels::can_interleave(t)) {
          std::string il = "quant/" + tn + "/M1/K2048xN5632/interleaved/t" + std::to_string(threads) + (cached ? "/cached" : "");
          benchmark::RegisterBenchmark(il.c_str(), [=](benchmark::State& st) {
            run(st, t, 1, 5632, 2048, MatmulPath::Auto, threads, cached, true);
          })->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
      }
      if (tf::kernels::can_interleave(t)) {
        std::string il = "quant/" + tn + "/M512/K2048xN2048/interleaved/t" + std::to_string(threads);
        benchmark::RegisterBenchmark(il.c_str(), [=](benchmark::State& st) {
          run(st, t, 512, 2048, 2048, MatmulPath::Auto, threads, true, true);
        })->UseRealTime()->Unit(benchmark::kMillisecond);
      }
      for (MatmulPath p : {MatmulPath::Gemv, MatmulPath::Gemm}) {
        std::string name = "quant/" + tn + "/M512/K2048xN2048/" + path_name(p) + "/t" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
          run(st, t, 512, 2048, 2048, p, threads, true);
        })->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
