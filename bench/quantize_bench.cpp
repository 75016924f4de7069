// Quantization speed of every tf::quant target on one row block of
// TinyLlama-1.1B's shape (16 rows of 2048 columns), single-threaded.
//   build/bench/quantize_bench --benchmark_filter='quantize/q4_K'
// Names: quantize/<type>/<plain|imatrix>, dequantize/<type>.
// Counter: elem/s (floats per second). An untimed first call builds the
// i-quant codebook tables.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tf/dtype.h"
#include "tf/quant.h"
#include "tf/rng.h"

namespace {

using tf::DType;

constexpr int64_t kRows = 16, kCols = 2048;

const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    tf::Rng rng(7);
    std::vector<float> v(size_t(kRows * kCols));
    for (float& f : v) f = rng.normal() * 0.02f;
    return v;
  }();
  return w;
}

const std::vector<float>& importance() {
  static const std::vector<float> w = [] {
    tf::Rng rng(8);
    std::vector<float> v(static_cast<size_t>(kCols));
    for (float& f : v) {
      const float n = rng.normal();
      f = 0.1f + n * n;  // imatrix entries are mean squares: positive, heavy-tailed
    }
    return v;
  }();
  return w;
}

constexpr DType kTypes[] = {DType::F16,     DType::BF16,   DType::Q8_0,  DType::Q5_0,    DType::Q5_1,  DType::Q4_0,
                            DType::Q4_1,    DType::Q6_K,   DType::Q5_K,  DType::Q4_K,    DType::Q3_K,  DType::Q2_K,
                            DType::IQ4_NL,  DType::IQ4_XS, DType::IQ3_S, DType::IQ3_XXS, DType::IQ2_S, DType::IQ2_XS,
                            DType::IQ2_XXS, DType::IQ1_M,  DType::IQ1_S, DType::TQ1_0,   DType::TQ2_0};

void quantize(benchmark::State& state, DType t, bool with_importance) {
  const size_t row_size = *tf::row_bytes(t, kCols);
  std::vector<uint8_t> q(row_size * kRows);
  const float* imp = with_importance ? importance().data() : nullptr;
  tf::quant::quantize_rows(t, weights().data(), q.data(), kRows, kCols, imp);  // i-quant codebooks built here
  for (auto _ : state) {
    tf::quant::quantize_rows(t, weights().data(), q.data(), kRows, kCols, imp);
    benchmark::DoNotOptimize(q.data());
  }
  state.counters["elem/s"] =
      benchmark::Counter(double(kRows * kCols) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void dequantize(benchmark::State& state, DType t) {
  const size_t row_size = *tf::row_bytes(t, kCols);
  std::vector<uint8_t> q(row_size * kRows);
  tf::quant::quantize_rows(t, weights().data(), q.data(), kRows, kCols, importance().data());
  std::vector<float> y(size_t(kRows * kCols));
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r)
      tf::quant::dequantize_row(t, q.data() + r * row_size, y.data() + r * kCols, kCols);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["elem/s"] =
      benchmark::Counter(double(kRows * kCols) * double(state.iterations()), benchmark::Counter::kIsRate);
}

const bool registered = [] {
  for (DType t : kTypes) {
    const std::string name(tf::dtype_name(t));
    if (!tf::quant::requires_imatrix(t))
      benchmark::RegisterBenchmark(("quantize/" + name + "/plain").c_str(), quantize, t, false);
    benchmark::RegisterBenchmark(("quantize/" + name + "/imatrix").c_str(), quantize, t, true);
    benchmark::RegisterBenchmark(("dequantize/" + name).c_str(), dequantize, t);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
