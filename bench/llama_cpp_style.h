// A stand-in for llama.cpp's tokenizers, which are not installed here: the
// same algorithms with the same data structures (std::string keys in
// std::unordered_map / std::map, a priority queue of string bigrams per word,
// no word cache), written from their description, so that tokenizer_bench can
// report a ratio. Word splitting and normalization reuse this library's own
// (faster) code, so the stand-in is if anything faster than llama.cpp and the
// reported speed-up errs low. Benchmark code only; the ids it produces are
// checked against the real tokenizer in the benchmark's first iteration.
#pragma once
#include <map>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "tf/gguf.h"
#include "tf/tokenizer.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace baseline {

struct Vocab {
  std::unordered_map<std::string, int> token_to_id;
  std::vector<float> scores;
  std::map<std::pair<std::string, std::string>, int> bpe_ranks;
  size_t max_token_len = 0;

  explicit Vocab(const tf::gguf::File& f) {
    auto tokens = f.get("tokenizer.ggml.tokens").as_strings();
    for (size_t i = 0; i < tokens.size(); ++i) {
      token_to_id.emplace(tokens[i], int(i));
      max_token_len = std::max(max_token_len, tokens[i].size());
    }
    if (auto* s = f.find("tokenizer.ggml.scores")) scores = s->as_f32s();
    if (auto* m = f.find("tokenizer.ggml.merges")) {
      auto merges = m->as_strings();
      for (size_t i = 0; i < merges.size(); ++i) {
        size_t sp = merges[i].find(' ', 1);
        bpe_ranks.emplace(std::make_pair(merges[i].substr(0, sp), merges[i].substr(sp + 1)), int(i));
      }
    }
  }
  int find(const std::string& s) const {
    auto it = token_to_id.find(s);
    return it == token_to_id.end() ? -1 : it->second;
  }
};

struct Symbol {
  int prev, next;
  const char* text;
  size_t n;
};

// Byte-level BPE over words that are already split and byte-mapped.
inline void bpe(const Vocab& v, const std::vector<std::string>& words, std::vector<int>& out) {
  struct Bigram {
    int left, right, rank;
    std::string text;
  };
  auto cmp = [](const Bigram& l, const Bigram& r) { return l.rank > r.rank || (l.rank == r.rank && l.left > r.left); };
  for (const std::string& word : words) {
    std::vector<Symbol> symbols;
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(cmp)> queue(cmp);
    for (size_t off = 0; off < word.size();) {
      size_t n = std::min(word.size() - off, tf::unicode::sequence_length(static_cast<unsigned char>(word[off])));
      int index = int(symbols.size());
      symbols.push_back({index - 1, off + n == word.size() ? -1 : index + 1, word.data() + off, n});
      off += n;
    }
    auto add = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      std::string left(symbols[size_t(l)].text, symbols[size_t(l)].n), right(symbols[size_t(r)].text, symbols[size_t(r)].n);
      auto it = v.bpe_ranks.find({left, right});
      if (it == v.bpe_ranks.end()) return;
      queue.push({l, r, it->second, left + right});
    };
    for (int i = 1; i < int(symbols.size()); ++i) add(i - 1, i);
    while (!queue.empty()) {
      Bigram b = queue.top();
      queue.pop();
      Symbol& l = symbols[size_t(b.left)];
      Symbol& r = symbols[size_t(b.right)];
      if (l.n == 0 || r.n == 0 || std::string(l.text, l.n) + std::string(r.text, r.n) != b.text) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) symbols[size_t(r.next)].prev = b.left;
      add(l.prev, b.left);
      add(b.left, l.next);
    }
    for (const Symbol& s : symbols)
      if (s.n) {
        int id = v.find(std::string(s.text, s.n));
        if (id >= 0) out.push_back(id);
      }
  }
}

// SentencePiece BPE over the whole escaped text, string-keyed bigrams.
inline void spm(const Vocab& v, const std::string& text, std::vector<int>& out) {
  struct Bigram {
    int left, right;
    float score;
    size_t size;
  };
  auto cmp = [](const Bigram& l, const Bigram& r) { return l.score < r.score || (l.score == r.score && l.left > r.left); };
  std::vector<Symbol> symbols;
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(cmp)> queue(cmp);
  std::map<std::string, std::pair<int, int>> rev_merge;
  for (size_t off = 0; off < text.size();) {
    size_t n = std::min(text.size() - off, tf::unicode::sequence_length(static_cast<unsigned char>(text[off])));
    int index = int(symbols.size());
    symbols.push_back({index - 1, off + n == text.size() ? -1 : index + 1, text.data() + off, n});
    off += n;
  }
  auto add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    std::string s(symbols[size_t(l)].text, symbols[size_t(l)].n + symbols[size_t(r)].n);
    int id = v.find(s);
    if (id < 0) return;
    queue.push({l, r, v.scores[size_t(id)], s.size()});
    rev_merge[s] = {l, r};
  };
  for (int i = 1; i < int(symbols.size()); ++i) add(i - 1, i);
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[size_t(b.left)];
    Symbol& r = symbols[size_t(b.right)];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  std::function<void(const Symbol&)> resegment = [&](const Symbol& s) {
    std::string t(s.text, s.n);
    int id = v.find(t);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = rev_merge.find(t);
    if (it == rev_merge.end()) {
      for (char c : t) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", static_cast<unsigned char>(c));
        out.push_back(v.find(hex));
      }
      return;
    }
    resegment(symbols[size_t(it->second.first)]);
    resegment(symbols[size_t(it->second.second)]);
  };
  for (int i = 0; !symbols.empty() && i != -1; i = symbols[size_t(i)].next) resegment(symbols[size_t(i)]);
}

// BERT pre-processing as llama.cpp structures it: the text as a vector of
// code points, NFD, then per code point a flags lookup, a lowercase map
// lookup and a std::string for the character, appended to the current word.
inline std::vector<std::string> wpm_preprocess(const std::string& text) {
  static const std::unordered_map<uint32_t, uint32_t> lowercase = [] {
    std::unordered_map<uint32_t, uint32_t> m;
    for (uint32_t cp = 0; cp < 0x110000; ++cp)
      if (tf::unicode::to_lower(cp) != cp) m.emplace(cp, tf::unicode::to_lower(cp));
    return m;
  }();
  std::string nfd = tf::unicode::normalize(tf::unicode::sanitize_utf8(text), tf::unicode::Form::NFD);
  std::vector<uint32_t> cpts;
  for (size_t i = 0; i < nfd.size();) {
    auto d = tf::unicode::decode(nfd.data(), i, nfd.size());
    cpts.push_back(d.cp);
    i += d.len;
  }
  std::vector<std::string> words(1);
  for (uint32_t cpt : cpts) {
    uint16_t f = tf::unicode::flags(cpt);
    if (f & tf::unicode::kWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == 0xFFFD || (f & tf::unicode::kOther)) continue;
    if (f & tf::unicode::kNonspacingMark) continue;
    auto it = lowercase.find(cpt);
    std::string s;
    tf::unicode::append_utf8(s, it == lowercase.end() ? cpt : it->second);
    if ((f & tf::unicode::kPunctuation) || (cpt < 0x7F && (f & tf::unicode::kSymbol)) || tf::unicode::is_bert_chinese(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

// WordPiece with U+2581 word starts: longest match by substring lookups.
inline void wpm(const Vocab& v, const std::vector<std::string>& words, std::vector<int>& out, int unk) {
  for (const std::string& word : words) {
    std::string w = "\xE2\x96\x81" + word;
    size_t before = out.size();
    for (size_t i = 0; i < w.size(); ++i) {
      bool match = false;
      for (size_t j = std::min(w.size(), i + v.max_token_len + 1); j > i; --j) {
        int id = v.find(w.substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before) out.push_back(unk);
  }
}

}  // namespace baseline
