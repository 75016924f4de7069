#include "tf/imatrix.h"

#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::quant {
namespace {

Imatrix sample() {
  Imatrix m;
  m.chunk_size = 4;
  m.chunk_count = 3;
  m.datasets = {"wiki.txt"};
  std::vector<float> x = {1, 2, 3, -1, 0, 2, 0.5f, 0.5f, 1};  // 3 rows of 3
  m.accumulate("blk.0.attn_q.weight", x.data(), 3, 3, 3);
  m.accumulate("blk.0.attn_q.weight", x.data(), 2, 3, 3);
  // an expert tensor: 2 matrices of 2 columns, the second never used
  m.entries["blk.0.ffn_up_exps.weight"] = {{4, 8, 0, 0}, {12, 0}};
  return m;
}

TEST(Imatrix, AccumulatesSquares) {
  Imatrix m = sample();
  const ImatrixEntry& e = m.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(e.counts, std::vector<int64_t>{5});
  EXPECT_FLOAT_EQ(e.sums[0], 1 + 1 + 0.25f + 1 + 1);
  EXPECT_FLOAT_EQ(e.sums[2], 9 + 4 + 1 + 9 + 4);
  std::vector<float> imp = m.importance("blk.0.attn_q.weight");
  EXPECT_FLOAT_EQ(imp[2], 27.0f / 5);
  std::vector<float> ex = m.importance("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(ex, (std::vector<float>{4.0f / 12, 8.0f / 12, 1, 1}));  // unused expert: 1, as llama-quantize
  EXPECT_TRUE(m.importance("nope").empty());
  std::vector<float> bad = {1, 2};
  EXPECT_THROW(m.accumulate("blk.0.attn_q.weight", bad.data(), 1, 2, 2), Error);
}

TEST(Imatrix, GgufRoundTrip) {
  test::TempDir dir;
  Imatrix m = sample();
  m.save(dir / "im.gguf", false);
  Imatrix r = Imatrix::load(dir / "im.gguf");
  EXPECT_FALSE(r.legacy);
  EXPECT_EQ(r.datasets, m.datasets);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.chunk_size, 4);
  ASSERT_EQ(r.entries.size(), 2u);
  for (const auto& [name, e] : m.entries) {
    EXPECT_EQ(r.entries.at(name).sums, e.sums) << name;
    EXPECT_EQ(r.entries.at(name).counts, e.counts) << name;
  }
  // llama-imatrix's layout: general.type first, tensors sorted by name, dims without trailing 1s
  gguf::File f = gguf::File::open(dir / "im.gguf");
  EXPECT_EQ(f.metadata().front().key, "general.type");
  EXPECT_EQ(f.tensors()[0].name, "blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(f.tensors()[0].ne, std::vector<uint64_t>{3});
  EXPECT_EQ(f.tensors()[1].name, "blk.0.attn_q.weight.counts");
  EXPECT_EQ(f.tensors()[3].ne, std::vector<uint64_t>({1, 2}));
}

TEST(Imatrix, LegacyRoundTripKeepsImportance) {
  test::TempDir dir;
  Imatrix m = sample();
  m.save(dir / "im.dat", true);
  Imatrix r = Imatrix::load(dir / "im.dat");
  EXPECT_TRUE(r.legacy);
  EXPECT_EQ(r.chunk_count, 3);
  EXPECT_EQ(r.datasets, m.datasets);
  for (const auto& [name, e] : m.entries) {
    std::vector<float> a = m.importance(name), b = r.importance(name);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6f * std::max(1.0f, a[i])) << name << " " << i;
  }
  // ncall = ceil(max count / chunk size): 5 rows in chunks of 4 -> 2
  EXPECT_EQ(r.entries.at("blk.0.attn_q.weight").counts, std::vector<int64_t>{2});
  // written again as .dat, the bytes are the same
  r.save(dir / "again.dat", true);
  std::ifstream a(dir / "im.dat", std::ios::binary), b(dir / "again.dat", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));
}

TEST(Imatrix, BadFilesAreOneLineErrors) {
  test::TempDir dir;
  sample().save(dir / "im.dat", true);
  std::ifstream in(dir / "im.dat", std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  for (size_t cut : {size_t(2), size_t(9), bytes.size() / 2}) {
    std::ofstream(dir / "cut.dat", std::ios::binary) << bytes.substr(0, cut);
    EXPECT_THROW(Imatrix::load(dir / "cut.dat"), Error) << cut;
  }
  std::string huge = bytes;
  int32_t n = 1 << 30;
  std::memcpy(&huge[4 + 4 + 19 + 4], &n, 4);  // nval of the first entry
  std::ofstream(dir / "huge.dat", std::ios::binary) << huge;
  EXPECT_THROW(Imatrix::load(dir / "huge.dat"), Error);
  gguf::Writer w;  // sums without counts
  std::vector<float> s = {1, 2};
  w.add_tensor("x.in_sum2", DType::F32, {2}, s.data());
  w.write(dir / "half.gguf");
  EXPECT_THROW(Imatrix::load(dir / "half.gguf"), Error);
  EXPECT_THROW(Imatrix::load(dir / "missing.dat"), Error);
  EXPECT_TRUE(imatrix_format_is_legacy("dat"));
  EXPECT_FALSE(imatrix_format_is_legacy(""));
  EXPECT_THROW(imatrix_format_is_legacy("bin"), Error);
}

// Values llama-imatrix (llama.cpp de3ff81) computed for the same model and
// text: `llama-imatrix -m llama-shakespeare-f16.gguf -f tinyshakespeare.txt
// -c 128 --chunks 2`, mean squared activation of the first columns.
TEST(Imatrix, CollectionMatchesLlamaImatrix) {
  TF_REQUIRE_SHARED_MODELS();
  auto models = test::shared_models();
  ImatrixRun run;
  run.n_ctx = 128;
  run.chunks = 2;
  Imatrix m = collect_imatrix((models / "trained/llama-shakespeare/llama-shakespeare-f16.gguf").string(),
                              (models / "data/tinyshakespeare.txt").string(), run);
  EXPECT_EQ(m.entries.size(), 28u);
  EXPECT_EQ(m.chunk_count, 2);
  EXPECT_EQ(m.entries.at("blk.0.attn_q.weight").counts, std::vector<int64_t>{256});
  const std::pair<const char*, std::vector<float>> expected[] = {
      {"blk.0.attn_q.weight", {1.10376f, 0.909404f, 1.02495f, 0.600209f}},
      {"blk.2.attn_output.weight", {0.00906191f, 0.00570085f, 0.00463228f, 0.0297787f}},
      {"blk.3.ffn_down.weight", {0.00718678f, 0.0207819f, 0.0243538f, 0.0164168f}},
  };
  for (const auto& [name, want] : expected) {
    std::vector<float> got = m.importance(name);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 5e-3f * want[i]) << name << " " << i;
  }
}

}  // namespace
}  // namespace tf::quant
