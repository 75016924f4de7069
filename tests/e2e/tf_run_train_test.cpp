// tf-run train end to end: a tiny GPT-2 trained for a few steps from a
// config.json; its final checkpoint runs in tf-run perplexity (HF folder and
// GGUF) with the numbers of the training loop's last eval record, and in
// tf-run generate.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

TEST(TfRunTrain, TextClassifierCheckpointRunsInTfRunClassify) {
  // tf-run classify's probabilities on the valid lines give the loss and
  // accuracy of the training loop's last eval record
  test::TempDir dir;
  const char* happy[] = {"joy", "merry", "glad", "sweet", "fair", "love"};
  const char* grim[] = {"woe", "grief", "death", "foul", "curse", "tears"};
  std::string train_lines, valid_lines, corpus;
  for (int i = 0; i < 100; ++i) {
    const bool pos = (i * 7 + i / 3) % 2 == 0;
    std::string text;
    for (int w = 0; w < 4 + i % 3; ++w) text += std::string(w ? " " : "") + (pos ? happy : grim)[(i * 5 + w * 3) % 6];
    if (i % 9 == 4) text += std::string(" ") + (pos ? grim : happy)[i % 6];  // some noise
    corpus += text + "\n";
    (i < 80 ? train_lines : valid_lines) += json{{"text", text}, {"label", pos ? "happy" : "grim"}}.dump() + "\n";
  }
  std::ofstream(dir / "train.jsonl") << train_lines;
  std::ofstream(dir / "valid.jsonl") << valid_lines;
  const std::string model = dir / "bert";
  fs::create_directories(model);
  const std::string tok = train_tokenizer(corpus, {TokenizerAlgorithm::WordPiece, 60, 1});
  std::ofstream(model + "/tokenizer.json") << tok;
  write_json_file(model + "/config.json",
                  {{"model_type", "bert"}, {"architectures", {"BertForMaskedLM"}}, {"hidden_size", 32},
                   {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", 64},
                   {"max_position_embeddings", 64}, {"type_vocab_size", 2}, {"hidden_act", "gelu"},
                   {"layer_norm_eps", 1e-12}, {"pad_token_id", 0},
                   {"vocab_size", Tokenizer::from_hf_json(tok, "", "tok").vocab_size()}});
  auto t = run_shell("tf-run train --task classify-text --model-config " + model + " -f " + dir / "train.jsonl" +
                     " --valid-data " + dir / "valid.jsonl" + " --steps 12 -b 8 -c 64 --lr 3e-3 -t 1 -o " +
                     dir / "out");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::vector<json> records = test::json_records(t.out);
  const json* eval = last_of(records, "eval");
  ASSERT_TRUE(eval);
  EXPECT_EQ((*eval)["n_samples"], 20);

  auto c = run_shell("tf-run classify -m " + dir / "out/final" + " --jsonl-in " + dir / "valid.jsonl" +
                     " --top-k 2 -t 1");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::vector<std::string> truth;
  for (const json& line : test::json_records(valid_lines)) truth.push_back(line["label"]);
  double nll = 0;
  int correct = 0, n = 0;
  for (const json& r : test::json_records(c.out)) {
    const std::string& want = truth.at(r["line"].get<size_t>() - 1);
    correct += r["labels"][0]["label"] == want;
    for (const json& l : r["labels"])
      if (l["label"] == want) nll -= std::log(l["score"].get<double>());
    ++n;
  }
  ASSERT_EQ(n, 20);
  EXPECT_NEAR(nll / n, (*eval)["loss"].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(double(correct) / n, (*eval)["accuracy"].get<double>());
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
