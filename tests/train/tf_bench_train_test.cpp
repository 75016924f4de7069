// `tf-bench train`: one `bench` record per batch size / thread count with the
// training throughput fields; a bad config is a one-line error, exit 1.
#include <gtest/gtest.h>

#include <fstream>

#include "common/run_tool.h"

namespace tf {
namespace {

TEST(TfBenchTrain, WritesTrainingRecords) {
  test::TempDir dir;
  {
    std::ofstream(dir / "config.json") << R"({"model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": 1,
      "n_head": 2, "n_positions": 16, "n_ctx": 16, "activation_function": "gelu_new"})";
  }
  const auto r = test::run_shell("tf-bench train --config " + (dir / "config.json") + " -b 1,2 --seq 8 -t 1 -r 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto recs = test::json_records(r.out);
  ASSERT_EQ(recs.size(), 2u);
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& rec = recs[i];
    EXPECT_EQ(rec.at("type"), "bench");
    EXPECT_EQ(rec.at("test"), "train b" + std::to_string(i + 1) + " s8");
    EXPECT_EQ(rec.at("model_type"), "gpt2");
    EXPECT_EQ(rec.at("repetitions"), 2);
    EXPECT_GT(rec.at("avg_samples_per_s").get<double>(), 0);
    EXPECT_TRUE(rec.contains("stddev_samples_per_s"));
    EXPECT_NEAR(rec.at("tokens_per_s").get<double>(), 8 * double(i + 1) * 1e9 / rec.at("avg_ns").get<double>(),
                1e-5 * rec.at("tokens_per_s").get<double>());  // avg_ns is rounded
  }
  {
    std::ofstream(dir / "bad.json") << R"({"model_type": "t5", "vocab_size": 50})";  // not a trainable decoder
  }
  const auto bad = test::run_shell("tf-bench train --config " + (dir / "bad.json") + " -r 1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.out.empty());
  EXPECT_NE(bad.err.find("not trainable"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace tf
