// Invalid UTF-8 input never fails. Policy (docs/tokenizers.md): byte-level
// BPE, WordPiece and Unigram see each invalid byte as U+FFFD (as llama.cpp's
// splitter does); SentencePiece with byte fallback keeps the raw byte as its
// <0xXX> token, so such input round-trips exactly.
#include <gtest/gtest.h>

#include "tokenizer/helpers.h"
#include "tokenizer/unicode.h"

namespace tf {
namespace {

const std::vector<std::string> kInvalid = {
    "\xFF", "abc\x80", "\xC3", "\xE2\x82", "\xF0\x9F\xA6", "\xED\xA0\x80",  // lone, truncated, surrogate
    "\xC0\xAF", "\xF8\x88\x80\x80\x80", "ok \xFE\xFF mixed \xE6\x97\xA5 text \x80",
};

TEST(InvalidUtf8, NoCrashAndValidText) {
  TF_REQUIRE_SHARED_MODELS();
  auto dir = test::shared_models() / "tokenizers";
  for (const char* vocab : {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-bert-bge.gguf"}) {
    const Tokenizer& t = test::cached_tokenizer((dir / vocab).string());
    for (const std::string& s : kInvalid) {
      SCOPED_TRACE(std::string(vocab) + " input of " + std::to_string(s.size()) + " bytes");
      std::vector<TokenId> ids;
      ASSERT_NO_THROW(ids = t.encode(s));
      EXPECT_TRUE(unicode::is_valid_utf8(t.decode(ids)));
    }
  }
}

TEST(InvalidUtf8, ByteLevelSeesReplacementCharacters) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& t = test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-gpt-2.gguf").string());
  // One U+FFFD per invalid byte, tokenized exactly as if written so.
  EXPECT_EQ(t.encode("a\xFF\xFE b", {false, false}), t.encode("a\xEF\xBF\xBD\xEF\xBF\xBD b", {false, false}));
  EXPECT_EQ(t.encode("\xE2\x82", {false, false}), t.encode("\xEF\xBF\xBD\xEF\xBF\xBD", {false, false}));
}

TEST(InvalidUtf8, SentencePieceKeepsRawBytes) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& t =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  std::string s = "x\xFFy";
  auto ids = t.encode(s, {false, false});
  EXPECT_NE(std::find(ids.begin(), ids.end(), *t.find("<0xFF>")), ids.end());
  EXPECT_EQ(t.decode_bytes(ids), s);
  // llama.cpp reads 0xFF as the lead of a 4-byte character, so "\xFFy" is one
  // symbol spelt <0xFF><0x79>; HF's ByteFallback decoder turns an invalid run
  // into one U+FFFD per byte. Text output is always valid UTF-8.
  EXPECT_EQ(ids, (std::vector<TokenId>{*t.find("\xE2\x96\x81x"), *t.find("<0xFF>"), *t.find("<0x79>")}));
  EXPECT_EQ(t.decode(ids), "x\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(InvalidUtf8, Helpers) {
  EXPECT_EQ(unicode::sanitize_utf8("a\xC3"), "a\xEF\xBF\xBD");
  EXPECT_EQ(unicode::sanitize_utf8("\xE2\x82\xAC"), "\xE2\x82\xAC");
  EXPECT_FALSE(unicode::is_valid_utf8("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(unicode::is_valid_utf8("\xC0\xAF"));      // overlong
  EXPECT_EQ(unicode::complete_prefix_length("ab\xE2\x82"), 2u);
  EXPECT_EQ(unicode::complete_prefix_length("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(unicode::complete_prefix_length("ab\xFF"), 3u);      // never valid: not held
  EXPECT_EQ(unicode::complete_prefix_length("ab\xE0\x80"), 4u);  // E0 80 can never complete
}

}  // namespace
}  // namespace tf
