// The built tf-run binary on the zoo's causal LMs: greedy generation equals
// transformers' ids, forward writes the golden keys, perplexity matches the
// recorded values within 0.1%.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "tf/safetensors.h"

namespace tf {
namespace fs = std::filesystem;
using nlohmann::json;
using test::run_shell;

namespace {

std::vector<json> records(const std::string& out) { return test::json_records(out); }

std::vector<int64_t> golden_ids(const fs::path& golden, const std::string& key) {
  auto f = safetensors::File::open(golden.string());
  Tensor t = f.tensor(key);
  return {t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel()};
}

std::string join(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// The last 10% of tinyshakespeare by characters, as the zoo's perplexity rule.
std::string valid_split(const test::TempDir& dir) {
  std::ifstream in(test::shared_models() / "data" / "tinyshakespeare.txt", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::string path = dir / "valid.txt";
  std::ofstream(path, std::ios::binary) << text.substr(size_t(double(text.size()) * 0.9));
  return path;
}

}  // namespace

TEST(TfRun, GreedyGenerationMatchesTransformers) {
  TF_REQUIRE_SHARED_MODELS();
  fs::path dir = test::shared_models() / "trained" / "llama-shakespeare";
  auto prompt = golden_ids(dir / "golden.safetensors", "input_ids_1");
  auto expected = golden_ids(dir / "golden.safetensors", "greedy_new_ids_1");
  auto r = run_shell("tf-run generate -m " + (dir / "llama-shakespeare-f16.gguf").string() + " --ids " + join(prompt) +
                     " -n 48 --temp 0 --ignore-eos --cache-type f32 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(r.out);
  ASSERT_EQ(recs.size(), 49u);
  EXPECT_EQ(recs[0]["type"], "token");
  const json& g = recs.back();
  EXPECT_EQ(g["type"], "generation");
  EXPECT_EQ(g["ids"].get<std::vector<int64_t>>(), expected);
  EXPECT_EQ(g["prompt_tokens"], prompt.size());
  EXPECT_EQ(g["stop_reason"], "length");
  EXPECT_GT(g["timings"]["gen_tok_per_s"].get<double>(), 0);
  std::string streamed;
  for (size_t i = 0; i + 1 < recs.size(); ++i) streamed += recs[i]["text"].get<std::string>();
  EXPECT_EQ(streamed, g["text"].get<std::string>());
  EXPECT_EQ(g["text"].get<std::string>().substr(0, 16), "\n\nSecond Citizen");
}

TEST(TfRun, TextPromptsStopStringsAndJsonl) {
  TF_REQUIRE_SHARED_MODELS();
  std::string model = (test::shared_models() / "trained" / "gpt2-shakespeare").string();
  auto r = run_shell("tf-run generate -m " + model + " -p \"ROMEO:\" -n 40 --temp 0 --stop \"ROMEO\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json g = records(r.out).back();
  // golden: "\nI'll be a word.\n\nROMEO:..." -> cut before the stop string
  EXPECT_EQ(g["text"], "\nI'll be a word.\n\n");
  EXPECT_EQ(g["stop_reason"], "stop");
  test::TempDir dir;
  std::ofstream(dir / "in.jsonl") << "{\"text\":\"ROMEO:\"}\n{\"ids\":[33676,4720,25]}\n";
  auto batch = run_shell("tf-run generate -m " + model + " --jsonl-in " + (dir / "in.jsonl") + " -n 5 --temp 0");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::vector<json> gens;
  for (auto& rec : records(batch.out))
    if (rec["type"] == "generation") gens.push_back(rec);
  ASSERT_EQ(gens.size(), 2u);
  EXPECT_EQ(gens[0]["ids"], gens[1]["ids"]);
  EXPECT_EQ(gens[1]["line"], 2);
  auto head = run_shell("tf-run generate -m " + model + " -p \"ROMEO:\" -n 200 --temp 0 --ignore-eos | head -1; "
                        "echo \"status=${PIPESTATUS[0]}\" >&2");
  EXPECT_NE(head.err.find("status=0"), std::string::npos) << head.err;
}

TEST(TfRun, BeamSearchRecords) {
  TF_REQUIRE_SHARED_MODELS();
  fs::path parity = test::shared_models() / "parity" / "gpt2";
  auto prompt = golden_ids(parity / "golden.safetensors", "input_ids_0");
  // one beam is greedy search: the zoo's greedy ids
  auto one = run_shell("tf-run generate -m " + parity.string() + " --ids " + join(prompt) +
                       " -n 48 --beams 1 --ignore-eos --cache-type f32 -t 2");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto recs = records(one.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["type"], "beam");
  EXPECT_EQ(recs[0]["ids"].get<std::vector<int64_t>>(), golden_ids(parity / "golden.safetensors", "greedy_new_ids_0"));
  EXPECT_EQ(recs[1]["ids"], recs[0]["ids"]);
  EXPECT_EQ(recs[1]["stop_reason"], "length");

  std::string model = (test::shared_models() / "trained" / "gpt2-shakespeare").string();
  auto r = run_shell("tf-run generate -m " + model + " -p \"ROMEO:\" -n 12 --beams 4 --num-return-sequences 3 "
                     "--length-penalty 0.5 --early-stopping=never -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  recs = records(r.out);
  ASSERT_EQ(recs.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(recs[i]["type"], "beam");
    EXPECT_EQ(recs[i]["rank"], i);
    EXPECT_LE(recs[i]["ids"].size(), 12u);
    if (i > 0) {
      EXPECT_LE(recs[i]["score"].get<double>(), recs[i - 1]["score"].get<double>());
    }
  }
  const json& g = recs[3];
  EXPECT_EQ(g["type"], "generation");
  EXPECT_EQ(g["beams"], 4);
  EXPECT_EQ(g["score"], recs[0]["score"]);
  EXPECT_EQ(g["text"], recs[0]["text"]);
  auto best = recs[0]["ids"].get<std::vector<int64_t>>();
  if (g["stop_reason"] == "eos") best.pop_back();  // the beam keeps its EOS, the generation record does not
  EXPECT_EQ(g["ids"].get<std::vector<int64_t>>(), best);
  EXPECT_GT(g["timings"]["gen_tok_per_s"].get<double>(), 0);

  test::TempDir dir;
  std::ofstream(dir / "in.jsonl") << "{\"text\":\"ROMEO:\"}\n{\"ids\":[33676,4720,25]}\n";
  auto batch = run_shell("tf-run generate -m " + model + " --jsonl-in " + (dir / "in.jsonl") + " -n 4 --beams 2 --early-stopping");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  recs = records(batch.out);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0]["line"], 1);
  EXPECT_EQ(recs[3]["line"], 2);
  EXPECT_EQ(recs[1]["ids"], recs[3]["ids"]);
  EXPECT_EQ(run_shell("tf-run generate -m " + model + " -p hi --beams 2 --stop x").exit_code, 2);
  EXPECT_EQ(run_shell("tf-run generate -m " + model + " -p hi --beams 2 --early-stopping=sometimes").exit_code, 2);
  EXPECT_EQ(run_shell("tf-run generate -m " + model + " -p hi --beams 2 --num-return-sequences 3").exit_code, 1);
}

TEST(TfRun, ForwardWritesTheGoldenKeys) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path folder = test::shared_models() / "parity" / "qwen2";
  auto ids = golden_ids(folder / "golden.safetensors", "input_ids_1");
  auto r = run_shell("tf-run forward -m " + folder.string() + " --ids " + join(ids) + " --hidden-states -o " +
                     (dir / "out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json rec = records(r.out).back();
  EXPECT_EQ(rec["type"], "forward");
  auto out = safetensors::File::open(dir / "out.safetensors");
  auto golden = safetensors::File::open((folder / "golden.safetensors").string());
  for (const char* key : {"logits", "last_hidden_state", "hidden_states"}) {
    Tensor a = out.tensor(key), b = golden.tensor(std::string(key) + "_1");
    ASSERT_EQ(a.shape(), b.shape()) << key;
    float diff = 0;
    for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::fabs(a.data_as<float>()[i] - b.data_as<float>()[i]));
    EXPECT_LE(diff, 1e-4f) << key;
  }
}

TEST(TfRun, PerplexityWithinTenthOfAPercent) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  std::string valid = valid_split(dir);
  struct Case {
    const char* model;
    double ppl;
    int64_t tokens, windows;
  };
  for (const Case& c : {Case{"trained/llama-shakespeare", 78.9777, 38579, 152},
                        Case{"trained/gpt2-shakespeare", 129.3846, 35918, 141}}) {
    SCOPED_TRACE(c.model);
    auto r = run_shell("tf-run perplexity -m " + (test::shared_models() / c.model).string() + " -f " + valid +
                       " -c 256 --cache-type f32 -t 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json p = records(r.out).back();
    EXPECT_EQ(p["type"], "perplexity");
    EXPECT_EQ(p["n_tokens"], c.tokens);
    EXPECT_EQ(p["n_windows"], c.windows);
    EXPECT_NEAR(p["ppl"].get<double>(), c.ppl, c.ppl * 1e-3);
  }
}

TEST(TfRun, BadInputsFailClearly) {
  test::TempDir dir;
  auto r = run_shell("tf-run generate -m " + (dir / "none.gguf") + " -p hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("tf-run: error: ", 0), 0u) << r.err;
  EXPECT_EQ(run_shell("tf-run generate -p hi").exit_code, 2);
  auto synth = run_shell("tf-convert synth --preset tiny-llama --layers 1 --ctx 16 -o " + (dir / "m.gguf"));
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  auto ids = run_shell("tf-run generate -m " + (dir / "m.gguf") + " --ids 1,99999 -n 1");
  EXPECT_EQ(ids.exit_code, 1);
  EXPECT_NE(ids.err.find("out of range"), std::string::npos) << ids.err;
  auto full = run_shell("tf-run generate -m " + (dir / "m.gguf") + " --ids 1,2,3 -n 50 --temp 0 --ignore-eos");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(records(full.out).back()["stop_reason"], "context_full");
  EXPECT_EQ(run_shell("tf-run generate -m " + (dir / "m.gguf") + " --ids 1,x").exit_code, 1);
}

TEST(TfRun, QuickstartModelGeneratesFromText) {
  test::TempDir dir;
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 2 -o " + (dir / "m.gguf") +
                     " | tf-run generate -m - -p \"Hello\" -n 8 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json g = records(r.out).back();
  EXPECT_EQ(g["type"], "generation");
  EXPECT_EQ(g["prompt_tokens"], 7);  // BOS + "▁" + 5 letters through byte-level pieces
  EXPECT_EQ(g["n_tokens"], 8);
}

}  // namespace tf
