// End to end: the built `tf-run` binary, its records and its exit codes
// (0 ok, 1 failure, 2 usage).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>

#include "common/run_tool.h"
#include "tokenizer/helpers.h"

namespace tf {
namespace {

using json = nlohmann::json;

struct Result {
  int code;
  std::string out, err;
};

// Runs `args` (already shell-quoted) through bash, capturing both streams.
Result run(const test::TempDir& dir, const std::string& args, const std::string& pipe_to = "") {
  std::string out = dir / "stdout", err = dir / "stderr";
  std::string cmd = "set -o pipefail; " + test::tool("tf-run").string() + " " + args + " 2>" + err +
                    (pipe_to.empty() ? "" : " | " + pipe_to) + " >" + out;
  int status = std::system(("bash -c '" + cmd + "'").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out), test::read_file(err)};
}

std::vector<json> records(const std::string& out) { return test::json_records(out); }

std::string gpt2() { return (test::shared_models() / "trained" / "gpt2-shakespeare").string(); }

TEST(TfRunTokenize, RecordSchema) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  Result r = run(dir, "tokenize -m " + gpt2() + " -p \"Hello world\"");
  ASSERT_EQ(r.code, 0) << r.err;
  auto rec = records(r.out);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0]["type"], "tokens");
  EXPECT_EQ(rec[0]["n"], 2);
  EXPECT_EQ(rec[0]["ids"], json::array({15496, 995}));
  EXPECT_EQ(rec[0]["pieces"], json::array({"Hello", "\xC4\xA0world"}));
  EXPECT_TRUE(r.err.empty()) << r.err;

  test::write_file(dir / "in.txt", "Hello world");
  Result f = run(dir, "tokenize -m " + gpt2() + "/tokenizer.json -f " + (dir / "in.txt"));
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(records(f.out)[0]["ids"], json::array({15496, 995}));
}

TEST(TfRunTokenize, SpecialFlags) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  std::string llama = (test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string();
  EXPECT_EQ(records(run(dir, "tokenize -m " + llama + " -p Hello").out)[0]["ids"], json::array({1, 15043}));
  EXPECT_EQ(records(run(dir, "tokenize -m " + llama + " -p Hello --no-special").out)[0]["ids"], json::array({15043}));
  EXPECT_EQ(records(run(dir, "tokenize -m " + llama + " -p \"<s>Hello\" --no-special --parse-special").out)[0]["ids"],
            json::array({1, 15043}));
}

TEST(TfRunTokenize, JsonlInOneRecordPerLine) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  test::write_file(dir / "in.jsonl", "{\"text\":\"Hello\"}\n\n{\"text\":\"world\"}\n");
  Result r = run(dir, "tokenize -m " + gpt2() + " --jsonl-in " + (dir / "in.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto rec = records(r.out);
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec[1]["ids"], json::array({6894}));
  // A reader that leaves early is not an error, and the tool stops.
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "{\"text\":\"line " + std::to_string(i) + " of a long input\"}\n";
  test::write_file(dir / "many.jsonl", many);
  Result head = run(dir, "tokenize -m " + gpt2() + " --jsonl-in - <" + (dir / "many.jsonl"), "head -1");
  EXPECT_EQ(head.code, 0) << head.err;
  EXPECT_EQ(records(head.out).size(), 1u);
  EXPECT_TRUE(head.err.empty()) << head.err;
}

TEST(TfRunDetokenize, TextRecord) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  Result r = run(dir, "detokenize -m " + gpt2() + " --ids 15496,995");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(records(r.out)[0], (json{{"type", "text"}, {"text", "Hello world"}}));
  test::write_file(dir / "ids.jsonl", "{\"ids\":[15496]}\n{\"ids\":[995]}\n");
  auto rec = records(run(dir, "detokenize -m " + gpt2() + " --jsonl-in " + (dir / "ids.jsonl")).out);
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec[1]["text"], " world");
  EXPECT_EQ(run(dir, "detokenize -m " + gpt2() + " --ids 99999999").code, 1);
}

TEST(TfRunTokenize, ExitCodes) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  EXPECT_EQ(run(dir, "tokenize -p hi").code, 2);                                   // no -m
  EXPECT_EQ(run(dir, "tokenize -m " + gpt2()).code, 2);                            // no input
  EXPECT_EQ(run(dir, "tokenize -m " + gpt2() + " -p a -f b").code, 2);             // two inputs
  EXPECT_EQ(run(dir, "tokenize -m " + gpt2() + " -p a --no-such-flag").code, 2);  // unknown flag
  EXPECT_EQ(run(dir, "").code, 2);                                                 // no subcommand
  Result missing = run(dir, "tokenize -m " + (dir / "nope.gguf") + " -p a");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err.find("tf-run: error: "), 0u) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  test::write_file(dir / "bad.json", "{\"model\": {\"type\": \"BPE\"}}");
  Result bad = run(dir, "tokenize -m " + (dir / "bad.json") + " -p a");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("bad.json"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());
  test::write_file(dir / "bad.jsonl", "{\"text\":\"ok\"}\nnot json\n");
  Result line = run(dir, "tokenize -m " + gpt2() + " --jsonl-in " + (dir / "bad.jsonl"));
  EXPECT_EQ(line.code, 1);
  EXPECT_NE(line.err.find("bad.jsonl:2"), std::string::npos) << line.err;
}

TEST(TfRunTrainTokenizer, WritesALoadableTokenizer) {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 50; ++i) text += "the cat sat on the mat and the dog sat on the log\n";
  test::write_file(dir / "corpus.txt", text);
  for (const char* type : {"bpe", "wordpiece", "unigram"}) {
    SCOPED_TRACE(type);
    std::string out = dir / (std::string(type) + ".json");
    Result r = run(dir, std::string("train-tokenizer --type ") + type + " --vocab-size 300 -f " + (dir / "corpus.txt") + " -o " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    auto rec = records(r.out);
    ASSERT_EQ(rec.size(), 1u);
    EXPECT_EQ(rec[0]["type"], "tokenizer");
    EXPECT_EQ(rec[0]["path"], out);
    EXPECT_EQ(rec[0]["algorithm"], type);
    Result t = run(dir, "tokenize -m " + out + " -p \"the cat\"");
    EXPECT_EQ(t.code, 0) << t.err;
  }
  EXPECT_EQ(run(dir, "train-tokenizer --type nope -f x -o y").code, 2);
}

}  // namespace
}  // namespace tf
