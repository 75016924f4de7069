// BERT's WordPiece: greedy longest match from the left; a word any part of
// which matches no piece becomes the unknown token as a whole.
#include <algorithm>

#include "tokenizer/models.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

WordPieceModel::WordPieceModel(const Vocab& vocab, std::string continuing_prefix, TokenId unk,
                               size_t max_input_chars_per_word)
    : vocab_(vocab), unk_(unk), max_chars_(max_input_chars_per_word) {
  // Continuation pieces are indexed without their prefix so that a candidate
  // is a view of the word, never a freshly built "##" + substring.
  std::vector<std::string> keys;
  std::vector<int32_t> ids;
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string& p = vocab.pieces[id];
    max_piece_bytes_ = std::max(max_piece_bytes_, p.size());
    if (!continuing_prefix.empty() && p.size() > continuing_prefix.size() && p.starts_with(continuing_prefix)) {
      keys.push_back(p.substr(continuing_prefix.size()));
      ids.push_back(int32_t(id));
    }
  }
  continuation_.build(std::move(keys), std::move(ids));
}

void WordPieceModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (max_chars_ != SIZE_MAX) {
    size_t chars = 0;
    for (unsigned char c : word) chars += (c & 0xC0) != 0x80;
    if (chars > max_chars_) {
      out.push_back(unk_);
      return;
    }
  }
  size_t before = out.size();
  for (size_t start = 0; start < word.size();) {
    size_t end = std::min(word.size(), start + max_piece_bytes_);
    TokenId found = -1;
    while (end > start) {
      // Candidates end on character boundaries.
      while (end < word.size() && end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
      if (end == start) break;
      std::string_view sub = word.substr(start, end - start);
      found = start == 0 ? vocab_.find(sub) : continuation_.find(sub);
      if (found >= 0) break;
      --end;
    }
    if (found < 0) {
      out.resize(before);
      if (unk_ >= 0) out.push_back(unk_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

}  // namespace tf::tok
