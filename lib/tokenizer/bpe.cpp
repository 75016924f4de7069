// Rank-ordered byte-pair encoding, as GPT-2 and Hugging Face's BPE model do it.
#include <algorithm>
#include <array>
#include <queue>

#include "tf/error.h"
#include "tokenizer/models.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

// ---------------------------------------------------------------- GPT-2 byte map

namespace {

struct ByteTable {
  std::array<std::string, 256> utf8;
  std::array<int32_t, 324> inverse;  // mapped code points are all < 324
  ByteTable() {
    inverse.fill(-1);
    // Printable Latin-1 bytes map to themselves; the other 68 bytes take the
    // code points from U+0100 on, in byte order (GPT-2's bytes_to_unicode).
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? b : next++;
      unicode::append_utf8(utf8[b], cp);
      inverse[cp] = int32_t(b);
    }
  }
};

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_table().utf8[b]; }

bool unicode_to_byte(uint32_t cp, uint8_t& byte) {
  if (cp >= 324 || byte_table().inverse[cp] < 0) return false;
  byte = uint8_t(byte_table().inverse[cp]);
  return true;
}

// ---------------------------------------------------------------- word cache

WordCache::WordCache() { slots_.resize(1024); }

void WordCache::clear() {
  if (count_ == 0) return;
  std::fill(slots_.begin(), slots_.end(), Slot{});
  keys_.clear();
  ids_.clear();
  count_ = 0;
}

bool WordCache::find(std::string_view word, uint64_t hash, const TokenId*& ids, size_t& n) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return false;
    if (s.hash == hash && s.key_length == word.size() &&
        std::equal(word.begin(), word.end(), keys_.data() + s.key_offset)) {
      ids = ids_.data() + s.ids_offset;
      n = s.ids_length;
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, uint64_t hash, const TokenId* ids, size_t n) {
  // Bounded: past this the text is not natural language and caching stops paying.
  if (count_ >= (1u << 20) || keys_.size() + word.size() > (1u << 30)) return;
  if ((count_ + 1) * 2 > slots_.size()) grow();
  Slot s;
  s.hash = hash;
  s.key_offset = uint32_t(keys_.size());
  s.key_length = uint32_t(word.size());
  s.ids_offset = uint32_t(ids_.size());
  s.ids_length = uint32_t(n);
  s.used = true;
  keys_.append(word);
  ids_.insert(ids_.end(), ids, ids + n);
  size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].used) i = (i + 1) & mask;
  slots_[i] = s;
  ++count_;
}

void WordCache::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.used) continue;
    size_t i = s.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void Model::encode_cached(std::string_view word, std::vector<TokenId>& out, WordCache& cache) const {
  constexpr size_t kMaxCachedWord = 256;
  if (word.size() > kMaxCachedWord) {
    encode_word(word, out);
    return;
  }
  uint64_t h = hash_bytes(word.data(), word.size());
  const TokenId* ids;
  size_t n;
  if (cache.find(word, h, ids, n)) {
    out.insert(out.end(), ids, ids + n);
    return;
  }
  size_t before = out.size();
  encode_word(word, out);
  cache.insert(word, h, out.data() + before, out.size() - before);
}

// ---------------------------------------------------------------- BPE

BpeModel::BpeModel(const Vocab& vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
                   const std::string& name)
    : vocab_(vocab), options_(options) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  std::fill(std::begin(fallback_ids_), std::end(fallback_ids_), -1);
  for (int b = 0; b < 256; ++b) {
    if (options_.byte_level) byte_ids_[b] = vocab.find(byte_to_unicode(uint8_t(b)));
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    fallback_ids_[b] = vocab.find(hex);
  }
  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    TokenId ia = vocab.find(a), ib = vocab.find(b);
    joined = a;
    joined += b;
    TokenId merged = vocab.find(joined);
    if (ia < 0 || ib < 0 || merged < 0)
      fail(name, ": merge ", rank, " '", a, " ", b, "' uses a token that is not in the vocabulary");
    merges_.insert(ia, ib, {int32_t(rank), merged});
  }
  if (options_.byte_level && options_.ignore_merges) {
    // Words arrive as raw bytes; index the tokens by the bytes they stand for.
    std::vector<std::string> raw(vocab.size());
    for (size_t id = 0; id < vocab.size(); ++id) {
      const std::string& piece = vocab.pieces[id];
      for (size_t i = 0; i < piece.size();) {
        auto d = unicode::decode(piece.data(), i, piece.size());
        uint8_t byte;
        if (!d.valid || !unicode_to_byte(d.cp, byte)) {
          raw[id].clear();
          break;
        }
        raw[id] += char(byte);
        i += d.len;
      }
    }
    raw_index_.build(std::move(raw));
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    TokenId whole = options_.byte_level ? raw_index_.find(word) : vocab_.find(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  // Small words (nearly all) stay on the stack-like reused buffer.
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  auto push = [&](TokenId id) {
    int32_t i = int32_t(symbols.size());
    symbols.push_back({id, i - 1, i + 1});
  };
  if (options_.byte_level) {
    for (unsigned char c : word) push(byte_ids_[c]);
  } else {
    for (size_t i = 0; i < word.size();) {
      size_t len = std::min(unicode::sequence_length(static_cast<unsigned char>(word[i])), word.size() - i);
      TokenId id = vocab_.find(word.substr(i, len));
      if (id >= 0) {
        push(id);
      } else if (options_.byte_fallback && fallback_ids_[static_cast<unsigned char>(word[i])] >= 0) {
        for (size_t k = 0; k < len; ++k) push(fallback_ids_[static_cast<unsigned char>(word[i + k])]);
      } else if (options_.unk >= 0) {
        if (!(options_.fuse_unk && !symbols.empty() && symbols.back().id == options_.unk)) push(options_.unk);
      }
      // else: HF drops a character it cannot represent at all
      i += len;
    }
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  merge_symbols(symbols);
  for (int32_t i = 0; i != -1; i = symbols[size_t(i)].next)
    if (symbols[size_t(i)].id >= 0) out.push_back(symbols[size_t(i)].id);
}

void BpeModel::merge_symbols(std::vector<Symbol>& s) const {
  // Merge the lowest-ranked adjacent pair, leftmost first, until none is left.
  // Words are short, so a linear scan per merge beats a heap; long words (code,
  // runs of symbols) use the heap, which orders pairs by (rank, position) the
  // same way.
  constexpr size_t kLinearLimit = 48;
  if (s.size() <= kLinearLimit) {
    // Symbols are still in order (nothing merged yet): work on a compact
    // array with the merge of each adjacent pair cached, so that a merge
    // costs two lookups (the new neighbours) instead of a rescan.
    thread_local std::vector<TokenId> ids;
    thread_local std::vector<PairIndex::Merge> pair;
    ids.clear();
    for (const Symbol& sym : s) ids.push_back(sym.id);
    pair.resize(ids.size() - 1);
    for (size_t i = 0; i + 1 < ids.size(); ++i) pair[i] = merges_.find(ids[i], ids[i + 1]);
    for (;;) {
      size_t best = SIZE_MAX;
      for (size_t i = 0; i < pair.size(); ++i)
        if (pair[i].rank >= 0 && (best == SIZE_MAX || pair[i].rank < pair[best].rank)) best = i;
      if (best == SIZE_MAX) break;
      ids[best] = pair[best].id;
      ids.erase(ids.begin() + std::ptrdiff_t(best) + 1);
      pair.erase(pair.begin() + std::ptrdiff_t(best));
      if (best > 0) pair[best - 1] = merges_.find(ids[best - 1], ids[best]);
      if (best < pair.size()) pair[best] = merges_.find(ids[best], ids[best + 1]);
    }
    s.resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) s[i] = {ids[i], int32_t(i) - 1, i + 1 == ids.size() ? -1 : int32_t(i) + 1};
    return;
  }
  struct Candidate {
    int32_t rank, left, right_id, left_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t left) {
    if (left < 0 || s[size_t(left)].next == -1) return;
    int32_t right = s[size_t(left)].next;
    auto m = merges_.find(s[size_t(left)].id, s[size_t(right)].id);
    if (m.rank >= 0) queue.push({m.rank, left, s[size_t(right)].id, s[size_t(left)].id});
  };
  for (int32_t i = 0; i != -1; i = s[size_t(i)].next) consider(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& left = s[size_t(c.left)];
    // Stale: the left symbol died or changed, or its right neighbour changed.
    if (left.id != c.left_id || left.next == -1 || s[size_t(left.next)].id != c.right_id) continue;
    auto m = merges_.find(left.id, s[size_t(left.next)].id);
    Symbol& right = s[size_t(left.next)];
    left.id = m.id;
    left.next = right.next;
    if (right.next != -1) s[size_t(right.next)].prev = c.left;
    right.id = -2;
    consider(left.prev);
    consider(c.left);
  }
}

}  // namespace tf::tok
