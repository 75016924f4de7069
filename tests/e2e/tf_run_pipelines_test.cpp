// The built tf-run on encoders: forward writes the golden keys of every zoo
// encoder, fill-mask reproduces transformers' top 5, and the pipelines read
// --jsonl-in and answer one record per input in input order.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "pipelines/fixture.h"
#include "tf/safetensors.h"

namespace tf {
namespace fs = std::filesystem;
using nlohmann::json;
using test::run_shell;

namespace {

std::vector<json> records(const std::string& out) { return test::json_records(out); }

std::string golden_ids(const fs::path& golden) {
  auto f = safetensors::File::open(golden.string());
  Tensor t = f.tensor("input_ids");
  std::string s;
  for (int64_t i = 0; i < t.numel(); ++i) s += (i ? "," : "") + std::to_string(t.data_as<int64_t>()[i]);
  return s;
}

float max_abs_diff(const safetensors::File& a, const safetensors::File& b, const std::string& key) {
  Tensor x = a.tensor(key), y = b.tensor(key);
  EXPECT_EQ(x.shape(), y.shape()) << key;
  float m = 0;
  for (int64_t i = 0; i < std::min(x.numel(), y.numel()); ++i)
    m = std::max(m, std::fabs(x.data_as<float>()[i] - y.data_as<float>()[i]));
  return m;
}

}  // namespace

TEST(TfRunEncoders, ForwardWritesTheGoldenKeys) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir tmp;
  for (const char* m : {"parity/bert", "parity/roberta", "parity/distilbert", "parity/electra", "parity/albert",
                        "parity/deberta-v2", "trained/bert-shakespeare"}) {
    SCOPED_TRACE(m);
    fs::path dir = test::shared_models() / m;
    std::string out = tmp / "fwd.safetensors";
    auto r = run_shell("tf-run forward -m " + dir.string() + " --ids " + golden_ids(dir / "golden.safetensors") +
                       " --hidden-states -t 2 -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto rec = records(r.out);
    ASSERT_EQ(rec.size(), 1u);
    EXPECT_EQ(rec[0]["keys"], json({"hidden_states", "last_hidden_state", "logits"}));
    auto got = safetensors::File::open(out);
    auto want = safetensors::File::open((dir / "golden.safetensors").string());
    for (const char* key : {"hidden_states", "last_hidden_state", "logits"}) EXPECT_LE(max_abs_diff(got, want, key), 1e-4f) << key;
  }
}

TEST(TfRunEncoders, FillMaskTop5OnBertShakespeare) {
  TF_REQUIRE_SHARED_MODELS();
  fs::path dir = test::shared_models() / "trained" / "bert-shakespeare";
  auto r = run_shell("tf-run fill-mask -m " + dir.string() + " -p \"To be, or not to [MASK], that is the question.\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rec = records(r.out);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0]["type"], "fill_mask");
  const json& cands = rec[0]["masks"][0]["candidates"];
  std::vector<int64_t> ids;
  for (const json& c : cands) ids.push_back(c["token_id"].get<int64_t>());
  EXPECT_EQ(ids, (std::vector<int64_t>{1010, 1996, 1997, 1998, 1024}));
  EXPECT_EQ(cands[1]["token_str"], "the");
  EXPECT_EQ(cands[1]["sequence"], "to be, or not to the, that is the question.");
}

TEST(TfRunEncoders, PipelinesAnswerJsonlInInputOrder) {
  test::TempDir tmp;
  test::HeadWeights h{"BertForSequenceClassification", {}, {{0, "no"}, {1, "yes"}}, ""};
  const int64_t d = test::kFixtureHidden;
  std::vector<float> eye(size_t(d * d), 0.0f), wc(size_t(2 * d), 0.0f);
  for (int64_t i = 0; i < d; ++i) eye[size_t(i * d + i)] = 1.0f;
  wc[size_t(d + test::fixture_id("paris"))] = 3.0f;
  h.tensors = {{"bert.pooler.dense.weight", {{d, d}, eye}},
               {"bert.pooler.dense.bias", {{d}, std::vector<float>(size_t(d), 0.0f)}},
               {"classifier.weight", {{2, d}, wc}},
               {"classifier.bias", {{2}, {0.0f, 0.0f}}}};
  fs::create_directories(tmp.path() / "model");
  test::write_fixture((tmp.path() / "model").string(), h);
  std::string model = (tmp.path() / "model").string();
  std::ofstream(tmp / "in.jsonl") << "{\"text\":\"hello\"}\n\n{\"text\":\"paris\"}\n{\"text\":\"hello paris\"}\n";
  auto r = run_shell("tf-run classify -m " + model + " --jsonl-in " + (tmp / "in.jsonl") + " -b 2 --top-k 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rec = records(r.out);
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0]["line"], 1);
  EXPECT_EQ(rec[1]["line"], 3);
  EXPECT_EQ(rec[2]["line"], 4);
  EXPECT_EQ(rec[1]["labels"][0]["label"], "yes");
  EXPECT_EQ(rec[0]["labels"].size(), 2u);

  std::ofstream(tmp / "embed.jsonl") << "{\"text\":\"hello\"}\n{\"text\":\"paris is\"}\n";
  auto e = run_shell("cat " + (tmp / "embed.jsonl") + " | tf-run embed -m " + model + " --jsonl-in - --pooling cls --normalize");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto emb = records(e.out);
  ASSERT_EQ(emb.size(), 2u);
  EXPECT_EQ(emb[0]["dim"], d);
  double norm = 0;
  for (const json& v : emb[1]["vector"]) norm += v.get<double>() * v.get<double>();
  EXPECT_NEAR(norm, 1.0, 1e-5);

  auto bad = run_shell("tf-run classify -m " + model + " --jsonl-in " + (tmp / "missing.jsonl"));
  EXPECT_EQ(bad.exit_code, 1);
  auto no_input = run_shell("tf-run classify -m " + model);
  EXPECT_EQ(no_input.exit_code, 2);
  auto wrong_head = run_shell("tf-run qa -m " + model + " -q where --context paris");
  EXPECT_EQ(wrong_head.exit_code, 1);
  EXPECT_NE(wrong_head.err.find("ForQuestionAnswering"), std::string::npos) << wrong_head.err;
}

}  // namespace tf
