// tf-run on quantized GGUF files that the test writes itself: a synthetic
// f32 llama with its matrices quantized by tf::quant (Q8_0, Q4_0, Q4_K, Q6_K)
// must give the logits of the f32 model on the dequantized weights, up to
// the activation quantization the integer kernels add (ggml's Q8_0 / Q8_K
// rounding of x, as llama.cpp computes), and stay near the original f32
// model. Also the quantized KV cache flags.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "tf/gguf.h"
#include "tf/quant.h"
#include "tf/safetensors.h"

namespace tf {
namespace {

using test::run_shell;

struct Files {
  test::TempDir dir;
  std::string path(const std::string& name) const { return dir / name; }
};

// Copies src with every 2-D weight quantized to `type` (token_embd too, as
// llama.cpp does). dequantized: also writes the dequantized values as f32.
void requantize(const std::string& src, const std::string& dst, DType type, const std::string& dequantized) {
  gguf::File in = gguf::File::open(src, LoadMode::Read);
  gguf::Writer q, d;
  for (const auto& kv : in.metadata()) {
    q.set(kv.key, kv.value);
    d.set(kv.key, kv.value);
  }
  std::vector<std::vector<uint8_t>> keep;
  for (const auto& t : in.tensors()) {
    const float* f = reinterpret_cast<const float*>(in.tensor_data(t));
    ASSERT_EQ(t.type, DType::F32);
    if (t.ne.size() != 2) {
      q.add_tensor(t.name, t.type, t.ne, f);
      d.add_tensor(t.name, t.type, t.ne, f);
      continue;
    }
    const int64_t cols = int64_t(t.ne[0]), rows = int64_t(t.ne[1]);
    std::vector<uint8_t> qb(*row_bytes(type, uint64_t(cols)) * uint64_t(rows));
    quant::quantize_rows(type, f, qb.data(), rows, cols, nullptr);
    std::vector<uint8_t> db(size_t(rows * cols) * 4);
    const size_t rb = qb.size() / size_t(rows);
    for (int64_t r = 0; r < rows; ++r)
      quant::dequantize_row(type, qb.data() + size_t(r) * rb, reinterpret_cast<float*>(db.data()) + r * cols, cols);
    q.add_tensor(t.name, type, t.ne, qb.data());
    d.add_tensor(t.name, DType::F32, t.ne, db.data());
    keep.push_back(std::move(qb));
    keep.push_back(std::move(db));
  }
  q.write(dst);
  d.write(dequantized);
}

std::vector<float> logits(const std::string& model, const std::string& out, const std::string& extra = "") {
  auto r = run_shell("tf-run forward -m " + model + " --ids 1,17,300,42,5,99,7,250,3,11,400,8 -o " + out + " -t 2 " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto f = safetensors::File::open(out);
  Tensor t = f.tensor("logits");
  return {t.data_as<float>(), t.data_as<float>() + t.numel()};
}

// ||a - b|| / ||b||
double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST(TfRunQuant, QuantizedWeightsMatchTheDequantizedModel) {
  Files fx;
  const std::string f32 = fx.path("f32.gguf");
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 2 --outtype f32 --seed 3 -o " + f32);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto base = logits(f32, fx.path("f32.st"));
  // Error bounds relative to the logits' RMS, about 2x what was measured:
  // vs the dequantized model 0.014 for every type (the activations' Q8
  // rounding); vs the f32 model Q8_0 0.014, Q4_0 0.15, Q4_K 0.14, Q6_K 0.034
  // (random uniform weights quantize worse than trained ones).
  struct Want {
    DType type;
    double vs_dequantized, vs_f32;
  };
  for (Want w : {Want{DType::Q8_0, 0.03, 0.03}, Want{DType::Q4_0, 0.03, 0.3}, Want{DType::Q4_K, 0.03, 0.28},
                 Want{DType::Q6_K, 0.03, 0.07}}) {
    const std::string name(dtype_name(w.type));
    const std::string qf = fx.path(name + ".gguf"), df = fx.path(name + "-deq.gguf");
    requantize(f32, qf, w.type, df);
    if (HasFatalFailure()) return;
    const auto q = logits(qf, fx.path(name + ".st"));
    const auto d = logits(df, fx.path(name + "-deq.st"));
    ASSERT_EQ(q.size(), base.size());
    const double e_deq = rel_rms(q, d), e_f32 = rel_rms(q, base);
    EXPECT_LT(e_deq, w.vs_dequantized) << name;
    EXPECT_LT(e_f32, w.vs_f32) << name;
    EXPECT_GT(e_f32, 0.0) << name << ": the quantized file computed exactly the f32 model?";
  }
}

TEST(TfRunQuant, QuantizedKvCache) {
  Files fx;
  const std::string f32 = fx.path("f32.gguf");
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 2 --outtype f32 --seed 4 -o " + f32);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto base = logits(f32, fx.path("base.st"), "--cache-type f32");
  const auto q8 = logits(f32, fx.path("q8.st"), "--cache-type-k q8_0 --cache-type-v q8_0");
  const auto q4 = logits(f32, fx.path("q4.st"), "--cache-type-k q4_0 --cache-type-v q4_0");
  // measured: q8_0 < 0.01, q4_0 0.107
  EXPECT_LT(rel_rms(q8, base), 0.02);
  EXPECT_LT(rel_rms(q4, base), 0.2);
  EXPECT_GT(rel_rms(q4, base), rel_rms(q8, base));
  auto bad = run_shell("tf-run forward -m " + f32 + " --ids 1,2 -o " + fx.path("x.st") + " --cache-type-k q6_K");
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace tf
