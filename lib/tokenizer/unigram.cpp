// Unigram language model (SentencePiece, T5): the segmentation with the
// highest total log-probability, found by Viterbi over byte offsets. A
// character no piece covers costs min_score - 10 as the unknown token
// (SentencePiece's penalty), and consecutive unknowns fuse into one.
#include <algorithm>
#include <cfloat>
#include <cstdio>

#include "tokenizer/models.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

UnigramModel::UnigramModel(const Vocab& vocab, Options options) : vocab_(vocab), options_(std::move(options)) {
  std::vector<std::string> keys;
  double min_score = DBL_MAX;
  for (size_t id = 0; id < vocab.size(); ++id) {
    bool excluded = id < options_.excluded.size() && options_.excluded[id];
    if (excluded || TokenId(id) == options_.unk) continue;
    keys.push_back(vocab.pieces[id]);
    piece_ids_.push_back(TokenId(id));
    max_piece_bytes_ = std::max(max_piece_bytes_, vocab.pieces[id].size());
    bool user = id < options_.user_defined.size() && options_.user_defined[id];
    if (!user) min_score = std::min(min_score, double(vocab.scores[id]));
  }
  if (min_score == DBL_MAX) min_score = 0;
  unk_score_ = min_score - 10.0;
  std::vector<int32_t> values(piece_ids_.begin(), piece_ids_.end());
  pieces_.build(std::move(keys), std::move(values));
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    byte_ids_[b] = vocab.find(hex);
  }
}

void UnigramModel::encode_word(std::string_view text, std::vector<TokenId>& out) const {
  size_t n = text.size();
  if (n == 0) return;
  struct Best {
    TokenId id;
    uint32_t start;
    double score;
  };
  thread_local std::vector<Best> best;
  best.assign(n + 1, {-1, 0, -DBL_MAX});
  best[0] = {-1, 0, 0.0};
  for (size_t start = 0; start < n;) {
    size_t char_len = std::min(unicode::sequence_length(static_cast<unsigned char>(text[start])), n - start);
    double base = best[start].score;
    bool single_char_piece = false;
    size_t limit = std::min(n, start + max_piece_bytes_);
    for (size_t end = start + 1; end <= limit; ++end) {
      TokenId id = pieces_.find(text.substr(start, end - start));
      if (id < 0) continue;
      if (end - start == char_len) single_char_piece = true;
      bool user = size_t(id) < options_.user_defined.size() && options_.user_defined[size_t(id)];
      double score = base + (user ? 0.0 : double(vocab_.scores[size_t(id)]));
      if (score > best[end].score) best[end] = {id, uint32_t(start), score};
    }
    if (!single_char_piece) {
      double score = base + unk_score_;
      size_t end = start + char_len;
      if (score > best[end].score) best[end] = {options_.unk, uint32_t(start), score};
    }
    start += char_len;
  }
  size_t before = out.size();
  for (size_t end = n; end > 0;) {
    const Best& b = best[end];
    bool unknown = b.id == options_.unk;
    if (unknown && options_.byte_fallback) {
      // Bytes are appended reversed, then the whole output is reversed below.
      for (size_t k = end; k > b.start; --k) {
        TokenId byte = byte_ids_[static_cast<unsigned char>(text[k - 1])];
        out.push_back(byte >= 0 ? byte : options_.unk);
      }
    } else if (!(unknown && options_.fuse_unk && out.size() > before && out.back() == options_.unk)) {
      out.push_back(b.id);
    }
    end = b.start;
  }
  std::reverse(out.begin() + std::ptrdiff_t(before), out.end());
}

}  // namespace tf::tok
