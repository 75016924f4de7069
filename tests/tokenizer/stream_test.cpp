// The streaming decoder: text a token at a time, never a broken character.
#include <gtest/gtest.h>

#include "tokenizer/helpers.h"
#include "tokenizer/unicode.h"

namespace tf {
namespace {

void expect_stream_equals_decode(const Tokenizer& t, const std::vector<TokenId>& ids, DecodeOptions options = {}) {
  StreamDecoder stream(t, options);
  std::string all;
  for (TokenId id : ids) {
    std::string piece = stream.push(id);
    EXPECT_TRUE(unicode::is_valid_utf8(piece)) << "token " << id << " emitted broken UTF-8";
    all += piece;
  }
  all += stream.finish();
  EXPECT_EQ(all, t.decode(ids, options));
}

TEST(StreamDecoder, HoldsBackSplitCharacters) {
  TF_REQUIRE_SHARED_MODELS();
  auto dir = test::shared_models() / "tokenizers";
  // Emoji and CJK become byte-fallback tokens (llama) or partial byte-level
  // tokens (gpt-2): their bytes arrive over several tokens.
  std::string text = "Hello 🦙 world 生日快乐 naïve — ok";
  for (const char* vocab : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf"}) {
    SCOPED_TRACE(vocab);
    const Tokenizer& t = test::cached_tokenizer((dir / vocab).string());
    expect_stream_equals_decode(t, t.encode(text));
    expect_stream_equals_decode(t, t.encode(text), {true});
  }
}

TEST(StreamDecoder, ByteTokensOneAtATime) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& t =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  // 🦙 = F0 9F A6 99 as four byte tokens: nothing until the last one.
  std::vector<TokenId> bytes;
  for (const char* b : {"<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"}) bytes.push_back(*t.find(b));
  StreamDecoder stream(t);
  EXPECT_EQ(stream.push(bytes[0]), "");
  EXPECT_EQ(stream.push(bytes[1]), "");
  EXPECT_EQ(stream.push(bytes[2]), "");
  EXPECT_EQ(stream.push(bytes[3]), "🦙");
  // A sequence that can never complete comes out as U+FFFD, not held forever.
  EXPECT_EQ(stream.push(bytes[0]), "");
  EXPECT_EQ(stream.push(*t.find("▁a")), "\xEF\xBF\xBD a");
  // An unfinished character at the end becomes U+FFFD on finish().
  EXPECT_EQ(stream.push(bytes[0]), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

TEST(StreamDecoder, FirstTokenSpaceRule) {
  TF_REQUIRE_SHARED_MODELS();
  const Tokenizer& t =
      test::cached_tokenizer((test::shared_models() / "tokenizers" / "ggml-vocab-llama-spm.gguf").string());
  // The dummy-prefix space of the first word is not emitted; later spaces are.
  StreamDecoder stream(t);
  EXPECT_EQ(stream.push(15043), "Hello");
  EXPECT_EQ(stream.push(3186), " world");
}

}  // namespace
}  // namespace tf
