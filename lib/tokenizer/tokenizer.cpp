// The encode pipeline: added tokens -> normalizers -> pre-tokenizers -> model
// -> post-processor. Each stage is data set by a loader (load_gguf.cpp,
// load_hf.cpp); nothing here knows which file a tokenizer came from.
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace tf {

std::string_view algorithm_name(TokenizerAlgorithm a) {
  switch (a) {
    case TokenizerAlgorithm::BytePairEncoding: return "bpe";
    case TokenizerAlgorithm::SentencePieceBpe: return "spm";
    case TokenizerAlgorithm::WordPiece: return "wordpiece";
    case TokenizerAlgorithm::Unigram: return "unigram";
  }
  return "?";
}

void Tokenizer::Impl::finalize() {
  size_t n = vocab.size();
  if (n == 0) fail(name, ": the vocabulary is empty");
  if (vocab.scores.size() != n) vocab.scores.resize(n, 0.0f);
  types.resize(n, tok::TokenType::Normal);
  special.resize(n, false);
  auto check = [&](TokenId id, const char* what) {
    if (id >= TokenId(n) || id < -1) fail(name, ": ", what, " id ", id, " is outside the vocabulary (", n, " tokens)");
  };
  check(bos_id, "BOS");
  check(eos_id, "EOS");
  check(unk_id, "unknown-token");
  for (TokenId id : prefix_ids) check(id, "post-processor token");
  for (TokenId id : suffix_ids) check(id, "post-processor token");
  for (auto& list : added_by_first_byte) list.clear();
  any_nonspecial_added = false;
  for (size_t i = 0; i < added.size(); ++i) {
    const tok::AddedToken& a = added[i];
    check(a.id, "added token");
    if (a.id < 0) fail(name, ": added token '", a.content, "' has no id");
    if (a.special) special[size_t(a.id)] = true;
    if (a.content.empty()) continue;
    if (!a.special) any_nonspecial_added = true;
    added_by_first_byte[static_cast<unsigned char>(a.content[0])].push_back(int32_t(i));
  }
  for (auto& list : added_by_first_byte)
    std::stable_sort(list.begin(), list.end(),
                     [&](int32_t x, int32_t y) { return added[size_t(x)].content.size() > added[size_t(y)].content.size(); });
  if (!model) fail(name, ": no tokenization model");
  // Regexes and Unicode normalizers need valid UTF-8; only llama.cpp's
  // SentencePiece path (space escaping alone) works on raw bytes.
  for (const tok::NormStep& st : normalizers) sanitize_input |= st.kind != tok::NormStep::Kind::SpmEscape;
  if (!pre_tokenizers.empty()) sanitize_input = true;
}

namespace {

bool is_word_char(std::string_view text, size_t pos, bool before) {
  // The character just before (or at) pos, for single_word boundaries.
  if (before) {
    if (pos == 0) return false;
    size_t p = pos - 1;
    while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
    auto d = unicode::decode(text.data(), p, text.size());
    return d.cp == '_' || (unicode::flags(d.cp) & (unicode::kLetter | unicode::kNumber | unicode::kMark));
  }
  if (pos >= text.size()) return false;
  auto d = unicode::decode(text.data(), pos, text.size());
  return d.cp == '_' || (unicode::flags(d.cp) & (unicode::kLetter | unicode::kNumber | unicode::kMark));
}

// Cuts before each U+2581 that follows a character other than U+2581.
void cut_before_word_spaces(tok::Words& w) {
  std::vector<std::pair<uint32_t, uint32_t>> cut;
  const std::string& s = w.text;
  for (auto [b, e] : w.spans) {
    uint32_t start = b;
    for (uint32_t i = b + 1; i + 3 <= e; ++i) {
      if (static_cast<unsigned char>(s[i]) == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x96 &&
          static_cast<unsigned char>(s[i + 2]) == 0x81) {
        bool after_space = i >= 3 && static_cast<unsigned char>(s[i - 3]) == 0xE2 &&
                           static_cast<unsigned char>(s[i - 2]) == 0x96 && static_cast<unsigned char>(s[i - 1]) == 0x81;
        if (!after_space && i > start) {
          cut.push_back({start, i});
          start = i;
        }
        i += 2;
      }
    }
    cut.push_back({start, e});
  }
  w.spans.swap(cut);
}

}  // namespace

std::vector<TokenId> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  encode_into(text, options, ids);
  return ids;
}

namespace {

// Where each token of an encode() came from; filled only by
// encode_with_offsets (plain encode() pays nothing for it).
struct OffsetSink {
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // per token, bytes of the input
  std::vector<int32_t> words;                        // per token
  int32_t next_word = 0;
};

size_t utf8_chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Per byte of the text the pre-tokenizers saw, the input bytes [begin, end)
// of the character it came from. Normalizers are applied one character at a
// time; when that does not reproduce the whole-fragment result (a normalizer
// that looks across characters) there is no alignment and `exact` is false.
// Pre-tokenizers may only replace a space by U+2581 or insert U+2581 / a
// space (Metaspace, ByteLevel's prefix space); an inserted character gets
// the empty span where it stands.
struct Alignment {
  bool exact = false;
  std::vector<uint32_t> begin, end;
};

size_t char_len(std::string_view s, size_t i) {
  size_t n = 1;
  while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
  return n;
}

Alignment align(const Tokenizer::Impl& m, std::string_view input, size_t begin, size_t end, bool after_special,
                std::string_view normalized, std::string_view pre_tokenized) {
  Alignment a;
  std::string rebuilt;
  for (size_t pos = begin; pos < end;) {
    size_t next = pos + char_len(input, pos);
    if (next > end) next = end;
    if (m.normalizers.empty()) {
      rebuilt.append(input.substr(pos, next - pos));
    } else {
      tok::FragmentContext ctx{pos, after_special && pos == begin};
      rebuilt += tok::normalize(m.normalizers, input.substr(pos, next - pos), ctx);
    }
    a.begin.resize(rebuilt.size(), uint32_t(pos));
    a.end.resize(rebuilt.size(), uint32_t(next));
    pos = next;
  }
  if (rebuilt != normalized) return a;
  if (pre_tokenized == normalized) {
    a.exact = true;
    return a;
  }
  static constexpr std::string_view kSpace = "\xE2\x96\x81";
  Alignment b;
  size_t i = 0;
  for (size_t k = 0; k < pre_tokenized.size();) {
    const size_t n = char_len(pre_tokenized, k);
    const std::string_view c = pre_tokenized.substr(k, n);
    const uint32_t here = i < a.begin.size() ? a.begin[i] : uint32_t(end);
    if (i < normalized.size() && normalized.compare(i, n, c) == 0) {
      b.begin.insert(b.begin.end(), a.begin.begin() + ptrdiff_t(i), a.begin.begin() + ptrdiff_t(i + n));
      b.end.insert(b.end.end(), a.end.begin() + ptrdiff_t(i), a.end.begin() + ptrdiff_t(i + n));
      i += n;
    } else if (c == kSpace && i < normalized.size() && normalized[i] == ' ') {
      b.begin.insert(b.begin.end(), n, a.begin[i]);
      b.end.insert(b.end.end(), n, a.end[i]);
      i += 1;
    } else if (c == kSpace || c == " ") {
      b.begin.insert(b.begin.end(), n, here);
      b.end.insert(b.end.end(), n, here);
    } else {
      return b;  // not exact
    }
    k += n;
  }
  b.exact = i == normalized.size();
  return b;
}

// Spans of the tokens out[first ..] that encode word [wb, we) of the
// pre-tokenized text: each token covers its piece's surface length (a
// WordPiece continuation without "##", a byte-level BPE piece one byte per
// character); when those lengths do not add up to the word, every token
// gets the whole word.
void word_spans(const Tokenizer::Impl& m, const std::vector<TokenId>& out, size_t first, uint32_t wb, uint32_t we,
                const Alignment& al, size_t frag_begin, size_t frag_end, OffsetSink& sink) {
  const int32_t word = sink.next_word++;
  std::vector<uint32_t> len;
  auto surface = [&](bool chars) {
    len.clear();
    uint32_t total = 0;
    for (size_t k = first; k < out.size(); ++k) {
      const std::string& piece = m.vocab.pieces[size_t(out[k])];
      uint32_t n = uint32_t(piece.size());
      if (out[k] == m.unk_id) n = 0;  // takes what is left, below
      else if (m.algorithm == TokenizerAlgorithm::WordPiece && k > first && piece.starts_with("##")) n -= 2;
      else if (chars) n = uint32_t(utf8_chars(piece));
      len.push_back(n);
      total += n;
    }
    if (out.size() > first && out.back() == m.unk_id && total <= we - wb) {
      len.back() = (we - wb) - total;
      total = we - wb;
    }
    return total == we - wb;
  };
  bool ok = al.exact && (surface(false) || (m.algorithm == TokenizerAlgorithm::BytePairEncoding && surface(true)));
  uint32_t p = wb;
  for (size_t k = first; k < out.size(); ++k) {
    std::pair<uint32_t, uint32_t> span;
    if (!ok) {
      span = al.exact && we > wb ? std::pair{al.begin[wb], al.end[we - 1]} : std::pair{uint32_t(frag_begin), uint32_t(frag_end)};
    } else {
      uint32_t n = len[k - first];
      span = n ? std::pair{al.begin[p], al.end[p + n - 1]} : std::pair{p < al.begin.size() ? al.begin[p] : uint32_t(frag_end), p < al.begin.size() ? al.begin[p] : uint32_t(frag_end)};
      p += n;
    }
    sink.spans.push_back(span);
    sink.words.push_back(word);
  }
}

void encode_impl(const Tokenizer::Impl& m, std::string_view text, const EncodeOptions& options,
                 std::vector<TokenId>& out, OffsetSink* sink) {
  std::string sanitized;
  std::string_view input = text;
  if (m.sanitize_input && !unicode::is_valid_utf8(text)) {
    sanitized = unicode::sanitize_utf8(text);
    input = sanitized;
  }
  if (options.add_special) out.insert(out.end(), m.prefix_ids.begin(), m.prefix_ids.end());
  if (sink) sink->spans.assign(out.size(), {0, 0}), sink->words.assign(out.size(), -1);

  // Per thread, reused across calls (see WordCache::clear); each call still
  // starts with an empty cache, so results and timings do not depend on
  // what was encoded before.
  thread_local tok::WordCache cache;
  thread_local tok::Words words;
  cache.clear();
  auto encode_fragment = [&](size_t begin, size_t end, bool after_special) {
    if (end <= begin) return;
    tok::FragmentContext ctx{begin, after_special};
    std::string_view fragment = input.substr(begin, end - begin);
    std::string normalized;
    if (m.normalizers.empty()) {
      tok::pre_tokenize(m.pre_tokenizers, fragment, ctx, words);
    } else {
      normalized = tok::normalize(m.normalizers, fragment, ctx);
      tok::pre_tokenize(m.pre_tokenizers, normalized, ctx, words);
    }
    if (m.segment_at_spaces) cut_before_word_spaces(words);
    std::string_view all = words.text;
    if (sink) {
      Alignment al = align(m, input, begin, end, after_special, m.normalizers.empty() ? fragment : normalized, all);
      for (auto [b, e] : words.spans) {
        size_t first = out.size();
        m.model->encode_word(all.substr(b, e - b), out);
        word_spans(m, out, first, b, e, al, begin, end, *sink);
      }
      return;
    }
    if (m.model->worth_caching()) {
      for (auto [b, e] : words.spans) m.model->encode_cached(all.substr(b, e - b), out, cache);
    } else {
      for (auto [b, e] : words.spans) m.model->encode_word(all.substr(b, e - b), out);
    }
  };

  bool match_added = !m.added.empty() && (options.parse_special || m.any_nonspecial_added);
  size_t fragment_start = 0;
  bool after_special = true;
  if (match_added) {
    for (size_t i = 0; i < input.size();) {
      const auto& candidates = m.added_by_first_byte[static_cast<unsigned char>(input[i])];
      const tok::AddedToken* hit = nullptr;
      for (int32_t k : candidates) {
        const tok::AddedToken& a = m.added[size_t(k)];
        if (a.special && !options.parse_special) continue;
        if (input.compare(i, a.content.size(), a.content) != 0) continue;
        if (a.single_word && (is_word_char(input, i, true) || is_word_char(input, i + a.content.size(), false)))
          continue;
        hit = &a;
        break;
      }
      if (!hit) {
        ++i;
        continue;
      }
      size_t match_begin = i, match_end = i + hit->content.size();
      if (hit->lstrip)
        while (match_begin > fragment_start && unicode::is_whitespace(uint8_t(input[match_begin - 1]))) --match_begin;
      if (hit->rstrip)
        while (match_end < input.size() && unicode::is_whitespace(uint8_t(input[match_end]))) ++match_end;
      encode_fragment(fragment_start, match_begin, after_special);
      out.push_back(hit->id);
      if (sink) sink->spans.push_back({uint32_t(i), uint32_t(i + hit->content.size())}), sink->words.push_back(sink->next_word++);
      after_special = true;
      fragment_start = i = match_end;
    }
  }
  if (fragment_start < input.size()) encode_fragment(fragment_start, input.size(), after_special);
  if (options.add_special) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
  if (sink) sink->spans.resize(out.size(), {0, 0}), sink->words.resize(out.size(), -1);
}

// HF trim_offsets: spans leave out the white space a token carries.
void trim_spans(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& spans) {
  for (auto& [b, e] : spans) {
    while (b < e && unicode::is_whitespace(uint8_t(text[b]))) ++b;
    while (e > b && unicode::is_whitespace(uint8_t(text[e - 1]))) --e;
  }
}

}  // namespace

void Tokenizer::encode_into(std::string_view text, const EncodeOptions& options, std::vector<TokenId>& out) const {
  encode_impl(*impl_, text, options, out, nullptr);
}

Encoding Tokenizer::encode_with_offsets(std::string_view text, const EncodeOptions& options) const {
  const Impl& m = *impl_;
  const std::string_view input = text;
  // offsets must refer to the caller's bytes, which U+FFFD substitution would shift
  if (m.sanitize_input && !unicode::is_valid_utf8(text)) fail(m.name, ": offsets need valid UTF-8 input");
  std::vector<TokenId> ids;
  OffsetSink sink;
  encode_impl(m, input, EncodeOptions{false, options.parse_special}, ids, &sink);
  trim_spans(input, sink.spans);
  Encoding raw;
  for (size_t i = 0; i < ids.size(); ++i) raw.append(ids[i], 0, 0, sink.words[i], sink.spans[i]);
  return options.add_special ? post_process(raw, nullptr) : raw;
}

Encoding Tokenizer::post_process(const Encoding& a, const Encoding* b) const {
  const Impl& m = *impl_;
  Encoding out;
  auto add_special = [&](const std::vector<TokenId>& ids, int32_t type) {
    for (TokenId id : ids) out.append(id, type, -1, -1, {0, 0});
  };
  auto add_text = [&](const Encoding& e, int8_t seq, int32_t type) {
    for (size_t i = 0; i < e.size(); ++i) out.append(e.ids[i], type, seq, e.word_ids[i], e.offsets[i]);
  };
  if (!b) {
    add_special(m.prefix_ids, m.single_type_id);
    add_text(a, 0, m.single_type_id);
    add_special(m.suffix_ids, m.single_type_id);
    return out;
  }
  if (m.pair_template.empty()) {
    add_special(m.prefix_ids, 0);
    add_text(a, 0, 0);
    add_special(m.suffix_ids, 0);
    add_text(*b, 1, 1);
    add_special(m.suffix_ids, 1);
    return out;
  }
  for (const Impl::PairItem& item : m.pair_template) {
    if (item.sequence < 0)
      add_special(item.ids, item.type_id);
    else
      add_text(item.sequence == 0 ? a : *b, int8_t(item.sequence), item.type_id);
  }
  return out;
}

size_t Tokenizer::num_added_tokens(bool pair) const {
  const Impl& m = *impl_;
  if (!pair) return m.prefix_ids.size() + m.suffix_ids.size();
  if (m.pair_template.empty()) return m.prefix_ids.size() + 2 * m.suffix_ids.size();
  size_t n = 0;
  for (const Impl::PairItem& item : m.pair_template) n += item.ids.size();
  return n;
}



size_t Tokenizer::vocab_size() const { return impl_->vocab.size(); }

const std::string& Tokenizer::piece(TokenId id) const {
  if (id < 0 || size_t(id) >= impl_->vocab.size())
    fail(impl_->name, ": token id ", id, " is out of range (vocabulary of ", impl_->vocab.size(), ")");
  return impl_->vocab.pieces[size_t(id)];
}

std::optional<TokenId> Tokenizer::find(std::string_view piece) const {
  TokenId id = impl_->vocab.find(piece);
  if (id < 0) return std::nullopt;
  return id;
}

bool Tokenizer::is_special(TokenId id) const {
  return id >= 0 && size_t(id) < impl_->special.size() && impl_->special[size_t(id)];
}

TokenizerAlgorithm Tokenizer::algorithm() const { return impl_->algorithm; }
TokenId Tokenizer::bos() const { return impl_->bos_id; }
TokenId Tokenizer::eos() const { return impl_->eos_id; }
TokenId Tokenizer::unk() const { return impl_->unk_id; }

}  // namespace tf
