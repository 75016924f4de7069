// SentencePiece BPE as llama.cpp runs it on a GGUF vocabulary: symbols are
// UTF-8 characters; the adjacent pair whose concatenation is a token with the
// highest score merges first (leftmost on ties); what is left without a token
// becomes <0xXX> byte tokens. Symbols are spans of the input, so a candidate
// pair is looked up as a view of the input without building a string.
#include <algorithm>
#include <cstdio>
#include <queue>
#include <tuple>

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
  size_t n_pairs = 0;
  std::vector<std::tuple<TokenId, TokenId, TokenId>> pairs;
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string& piece = vocab.pieces[id];
    for (size_t cut = unicode::sequence_length(static_cast<unsigned char>(piece.empty() ? 0 : piece[0]));
         cut < piece.size(); cut += unicode::sequence_length(static_cast<unsigned char>(piece[cut]))) {
      TokenId left = vocab.find(std::string_view(piece).substr(0, cut));
      TokenId right = vocab.find(std::string_view(piece).substr(cut));
      if (left >= 0 && right >= 0) pairs.emplace_back(left, right, TokenId(id));
    }
    n_pairs = pairs.size();
  }
  pairs_.reserve(n_pairs);
  // A concatenation that several tokens spell identically resolves to the
  // lowest id, as the text lookup (vocab.find) does.
  for (auto [l, r, id] : pairs) pairs_.insert(l, r, {vocab.find(vocab.pieces[size_t(id)]), 0});
  {
    std::vector<std::string> distinct;
    for (const std::string& piece : vocab.pieces)
      for (size_t i = 0; i < piece.size();) {
        size_t len = std::min(unicode::sequence_length(static_cast<unsigned char>(piece[i])), piece.size() - i);
        distinct.push_back(piece.substr(i, len));
        i += len;
      }
    chars_in_tokens_.build(std::move(distinct));
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

void SpmModel::emit(std::string_view piece, std::vector<TokenId>& out) const {
  TokenId id = vocab_.find(piece);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  // Only unmerged single characters can miss: spell them as bytes.
  for (char c : piece) {
    TokenId byte = byte_ids_[static_cast<unsigned char>(c)];
    if (byte >= 0)
      out.push_back(byte);
    else if (unk_ >= 0)
      out.push_back(unk_);
  }
}

void SpmModel::encode_word(std::string_view text, std::vector<TokenId>& out) const {
  // Fast path: symbols are token ids and a candidate pair is one integer-pair
  // lookup. It needs every character to be a token (a character that is not
  // could still merge by text in the reference) and short words, where a
  // linear scan for the best pair beats a heap.
  constexpr size_t kLinearLimit = 48;
  struct Symbol {
    TokenId id;
    uint32_t begin, length;
  };
  thread_local std::vector<Symbol> sym;
  sym.clear();
  for (size_t i = 0; i < text.size();) {
    size_t len = std::min(unicode::sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
    TokenId id = vocab_.find(text.substr(i, len));
    // A character no token contains can never merge: it stays a symbol of its own.
    bool inert = id < 0 && chars_in_tokens_.find(text.substr(i, len)) < 0;
    if ((id < 0 && !inert) || sym.size() >= kLinearLimit) {
      encode_word_reference(text, out);
      return;
    }
    sym.push_back({id, uint32_t(i), uint32_t(len)});
    i += len;
  }
  // merged[i]: the token that symbols i and i+1 make (-1: none). Only the
  // two pairs beside a merge change, so each pair is looked up once.
  thread_local std::vector<TokenId> merged;
  auto pair_of = [&](size_t i) {
    if (sym[i].id < 0 || sym[i + 1].id < 0) return TokenId(-1);
    return TokenId(pairs_.find(sym[i].id, sym[i + 1].id).rank);
  };
  merged.resize(sym.empty() ? 0 : sym.size() - 1);
  for (size_t i = 0; i + 1 < sym.size(); ++i) merged[i] = pair_of(i);
  for (;;) {
    float best_score = 0;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < merged.size(); ++i) {
      if (merged[i] < 0) continue;
      float score = vocab_.scores[size_t(merged[i])];
      if (best == SIZE_MAX || score > best_score) {  // strictly greater: leftmost wins ties
        best_score = score;
        best = i;
      }
    }
    if (best == SIZE_MAX) break;
    sym[best].id = merged[best];
    sym[best].length += sym[best + 1].length;
    sym.erase(sym.begin() + std::ptrdiff_t(best) + 1);
    merged.erase(merged.begin() + std::ptrdiff_t(best));
    if (best > 0) merged[best - 1] = pair_of(best - 1);
    if (best < merged.size()) merged[best] = pair_of(best);
  }
  for (const Symbol& s : sym) {
    if (s.id >= 0)
      out.push_back(s.id);
    else
      emit(text.substr(s.begin, s.length), out);
  }
}

void SpmModel::encode_word_reference(std::string_view text, std::vector<TokenId>& out) const {
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
    emit(text.substr(s.begin, s.length), out);
  }
}

}  // namespace tf::tok
