// SentencePiece BPE as llama.cpp runs it on a GGUF vocabulary: symbols are
// UTF-8 characters; the adjacent pair whose concatenation is a token with the
// highest score merges first (leftmost on ties); what is left without a token
// becomes <0xXX> byte tokens. Symbols are spans of the input, so a candidate
// pair is looked up as a view of the input without building a string.
#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/models.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

namespace {
constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
}

SpmModel::SpmModel(const Vocab& vocab, TokenId unk) : vocab_(vocab), unk_(unk) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    byte_ids_[b] = vocab.find(hex);
  }
  segmentable_ = true;
  for (const std::string& piece : vocab.pieces) {
    for (size_t pos = piece.find(kSpace, 1); pos != std::string::npos; pos = piece.find(kSpace, pos + 1)) {
      if (pos < kSpace.size() || piece.compare(pos - kSpace.size(), kSpace.size(), kSpace) != 0) {
        segmentable_ = false;
        return;
      }
    }
  }
}

void SpmModel::encode_word(std::string_view text, std::vector<TokenId>& out) const {
  struct Symbol {
    uint32_t begin, length;
    int32_t prev, next;
  };
  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t length;
    bool operator<(const Bigram& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  for (size_t i = 0; i < text.size();) {
    size_t len = std::min(unicode::sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
    int32_t index = int32_t(symbols.size());
    symbols.push_back({uint32_t(i), uint32_t(len), index - 1, i + len == text.size() ? -1 : index + 1});
    i += len;
  }
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(right)];
    TokenId id = vocab_.find(text.substr(l.begin, l.length + r.length));
    if (id < 0) return;
    queue.push({vocab_.scores[size_t(id)], left, right, l.length + r.length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(int32_t(i - 1), int32_t(i));
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[size_t(b.left)];
    Symbol& r = symbols[size_t(b.right)];
    if (l.length == 0 || r.length == 0 || l.length + r.length != b.length) continue;  // stale
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  if (symbols.empty()) return;
  for (int32_t i = 0; i != -1; i = symbols[size_t(i)].next) {
    const Symbol& s = symbols[size_t(i)];
    TokenId id = vocab_.find(text.substr(s.begin, s.length));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only unmerged single characters can miss: spell them as bytes.
    for (uint32_t k = 0; k < s.length; ++k) {
      TokenId byte = byte_ids_[static_cast<unsigned char>(text[s.begin + k])];
      if (byte >= 0)
        out.push_back(byte);
      else if (unk_ >= 0)
        out.push_back(unk_);
    }
  }
}

}  // namespace tf::tok
