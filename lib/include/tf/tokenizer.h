// Text <-> token ids, exactly as the reference implementations do it:
// byte-level BPE (GPT-2 family, the pre-tokenizer regexes llama.cpp knows),
// SentencePiece BPE with byte fallback (LLaMA), WordPiece (BERT) and Unigram
// (T5), loaded from GGUF metadata or a Hugging Face tokenizer.json.
//
// Where the two references disagree, a tokenizer follows the one it was loaded
// from: a GGUF vocabulary behaves like llama.cpp, a tokenizer.json like
// Hugging Face tokenizers (docs/tokenizers.md lists the differences).
//
// Invalid UTF-8 in the input never fails: see docs/tokenizers.md (each byte
// that is not part of a well-formed sequence becomes U+FFFD before splitting,
// except where a byte-fallback model keeps it as its <0xXX> byte token).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tf {

namespace gguf {
class File;
}

using TokenId = int32_t;

enum class TokenizerAlgorithm { BytePairEncoding, SentencePieceBpe, WordPiece, Unigram };
std::string_view algorithm_name(TokenizerAlgorithm a);  // "bpe", "spm", "wordpiece", "unigram"

struct EncodeOptions {
  bool add_special = true;     // BOS/EOS, CLS/SEP as the model's post-processor says
  bool parse_special = false;  // recognise special tokens ("<s>", "[CLS]") written in the text
};

// An encoded text or text pair with, per token, where it came from (Hugging
// Face's Encoding: offset mapping, sequence ids, word ids, type ids).
struct Encoding {
  std::vector<TokenId> ids;
  std::vector<int32_t> type_ids;      // segment the post-processor assigns (0 / 1)
  std::vector<int8_t> sequence_ids;   // 0 first text, 1 second, -1 a token the post-processor added
  std::vector<int32_t> word_ids;      // pre-tokenized word of its text, -1 for added tokens
  // Byte span [begin, end) in its own text; (0, 0) for added tokens. Spans
  // exclude surrounding white space (HF trim_offsets). Where a normalizer or
  // pre-tokenizer rewrites text in a way that cannot be aligned character by
  // character, a token gets the span of the whole run of text it came from.
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
  size_t size() const { return ids.size(); }
  void append(TokenId id, int32_t type, int8_t seq, int32_t word, std::pair<uint32_t, uint32_t> span) {
    ids.push_back(id);
    type_ids.push_back(type);
    sequence_ids.push_back(seq);
    word_ids.push_back(word);
    offsets.push_back(span);
  }
};

struct DecodeOptions {
  bool skip_special = false;  // leave out control/special tokens
};

class Tokenizer {
 public:
  // A GGUF file, a Hugging Face folder (tokenizer.json [+ tokenizer_config.json,
  // special_tokens_map.json]) or a tokenizer.json file. Malformed input is a
  // one-line tf::Error naming the file and the field.
  static Tokenizer load(const std::string& path);
  static Tokenizer from_gguf(const gguf::File& file);
  // `config_json` (tokenizer_config.json) may be empty; `name` is used in errors.
  static Tokenizer from_hf_json(std::string_view tokenizer_json, std::string_view config_json,
                                const std::string& name);

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends to `out` (no reallocation of a caller's buffer across calls).
  void encode_into(std::string_view text, const EncodeOptions& options, std::vector<TokenId>& out) const;

  // encode() with offsets (add_special applies the single-sequence template).
  Encoding encode_with_offsets(std::string_view text, const EncodeOptions& options = {}) const;
  // The post-processor's template around one or two raw encodings (encoded
  // with add_special = false), e.g. [CLS] A [SEP] B [SEP] with type ids 0/1.
  Encoding post_process(const Encoding& first, const Encoding* second) const;
  // Tokens the template adds around one text (pair = false) or two.
  size_t num_added_tokens(bool pair) const;

  // Text of `ids` as the reference decoder produces it (invalid UTF-8 from
  // byte tokens becomes U+FFFD).
  std::string decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;
  // Raw bytes of `ids`, no U+FFFD substitution (may end inside a character).
  std::string decode_bytes(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  size_t vocab_size() const;
  // The token's text as stored in the vocabulary ("Ġthe", "▁the", "##ing", "<0x0A>").
  const std::string& piece(TokenId id) const;  // tf::Error if out of range
  std::optional<TokenId> find(std::string_view piece) const;
  bool is_special(TokenId id) const;  // control tokens and special added tokens

  TokenizerAlgorithm algorithm() const;
  // -1 when the vocabulary has none.
  TokenId bos() const;
  TokenId eos() const;
  TokenId unk() const;

  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// Emits text a token at a time for generation. Never emits broken UTF-8: the
// bytes of a character split over several tokens are held back until it is
// complete; a byte that can never become valid UTF-8 is emitted as U+FFFD.
// The concatenation of all push() results and finish() equals decode() of
// all ids whenever they decode to valid UTF-8.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});
  std::string push(TokenId id);
  // Whatever is held back (an incomplete character becomes U+FFFD).
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  DecodeOptions options_;
  std::vector<TokenId> context_;  // the last token(s), for decoders that look at neighbours
  std::string decoded_context_;
  std::string pending_;  // decoded bytes not yet emitted (an incomplete character)
};

// ---------------------------------------------------------------- training

struct TrainOptions {
  TokenizerAlgorithm algorithm = TokenizerAlgorithm::BytePairEncoding;  // bpe, wordpiece or unigram
  size_t vocab_size = 8000;
  size_t min_frequency = 2;  // BPE/WordPiece: pairs seen fewer times are not merged
};

// Trains on the text of `corpus` (UTF-8; invalid bytes become U+FFFD) and
// returns a complete tokenizer.json that Tokenizer::from_hf_json and Hugging
// Face tokenizers load.
std::string train_tokenizer(std::string_view corpus, const TrainOptions& options);

}  // namespace tf
