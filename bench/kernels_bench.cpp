// Micro-benchmarks of the CPU kernels at TinyLlama-1.1B shapes.
//   build/bench/kernels_bench --benchmark_filter='matmul/f16/M1/'
// Names: <kernel>/<weight type>/M<rows>/K<in>xN<out>/<path>/t<threads>.
// Counters: GFLOP/s (2·M·N·K per call) and GB/s (weight bytes per call).
// Decode weights rotate through copies worth >= 512 MiB so that every call
// streams W from DRAM, as a real decode step does.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/rope.h"
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

// TF_BENCH_HUGEPAGES=1 asks for transparent huge pages on the big buffers
// (this machine's THP mode is madvise): fewer TLB misses while streaming W.
struct Buffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t n) : bytes(n) {
    const size_t align = n >= (size_t(4) << 20) ? (size_t(2) << 20) : 64;
    p = std::aligned_alloc(align, (n + align - 1) / align * align);
    if (const char* e = std::getenv("TF_BENCH_HUGEPAGES"); e && *e == '1' && align > 64)
      madvise(p, (n + align - 1) / align * align, MADV_HUGEPAGE);
  }
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
  const bool decode = M <= 128;
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

// The cost of one parallel_for with no work: what a decode step pays per
// threaded kernel call.
void BM_PoolDispatch(benchmark::State& state, int threads) {
  std::vector<size_t> sink(64);
  for (auto _ : state) pool(threads).parallel_for(64, 1, [&](size_t b, size_t, int) { sink[b]++; });
  benchmark::DoNotOptimize(sink.data());
}

void BM_RmsNorm(benchmark::State& state, size_t rows, size_t dim, int threads) {
  auto x = random_floats(rows * dim, 1), w = random_floats(dim, 2);
  std::vector<float> y(rows * dim);
  for (auto _ : state) tf::kernels::rms_norm(x.data(), w.data(), y.data(), rows, dim, 1e-5f, false, &pool(threads));
  state.counters["GB/s"] = benchmark::Counter(8.0 * rows * dim, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Swiglu(benchmark::State& state, size_t n, int threads) {
  auto g = random_floats(n, 1), u = random_floats(n, 2);
  std::vector<float> y(n);
  for (auto _ : state) tf::kernels::swiglu(g.data(), u.data(), y.data(), n, &pool(threads));
  state.counters["Gelem/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Rope(benchmark::State& state, size_t tokens, tf::kernels::RopeLayout layout, int threads) {
  const size_t heads = 32, hd = 64;
  auto x = random_floats(tokens * heads * hd, 1);
  std::vector<int32_t> pos(tokens);
  for (size_t t = 0; t < tokens; ++t) pos[t] = int32_t(t + 100);
  std::vector<float> f(hd / 2);
  tf::kernels::rope_inv_freq(10000.0f, hd, f.data());
  for (auto _ : state)
    tf::kernels::rope(x.data(), tokens, heads, hd, hd, pos.data(), f.data(), layout, 1.0f, 0, &pool(threads));
  state.counters["Gelem/s"] = benchmark::Counter(double(tokens * heads * hd), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Softmax(benchmark::State& state, size_t rows, size_t cols, int threads) {
  auto x = random_floats(rows * cols, 1);
  std::vector<float> y(rows * cols);
  for (auto _ : state) tf::kernels::softmax(x.data(), y.data(), rows, cols, 1.0f, 0.0f, &pool(threads));
  state.counters["Gelem/s"] = benchmark::Counter(double(rows * cols), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Argmax(benchmark::State& state, size_t n) {
  auto x = random_floats(n, 1);
  for (auto _ : state) benchmark::DoNotOptimize(tf::kernels::argmax(x.data(), n));
  state.counters["Gelem/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

// TinyLlama attention: 32 query heads, 4 kv heads of 64, n_kv cached positions.
void BM_Attention(benchmark::State& state, size_t n_q, size_t n_kv, DType kv_type, int threads) {
  const size_t heads = 32, kv_heads = 4, hd = 64, cache = kv_heads * n_kv * hd;
  auto q = random_floats(n_q * heads * hd, 1), kf = random_floats(cache, 2), vf = random_floats(cache, 3);
  std::vector<uint16_t> kh(cache), vh(cache);
  tf::f32_to_f16(kf.data(), kh.data(), cache);
  tf::f32_to_f16(vf.data(), vh.data(), cache);
  std::vector<float> out(n_q * heads * hd);
  tf::kernels::AttentionArgs a;
  a.n_q = n_q;
  a.n_heads = heads;
  a.n_kv_heads = kv_heads;
  a.head_dim = hd;
  a.q = q.data();
  a.kv_type = kv_type;
  a.k = kv_type == DType::F16 ? static_cast<const void*>(kh.data()) : kf.data();
  a.v = kv_type == DType::F16 ? static_cast<const void*>(vh.data()) : vf.data();
  a.n_kv = n_kv;
  a.out = out.data();
  for (auto _ : state) tf::kernels::attention(a, pool(threads));
  // q·k and p·v over the visible (causal) keys
  double pairs = 0;
  for (size_t i = 0; i < n_q; ++i) pairs += double(n_kv - n_q + i + 1);
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * pairs * heads * hd, benchmark::Counter::kIsIterationInvariantRate);
}

// With --benchmark_repetitions=N: the best of N runs (other work on the
// machine only ever slows a run down). For rate counters "min" is the worst.
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

const char* type_name(DType t) { return t == DType::F32 ? "f32" : t == DType::F16 ? "f16" : "bf16"; }
const char* path_name(MatmulPath p) {
  switch (p) {
    case MatmulPath::Gemv: return "gemv";
    case MatmulPath::Gemm: return "gemm";
    case MatmulPath::GemmBf16: return "gemm_bf16dot";
    case MatmulPath::Blas: return "blas";
    default: return "auto";
  }
}

void register_all() {
  for (int t : {1, 2})
    benchmark::RegisterBenchmark(("stream_read/t" + std::to_string(t)).c_str(), BM_StreamRead, t)
        ->UseRealTime()->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)
        ->Unit(benchmark::kMillisecond);

  for (int t : {1, 2}) {
    const std::string ts = "/t" + std::to_string(t);
    auto reg = [&](const std::string& name, auto fn, auto... args) {
      benchmark::RegisterBenchmark((name + ts).c_str(), fn, args..., t)->UseRealTime()->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)->Unit(benchmark::kMicrosecond);
    };
    reg("pool_dispatch", BM_PoolDispatch);
    reg("rms_norm/1x2048", BM_RmsNorm, size_t(1), size_t(2048));
    reg("rms_norm/512x2048", BM_RmsNorm, size_t(512), size_t(2048));
    reg("swiglu/5632", BM_Swiglu, size_t(5632));
    reg("swiglu/512x5632", BM_Swiglu, size_t(512 * 5632));
    reg("rope/neox/1x32x64", BM_Rope, size_t(1), tf::kernels::RopeLayout::NeoX);
    reg("rope/neox/512x32x64", BM_Rope, size_t(512), tf::kernels::RopeLayout::NeoX);
    reg("rope/normal/512x32x64", BM_Rope, size_t(512), tf::kernels::RopeLayout::Normal);
    reg("softmax/1x32000", BM_Softmax, size_t(1), size_t(32000));
    reg("softmax/32x512", BM_Softmax, size_t(32), size_t(512));
    reg("attention/f32/q1/kv512", BM_Attention, size_t(1), size_t(512), DType::F32);
    reg("attention/f16/q1/kv512", BM_Attention, size_t(1), size_t(512), DType::F16);
    reg("attention/f32/q512/kv512", BM_Attention, size_t(512), size_t(512), DType::F32);
    reg("attention/f16/q512/kv512", BM_Attention, size_t(512), size_t(512), DType::F16);
  }
  benchmark::RegisterBenchmark("argmax/32000", BM_Argmax, size_t(32000))->Unit(benchmark::kMicrosecond);

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
              ->UseRealTime()->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)
              ->Unit(benchmark::kMicrosecond);
        };
        add(1, MatmulPath::Auto);
        add(512, MatmulPath::Gemm);
        if (t == DType::BF16) add(512, MatmulPath::GemmBf16);
        add(512, MatmulPath::Blas);
      }
  // Where the GEMV stops beating the GEMM (W streamed from DRAM, as in a model).
  for (auto [t, gemm] : {std::pair{DType::F16, MatmulPath::Gemm}, std::pair{DType::BF16, MatmulPath::GemmBf16}})
    for (size_t M : {2, 4, 8, 16, 32, 48, 64, 96, 128})
      for (MatmulPath p : {MatmulPath::Gemv, gemm})
        benchmark::RegisterBenchmark((std::string("matmul_skinny/") + type_name(t) + "/M" + std::to_string(M) +
                                      "/K2048xN2048/" + path_name(p) + "/t1")
                                         .c_str(),
                                     BM_Matmul, t, M, size_t(2048), size_t(2048), p, 1)
            ->UseRealTime()->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of)
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
