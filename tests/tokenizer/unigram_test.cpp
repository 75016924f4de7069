// Unigram (T5 style) against SentencePiece itself: the fixture holds a model
// SentencePiece trained (nmt_nfkc normalization, dummy prefix, extra white
// space removed) and the ids SentencePiece gives its test inputs
// (scripts/make_unigram_fixture.py). The vocabulary is written as a GGUF with
// tokenizer.ggml.model = t5, as llama.cpp's converter does, and loaded back.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tf/gguf.h"
#include "tokenizer/helpers.h"

namespace tf {
namespace {

using json = nlohmann::json;

const json& fixture() {
  static const json j =
      json::parse(test::read_file(std::filesystem::path(TF_SOURCE_DIR) / "tests/tokenizer/data/sentencepiece_unigram.json"));
  return j;
}

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;
    buffer = buffer << 6 | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

Tokenizer t5_gguf(const test::TempDir& dir) {
  const json& f = fixture();
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const json& p : f["pieces"]) {
    tokens.push_back(p[0]);
    scores.push_back(p[1]);
    types.push_back(p[2]);
  }
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("t5"));
  w.set("tokenizer.ggml.model", gguf::Value::string("t5"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  w.set("tokenizer.ggml.scores", gguf::Value::f32_array(scores));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(types));
  w.set("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(true));
  w.set("tokenizer.ggml.remove_extra_whitespaces", gguf::Value::boolean(true));
  w.set("tokenizer.ggml.precompiled_charsmap",
        gguf::Value::packed_array(gguf::ValueType::UINT8, base64_decode(f["precompiled_charsmap"])));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(f["unk_id"].get<uint32_t>()));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(f["eos_id"].get<uint32_t>()));
  std::string path = dir / "t5-vocab.gguf";
  w.write(path);
  return Tokenizer::load(path);
}

TEST(Unigram, GgufT5MatchesSentencePiece) {
  test::TempDir dir;
  Tokenizer t = t5_gguf(dir);
  EXPECT_EQ(t.algorithm(), TokenizerAlgorithm::Unigram);
  size_t passed = 0, total = 0;
  for (const json& c : fixture()["cases"]) {
    std::string text = c["text"];
    auto expected = c["ids"].get<std::vector<TokenId>>();
    ++total;
    auto ids = t.encode(text, {false, false});
    if (ids == expected) ++passed;
    EXPECT_EQ(ids, expected) << "input: '" << text << "'";
  }
  EXPECT_EQ(passed, total);
  // T5 appends EOS.
  auto with_eos = t.encode("Hello world");
  EXPECT_EQ(with_eos.back(), fixture()["eos_id"].get<TokenId>());
}

TEST(Unigram, DecodesWhatItEncodes) {
  test::TempDir dir;
  Tokenizer t = t5_gguf(dir);
  for (std::string s : {"Hello world", "First Citizen: Before we proceed any further, hear me speak."})
    EXPECT_EQ(t.decode(t.encode(s), {true}), s);
}

}  // namespace
}  // namespace tf
