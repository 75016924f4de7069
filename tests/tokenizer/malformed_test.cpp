// A malformed tokenizer file is a one-line tf::Error naming the file, never
// a crash or a half-working tokenizer.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tf/error.h"
#include "tf/gguf.h"
#include "tokenizer/helpers.h"

namespace tf {
namespace {

using json = nlohmann::json;

void expect_one_line_error(const std::function<void()>& f, const std::string& mentions) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << mentions << "'";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(mentions), std::string::npos) << what;
  }
}

std::string valid_json() {
  static const std::string j = train_tokenizer("hello world hello there\n", {TokenizerAlgorithm::BytePairEncoding, 300, 1});
  return j;
}

TEST(Malformed, TokenizerJson) {
  auto load = [](const std::string& text) { return [text] { Tokenizer::from_hf_json(text, "", "bad.json"); }; };
  expect_one_line_error(load("{not json"), "bad.json: not valid JSON");
  expect_one_line_error(load("[]"), "bad.json");
  expect_one_line_error(load(R"({"model": 3})"), "bad.json");
  json j = json::parse(valid_json());
  j["model"]["merges"].push_back("Ġnot inthevocab");
  expect_one_line_error(load(j.dump()), "merge");
  j = json::parse(valid_json());
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_one_line_error(load(j.dump()), "regex");
  j = json::parse(valid_json());
  j["normalizer"] = {{"type", "NoSuchNormalizer"}};
  expect_one_line_error(load(j.dump()), "NoSuchNormalizer");
  j = json::parse(valid_json());
  j["model"]["vocab"]["x"] = "seven";
  expect_one_line_error(load(j.dump()), "not an integer");
  j = json::parse(valid_json());
  j["added_tokens"].push_back({{"content", "<x>"}});
  expect_one_line_error(load(j.dump()), "added_tokens");
  j = json::parse(valid_json());
  j["model"]["type"] = "WordLevel";
  expect_one_line_error(load(j.dump()), "WordLevel");
}

TEST(Malformed, MissingPaths) {
  test::TempDir dir;
  expect_one_line_error([&] { Tokenizer::load(dir / "nope.json"); }, "no such file");
  expect_one_line_error([&] { Tokenizer::load(dir.path().string()); }, "no tokenizer.json");
}

TEST(Malformed, TruncatedGgufVocabulary) {
  TF_REQUIRE_SHARED_MODELS();
  std::string bytes = test::read_file(test::shared_models() / "tokenizers" / "ggml-vocab-gpt-2.gguf");
  test::TempDir dir;
  for (size_t keep : {size_t(3), size_t(24), bytes.size() / 3, bytes.size() - 1000}) {
    SCOPED_TRACE(keep);
    test::write_file(dir / "cut.gguf", bytes.substr(0, keep));
    expect_one_line_error([&] { Tokenizer::load(dir / "cut.gguf"); }, "cut.gguf");
  }
}

// A GGUF whose metadata is well-formed but whose vocabulary is not.
std::string write_vocab(const test::TempDir& dir, const std::function<void(gguf::Writer&)>& edit) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array({"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "b"}));
  w.set("tokenizer.ggml.scores", gguf::Value::f32_array({0, 0, 0, -1, -2}));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array({2, 3, 3, 1, 1}));
  edit(w);
  std::string path = dir / "v.gguf";
  w.write(path);
  return path;
}

TEST(Malformed, BadGgufVocabulary) {
  test::TempDir dir;
  Tokenizer ok = Tokenizer::load(write_vocab(dir, [](gguf::Writer&) {}));
  // "▁b" is no token and there are no byte tokens: each byte of "▁" is unknown.
  EXPECT_EQ(ok.encode("a b", {false, false}), (std::vector<TokenId>{3, 0, 0, 0, 4}));
  auto bad = [&](const std::function<void(gguf::Writer&)>& edit, const std::string& mentions) {
    std::string path = write_vocab(dir, edit);
    expect_one_line_error([&] { Tokenizer::load(path); }, mentions);
  };
  bad([](gguf::Writer& w) { w.set("tokenizer.ggml.model", gguf::Value::string("rwkv")); }, "rwkv");
  bad([](gguf::Writer& w) { w.remove("tokenizer.ggml.tokens"); }, "tokenizer.ggml.tokens");
  bad([](gguf::Writer& w) { w.set("tokenizer.ggml.tokens", gguf::Value::i32_array({1, 2})); }, "array of strings");
  bad([](gguf::Writer& w) { w.set("tokenizer.ggml.scores", gguf::Value::f32_array({0})); }, "scores");
  bad([](gguf::Writer& w) { w.set("tokenizer.ggml.token_type", gguf::Value::i32_array({2, 3, 3, 1, 9})); }, "token_type");
  bad([](gguf::Writer& w) {
    w.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
    w.set("tokenizer.ggml.pre", gguf::Value::string("no-such-pre"));
  }, "no-such-pre");
  bad([](gguf::Writer& w) {
    w.set("tokenizer.ggml.model", gguf::Value::string("gpt2"));
    w.set("tokenizer.ggml.pre", gguf::Value::string("gpt-2"));
    w.set("tokenizer.ggml.merges", gguf::Value::string_array({"x y"}));
  }, "merge");
}

}  // namespace
}  // namespace tf
