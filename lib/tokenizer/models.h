// The four tokenization algorithms. Each turns one pre-tokenized word (or,
// for SentencePiece, one whitespace-delimited segment) into ids. Results are
// memoised per encode() call in a WordCache: natural text repeats its words,
// and a cache hit costs one hash lookup instead of a merge loop.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tf/tokenizer.h"
#include "tokenizer/string_index.h"

namespace tf::tok {

struct Vocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  StringIndex index;

  size_t size() const { return pieces.size(); }
  TokenId find(std::string_view s) const { return index.find(s); }
  void build_index() { index.build(pieces); }
};

// Memoises word -> ids within one encode() call (owns copies of the keys).
class WordCache {
 public:
  WordCache();
  // Forgets every word but keeps the memory: fresh pages cost more than the
  // whole encode on some machines (page faults), so buffers are reused.
  void clear();
  // Returns true and sets [ids, ids + n) when `word` is cached.
  bool find(std::string_view word, uint64_t hash, const TokenId*& ids, size_t& n) const;
  void insert(std::string_view word, uint64_t hash, const TokenId* ids, size_t n);

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0, key_length = 0, ids_offset = 0, ids_length = 0;
    bool used = false;
  };
  void grow();
  std::string keys_;
  std::vector<TokenId> ids_;
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` to `out`.
  virtual void encode_word(std::string_view word, std::vector<TokenId>& out) const = 0;
  // Cached encode; long words bypass the cache (they rarely repeat).
  void encode_cached(std::string_view word, std::vector<TokenId>& out, WordCache& cache) const;
  // False where encoding a word costs about as much as a cache lookup.
  virtual bool worth_caching() const { return true; }
};

// Rank-ordered BPE (GPT-2, Hugging Face BPE). Initial symbols are bytes
// mapped through GPT-2's byte->unicode table (byte_level), or UTF-8
// characters with optional <0xXX> byte fallback (SentencePiece converted to HF).
class BpeModel final : public Model {
 public:
  struct Options {
    bool byte_level = true;
    bool byte_fallback = false;
    bool ignore_merges = false;  // a word that is itself a token skips the merges
    bool fuse_unk = false;
    TokenId unk = -1;
  };
  // merges: pairs of token texts, in rank order.
  BpeModel(const Vocab& vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
           const std::string& name);
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;

 private:
  struct Symbol {
    TokenId id;
    int32_t prev, next;
  };
  void merge_symbols(std::vector<Symbol>& symbols) const;
  const Vocab& vocab_;
  Options options_;
  PairIndex merges_;
  TokenId byte_ids_[256];      // byte_level: id of each byte's mapped character
  TokenId fallback_ids_[256];  // byte_fallback: id of <0xXX>
  StringIndex raw_index_;      // byte_level: token bytes (unmapped) -> id, for ignore_merges
};

// llama.cpp's SentencePiece BPE: merges the adjacent pair whose concatenation
// is a token with the highest score (leftmost on ties); characters left
// without a token fall back to <0xXX> byte tokens.
class SpmModel final : public Model {
 public:
  SpmModel(const Vocab& vocab, TokenId unk);
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;
  // The reference algorithm on text spans (llama.cpp's), used for words with
  // characters outside the vocabulary and by the tests.
  void encode_word_reference(std::string_view word, std::vector<TokenId>& out) const;
  // True when no token joins a non-space character to a following U+2581, so
  // the text can be cut before each word-initial U+2581 without changing the
  // result (the merges never cross such a cut); lets encode() cache words.
  bool segmentable() const { return segmentable_; }

 private:
  void emit(std::string_view piece, std::vector<TokenId>& out) const;
  const Vocab& vocab_;
  TokenId byte_ids_[256];
  TokenId unk_;
  bool segmentable_ = false;
  // (left id, right id) -> merged token; rank holds the merged token's id and
  // scores_ its score. Every way of writing a token as two tokens is a pair.
  PairIndex pairs_;
  StringIndex chars_in_tokens_;  // every character that occurs in some token
};

// BERT's greedy longest-match-first WordPiece.
class WordPieceModel final : public Model {
 public:
  WordPieceModel(const Vocab& vocab, std::string continuing_prefix, TokenId unk, size_t max_input_chars_per_word);
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;
  // A word in the vocabulary is one lookup, the same as a cache hit.
  bool worth_caching() const override { return false; }

 private:
  const Vocab& vocab_;
  StringIndex continuation_;  // "##ing" stored as "ing"
  TokenId unk_;
  size_t max_chars_;
  size_t max_piece_bytes_ = 0;
};

// Unigram language model, best segmentation by Viterbi (SentencePiece/T5).
class UnigramModel final : public Model {
 public:
  struct Options {
    TokenId unk = -1;
    bool byte_fallback = false;
    bool fuse_unk = true;
    // llama.cpp gives user-defined tokens score 0; HF has no such tokens.
    std::vector<bool> user_defined;
    std::vector<bool> excluded;  // never matched (control, byte tokens)
  };
  UnigramModel(const Vocab& vocab, Options options);
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;

 private:
  const Vocab& vocab_;
  Options options_;
  StringIndex pieces_;  // matchable pieces only
  std::vector<TokenId> piece_ids_;
  size_t max_piece_bytes_ = 0;
  double unk_score_ = 0;
  TokenId byte_ids_[256];
};

// GPT-2's reversible byte <-> printable unicode character table.
const std::string& byte_to_unicode(uint8_t b);  // UTF-8 of the mapped character
// Inverse; false if `cp` is not one of the 256 mapped characters.
bool unicode_to_byte(uint32_t cp, uint8_t& byte);

}  // namespace tf::tok
