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

void Tokenizer::encode_into(std::string_view text, const EncodeOptions& options, std::vector<TokenId>& out) const {
  const Impl& m = *impl_;
  std::string sanitized;
  std::string_view input = text;
  if (m.sanitize_input && !unicode::is_valid_utf8(text)) {
    sanitized = unicode::sanitize_utf8(text);
    input = sanitized;
  }
  if (options.add_special) out.insert(out.end(), m.prefix_ids.begin(), m.prefix_ids.end());

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
    if (m.normalizers.empty()) {
      tok::pre_tokenize(m.pre_tokenizers, fragment, ctx, words);
    } else {
      tok::pre_tokenize(m.pre_tokenizers, tok::normalize(m.normalizers, fragment, ctx), ctx, words);
    }
    if (m.segment_at_spaces) cut_before_word_spaces(words);
    std::string_view all = words.text;
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
      after_special = true;
      fragment_start = i = match_end;
    }
  }
  if (fragment_start < input.size()) encode_fragment(fragment_start, input.size(), after_special);
  if (options.add_special) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
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
