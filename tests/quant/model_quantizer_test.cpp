#include "tf/quantize_model.h"

#include <random>

#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/imatrix.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf::quant {
namespace {

// A 2-block llama-shaped GGUF with random f16 weights, tensors deliberately
// not in llama.cpp's order.
struct Model {
  std::map<std::string, std::vector<uint16_t>> data;
  std::string path;
};

Model write_model(const test::TempDir& dir) {
  Model m;
  m.path = dir / "in.gguf";
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("general.file_type", gguf::Value::u32(1));
  w.set("general.name", gguf::Value::string("t"));
  w.set("llama.block_count", gguf::Value::u32(2));
  w.set("llama.attention.head_count", gguf::Value::u32(4));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(1));
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<std::pair<std::string, std::vector<uint64_t>>> shapes = {{"output.weight", {256, 300}},
                                                                       {"token_embd.weight", {256, 300}}};
  for (int b = 1; b >= 0; --b) {
    std::string p = "blk." + std::to_string(b) + ".";
    shapes.push_back({p + "ffn_down.weight", {512, 256}});
    shapes.push_back({p + "attn_v.weight", {256, 64}});
    shapes.push_back({p + "attn_q.weight", {256, 256}});
    shapes.push_back({p + "ffn_up.weight", {256, 512}});
  }
  for (const auto& [name, ne] : shapes) {
    std::vector<uint16_t>& d = m.data[name];
    d.resize(ne[0] * ne[1]);
    for (uint16_t& x : d) x = f32_to_f16(g(rng));
  }
  for (const auto& [name, ne] : shapes) w.add_tensor(name, DType::F16, ne, m.data[name].data());
  std::vector<float> norm(256, 1.0f);
  w.add_tensor("output_norm.weight", DType::F32, {256}, norm.data());
  w.write(m.path);
  return m;
}

QuantizeOptions options(const std::string& type) {
  QuantizeOptions o;
  o.mix.file_type = *parse_file_type(type);
  return o;
}

TEST(ModelQuantizer, WritesTheMixRowForRow) {
  test::TempDir dir;
  Model m = write_model(dir);
  std::vector<TensorReport> seen;
  QuantizeResult r = quantize_model(m.path, dir / "out.gguf", options("Q4_K_M"), [&](const TensorReport& t) { seen.push_back(t); });
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(r.file_type, "Q4_K_M");
  EXPECT_EQ(r.model.quant, "Q4_K_M");
  EXPECT_EQ(r.model.sha256, sha256_file(dir / "out.gguf"));
  gguf::File f = gguf::File::open(dir / "out.gguf");
  // llama.cpp's order: outside blocks first, then block by block, by name
  std::vector<std::string> names;
  for (const auto& t : f.tensors()) names.push_back(t.name);
  EXPECT_EQ(names.front(), "output.weight");
  EXPECT_EQ(names[3], "blk.0.attn_q.weight");
  EXPECT_EQ(names.back(), "blk.1.ffn_up.weight");
  // metadata: kept in order, general.quantization_version and general.file_type moved to the end
  const auto& md = f.metadata();
  EXPECT_EQ(md[0].key, "general.architecture");
  EXPECT_EQ(md[md.size() - 2].key, "general.quantization_version");
  EXPECT_EQ(md.back().key, "general.file_type");
  EXPECT_EQ(md.back().value.as_u64(), 15u);
  // every tensor holds exactly what quantize_rows makes of its f16 rows
  for (const TensorReport& t : seen) {
    const gguf::TensorInfo* info = f.find_tensor(t.name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->type, t.to) << t.name;
    if (t.name == "output_norm.weight") continue;
    const auto& src = m.data.at(t.name);
    std::vector<float> x(src.size());
    f16_to_f32(src.data(), x.data(), x.size());
    std::vector<uint8_t> want(t.bytes_out);
    quantize_rows(t.to, x.data(), want.data(), int64_t(info->ne[1]), int64_t(info->ne[0]), nullptr);
    EXPECT_EQ(0, std::memcmp(want.data(), f.tensor_data(*info), want.size())) << t.name;
    EXPECT_GT(t.rmse(), 0.0) << t.name;
    EXPECT_LT(t.rmse(), 0.01) << t.name;
  }
  // the Q4_K_M rules: output q6_K, attn_v and ffn_down of both blocks (more-bits layers) q6_K
  EXPECT_EQ(f.find_tensor("output.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.find_tensor("blk.1.attn_v.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, DType::Q4_K);
}

TEST(ModelQuantizer, SameBytesWithAnyThreadCount) {
  test::TempDir dir;
  Model m = write_model(dir);
  set_default_threads(1);
  std::string a = quantize_model(m.path, dir / "a.gguf", options("IQ4_XS")).model.sha256;
  set_default_threads(3);
  std::string b = quantize_model(m.path, dir / "b.gguf", options("IQ4_XS")).model.sha256;
  set_default_threads(0);
  EXPECT_EQ(a, b);
}

TEST(ModelQuantizer, ImatrixIsUsedAndChecked) {
  test::TempDir dir;
  Model m = write_model(dir);
  Imatrix im;
  im.chunk_size = 16;
  im.chunk_count = 1;
  im.datasets = {"d.txt"};
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.0f, 4.0f);
  for (const auto& [name, d] : m.data) {
    if (name.rfind("blk.", 0) != 0) continue;
    size_t cols = name.find("ffn_down") != std::string::npos ? 512 : 256;
    std::vector<float> x(cols * 16);
    for (float& v : x) v = u(rng);
    im.accumulate(name, x.data(), 16, cols, cols);
  }
  im.save(dir / "im.gguf", false);
  QuantizeOptions o = options("IQ2_XS");
  EXPECT_THROW(quantize_model(m.path, dir / "x.gguf", o), Error);  // IQ2_XS needs one
  o.imatrix_path = dir / "im.gguf";
  QuantizeResult r = quantize_model(m.path, dir / "x.gguf", o);
  for (const auto& t : r.tensors)
    if (t.name.rfind("blk.", 0) == 0) {
      EXPECT_TRUE(t.imatrix) << t.name;
    }
  gguf::File f = gguf::File::open(dir / "x.gguf");
  EXPECT_EQ(f.get_u64("quantize.imatrix.entries_count", 0), 8u);
  EXPECT_EQ(f.get_string("quantize.imatrix.dataset", ""), "d.txt");
  // an entry of the wrong size is an error
  im.entries["blk.0.attn_q.weight"].sums.resize(128);
  im.save(dir / "bad.gguf", false);
  o.imatrix_path = dir / "bad.gguf";
  EXPECT_THROW(quantize_model(m.path, dir / "y.gguf", o), Error);
}

TEST(ModelQuantizer, RequantizeNeedsPermissionAndDryRunWritesNothing) {
  test::TempDir dir;
  Model m = write_model(dir);
  quantize_model(m.path, dir / "q8.gguf", options("Q8_0"));
  EXPECT_THROW(quantize_model(dir / "q8.gguf", dir / "q4.gguf", options("Q4_0")), Error);
  QuantizeOptions o = options("Q4_0");
  o.allow_requantize = true;
  EXPECT_NO_THROW(quantize_model(dir / "q8.gguf", dir / "q4.gguf", o));
  o.dry_run = true;
  QuantizeResult r = quantize_model(m.path, dir / "dry.gguf", o);
  EXPECT_FALSE(std::filesystem::exists(dir / "dry.gguf"));
  EXPECT_EQ(r.tensors.size(), 11u);
  nlohmann::json rep = report_record(r, nullptr);
  EXPECT_EQ(rep["file_type"], "Q4_0");
  EXPECT_GT(rep["bits_per_weight"].get<double>(), 4.0);
  EXPECT_EQ(tensor_record(r.tensors[0])["type"], "tensor");
  EXPECT_THROW(quantize_model(m.path, m.path, options("Q4_0")), Error);  // in place
}

}  // namespace
}  // namespace tf::quant
