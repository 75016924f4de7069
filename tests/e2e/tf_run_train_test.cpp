// tf-run train end to end: a tiny GPT-2 trained for a few steps from a
// config.json; its final checkpoint runs in tf-run perplexity (HF folder and
// GGUF) with the numbers of the training loop's last eval record, and in
// tf-run generate.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "tf/json_file.h"
#include "tf/tokenizer.h"

namespace tf {
namespace fs = std::filesystem;
using nlohmann::json;
using test::run_shell;

namespace {

std::string corpus() {
  std::string text;
  const char* lines[] = {"the king is dead, long live the king.", "to be or not to be, that is the question.",
                         "all the world's a stage, and all the men and women merely players.",
                         "now is the winter of our discontent.", "a horse, a horse, my kingdom for a horse!"};
  for (int i = 0; i < 60; ++i) text += std::string(lines[(i * 7) % 5]) + "\n";
  return text;
}

const json* last_of(const std::vector<json>& records, const std::string& type) {
  const json* found = nullptr;
  for (const json& r : records)
    if (r["type"] == type) found = &r;
  return found;
}

TEST(TfRunTrain, CheckpointPerplexityEqualsTheLastEval) {
  test::TempDir dir;
  const std::string model = dir / "tiny";
  fs::create_directories(model);
  const std::string tok = train_tokenizer(corpus(), {TokenizerAlgorithm::BytePairEncoding, 300, 2});
  std::ofstream(model + "/tokenizer.json") << tok;
  write_json_file(model + "/config.json",
                  {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"n_layer", 2}, {"n_embd", 32},
                   {"n_head", 2}, {"n_positions", 64}, {"n_ctx", 64},
                   {"vocab_size", Tokenizer::from_hf_json(tok, "", "tok").vocab_size()},
                   {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.02},
                   {"tie_word_embeddings", true}});
  const std::string text = dir / "text.txt";
  std::ofstream(text) << corpus();
  // settings from a file, one of them overridden by a flag
  write_json_file(dir / "train.json", {{"steps", 100}, {"batch", 2}, {"seq", 16}, {"lr", 3e-3}, {"warmup", 2},
                                       {"eval_every", 4}, {"seed", 3}, {"threads", 1}});
  const std::string out = dir / "out";
  auto t = run_shell("tf-run train --config " + dir / "train.json" + " --model-config " + model + " -f " + text +
                     " --steps 8 --save-gguf f32 -o " + out);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.err.find('\r'), std::string::npos);  // stderr is not a terminal: no progress bar
  const std::vector<json> records = test::json_records(t.out);
  const json* data = last_of(records, "data");
  const json* eval = last_of(records, "eval");
  const json* train = last_of(records, "train");
  ASSERT_TRUE(data && eval && train);
  EXPECT_EQ((*train)["step"], 8);
  EXPECT_EQ((*eval)["step"], 8);
  EXPECT_EQ(records.back()["type"], "model");  // the GGUF, last so that `-m -` picks it
  EXPECT_EQ(records.back()["format"], "gguf");

  std::ifstream in(text, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), {});
  const std::string valid = dir / "valid.txt";
  std::ofstream(valid, std::ios::binary) << all.substr((*data)["valid_offset"].get<size_t>());

  for (const std::string& m : {out + "/final", out + "/final/model-f32.gguf"}) {
    auto p = run_shell("tf-run perplexity -m " + m + " -f " + valid + " -c 16 -t 1");
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const std::vector<json> precords = test::json_records(p.out);
    const json* ppl = last_of(precords, "perplexity");
    ASSERT_TRUE(ppl);
    EXPECT_EQ((*ppl)["n_tokens"], (*eval)["n_tokens"]) << m;
    EXPECT_EQ((*ppl)["n_windows"], (*eval)["n_windows"]) << m;
    EXPECT_NEAR((*ppl)["nll"].get<double>(), (*eval)["loss"].get<double>(), 2e-5) << m;
  }

  auto g = run_shell("tf-run generate -m " + out + "/final -p \"the king\" -n 6 --temp 0");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::vector<json> grecords = test::json_records(g.out);
  ASSERT_TRUE(last_of(grecords, "generation"));
}

TEST(TfRunTrain, BadInputIsOneLineAndExitOne) {
  test::TempDir dir;
  auto r = run_shell("tf-run train --init-from " + dir / "nothing" + " -f " + dir / "missing.txt" + " -o " +
                     dir / "out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("tf-run: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(dir / "out/final"));
  auto u = run_shell("tf-run train --stepz 3");
  EXPECT_EQ(u.exit_code, 2);
}

}  // namespace
}  // namespace tf
