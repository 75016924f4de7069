// Normalizers: the text transformations that run before splitting.
#include <array>
#include <cstring>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

// ---------------------------------------------------------------- SentencePiece charsmap

// SentencePiece's precompiled normalization rules: a blob of
// [u32 trie size][XOR-compressed double-array trie][NUL-terminated replacements].
// The longest input prefix found in the trie is replaced (llama.cpp's reading;
// HF matches per grapheme first, which differs only for multi-character rules
// spanning grapheme boundaries).
class Charsmap {
 public:
  Charsmap(std::string blob, const std::string& name) : blob_(std::move(blob)) {
    if (blob_.size() < 4) fail(name, ": precompiled_charsmap: too short (", blob_.size(), " bytes)");
    uint32_t trie_bytes;
    std::memcpy(&trie_bytes, blob_.data(), 4);
    if (trie_bytes % 4 != 0 || trie_bytes > blob_.size() - 4)
      fail(name, ": precompiled_charsmap: trie size ", trie_bytes, " does not fit in ", blob_.size(), " bytes");
    trie_.resize(trie_bytes / 4);
    std::memcpy(trie_.data(), blob_.data() + 4, trie_bytes);
    replacements_ = blob_.substr(4 + trie_bytes);
  }

  // Longest match at text[pos..]: replacement and consumed length (0 if none).
  std::pair<std::string_view, size_t> match(std::string_view text, size_t pos) const {
    if (trie_.empty()) return {{}, 0};
    size_t best_len = 0;
    uint32_t best_value = 0;
    uint32_t node = base(0);
    for (size_t i = pos; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if (c == 0) break;
      node ^= c;
      if (node >= trie_.size() || lcheck(node) != c) break;
      bool leaf = (trie_[node] >> 8) & 1;
      node ^= base(node);
      if (leaf) {
        if (node >= trie_.size()) break;
        best_len = i - pos + 1;
        best_value = trie_[node] & 0x7FFFFFFFu;
      }
    }
    if (best_len == 0 || best_value >= replacements_.size()) return {{}, 0};
    const char* r = replacements_.data() + best_value;
    size_t r_len = strnlen(r, replacements_.size() - best_value);
    return {{r, r_len}, best_len};
  }

 private:
  uint32_t base(size_t i) const {
    if (i >= trie_.size()) return 0;
    uint32_t v = trie_[i];
    return (v >> 10) << ((v & (1u << 9)) >> 6);
  }
  uint32_t lcheck(size_t i) const { return trie_[i] & ((1u << 31) | 0xFF); }
  std::string blob_;
  std::vector<uint32_t> trie_;
  std::string replacements_;
};

std::shared_ptr<const Charsmap> make_charsmap(std::string blob, const std::string& name) {
  return std::make_shared<const Charsmap>(std::move(blob), name);
}

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";

// HF BertNormalizer on a run of non-ASCII text, in its order: clean, pad
// CJK, strip accents, lowercase.
std::string bert_normalize_run(const NormStep& st, std::string_view text) {
  std::string s;
  s.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    auto d = unicode::decode(text.data(), i, text.size());
    i += d.len;
    uint32_t cp = d.cp;
    if (st.clean_text) {
      if (cp == 0 || cp == 0xFFFD) continue;
      bool ws = cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_whitespace(cp);
      if (!ws && (unicode::flags(cp) & unicode::kOther)) continue;
      if (ws) cp = ' ';
    }
    if (st.handle_chinese && unicode::is_bert_chinese(cp)) {
      s += ' ';
      unicode::append_utf8(s, cp);
      s += ' ';
      continue;
    }
    unicode::append_utf8(s, cp);
  }
  if (st.strip_accents) {
    std::string nfd = unicode::normalize(s, unicode::Form::NFD);
    s.clear();
    for (size_t i = 0; i < nfd.size();) {
      auto d = unicode::decode(nfd.data(), i, nfd.size());
      if (!(unicode::flags(d.cp) & unicode::kNonspacingMark)) s.append(nfd, i, d.len);
      i += d.len;
    }
  }
  if (st.lowercase) {
    std::string lower;
    lower.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      auto d = unicode::decode(s.data(), i, s.size());
      unicode::append_lower(lower, d.cp);
      i += d.len;
    }
    s.swap(lower);
  }
  return s;
}

// The same on any text: ASCII bytes are handled inline (for them every step
// is a byte map), other runs go through bert_normalize_run. Cutting at ASCII
// characters is safe for NFD: they are starters, so canonical reordering
// never crosses them.
std::string bert_normalize(const NormStep& st, std::string_view text) {
  // What each ASCII byte becomes: itself, lower-cased, a space, or nothing (-1).
  std::array<int16_t, 128> ascii;
  for (int c = 0; c < 128; ++c) {
    int16_t v = int16_t(c);
    if (st.clean_text) {
      bool ws = c == '\t' || c == '\n' || c == '\r' || c == ' ' || c == 0x0B || c == 0x0C;
      if (ws) v = ' ';
      else if (c < 0x20 || c == 0x7F) v = -1;  // NUL and other controls are removed
    }
    if (st.lowercase && v >= 'A' && v <= 'Z') v = int16_t(v + 32);
    ascii[size_t(c)] = v;
  }
  std::string out(text.size(), '\0');
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      int16_t v = ascii[c];
      if (v >= 0) out[n++] = char(v);
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && static_cast<unsigned char>(text[end]) >= 0x80) ++end;
    std::string run = bert_normalize_run(st, text.substr(i, end - i));
    out.resize(n);
    out += run;
    n = out.size();
    out.resize(n + (text.size() - end));
    i = end;
  }
  out.resize(n);
  return out;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos);
  return out;
}

std::string precompiled(const Charsmap* map, std::string_view text, const std::vector<std::string>& keep = {}) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t kept = 0;
    for (const std::string& k : keep)  // sorted longest first
      if (text.compare(i, k.size(), k) == 0) {
        kept = k.size();
        break;
      }
    if (kept) {
      out.append(text, i, kept);
      i += kept;
      continue;
    }
    auto [replacement, consumed] = map ? map->match(text, i) : std::pair<std::string_view, size_t>{{}, 0};
    if (consumed) {
      out.append(replacement);
      i += consumed;
      continue;
    }
    auto d = unicode::decode(text.data(), i, text.size());
    if (d.valid)
      out.append(text, i, d.len);
    else
      unicode::append_utf8(out, unicode::kReplacement);
    i += d.len;
  }
  return out;
}

// llama.cpp's UGM normalization: charsmap, then spaces as U+2581 with an
// optional prefix (or suffix), collapsing runs when remove_extra_whitespace.
std::string ugm_escape(const NormStep& st, std::string_view text) {
  std::string mapped = precompiled(st.charsmap.get(), text, st.protected_pieces);
  std::string space = st.escape_whitespace ? std::string(kSpace) : std::string(" ");
  bool prepend = !st.treat_whitespace_as_suffix && st.add_prefix;
  bool append = st.treat_whitespace_as_suffix && st.add_prefix;
  std::string out;
  out.reserve(mapped.size() * 2);
  bool prepended = false, in_word = false;
  for (char c : mapped) {
    if (c != ' ') {
      if (!in_word) {
        in_word = true;
        if ((prepend && !prepended) || st.remove_extra_whitespace) {
          out += space;
          prepended = true;
        }
      }
      out += c;
    } else {
      in_word = false;
      if (!st.remove_extra_whitespace) out += space;
    }
  }
  if (append) out += space;
  return out;
}

}  // namespace

std::string normalize(const std::vector<NormStep>& steps, std::string_view text, const FragmentContext& ctx) {
  std::string s(text);
  for (const NormStep& st : steps) {
    switch (st.kind) {
      case NormStep::Kind::Bert: s = bert_normalize(st, s); break;
      case NormStep::Kind::Lowercase: {
        std::string lower;
        lower.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
          auto d = unicode::decode(s.data(), i, s.size());
          unicode::append_lower(lower, d.cp);
          i += d.len;
        }
        s.swap(lower);
        break;
      }
      case NormStep::Kind::StripAccents: {
        std::string kept;
        kept.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
          auto d = unicode::decode(s.data(), i, s.size());
          if (!(unicode::flags(d.cp) & unicode::kNonspacingMark)) kept.append(s, i, d.len);
          i += d.len;
        }
        s.swap(kept);
        break;
      }
      case NormStep::Kind::Nfc: s = unicode::normalize(s, unicode::Form::NFC); break;
      case NormStep::Kind::Nfd: s = unicode::normalize(s, unicode::Form::NFD); break;
      case NormStep::Kind::Nfkc: s = unicode::normalize(s, unicode::Form::NFKC); break;
      case NormStep::Kind::Nfkd: s = unicode::normalize(s, unicode::Form::NFKD); break;
      case NormStep::Kind::Replace:
        s = st.regex ? regex_replace(*st.regex, s, st.content) : replace_all(s, st.pattern, st.content);
        break;
      case NormStep::Kind::Prepend:
        if (!s.empty()) s = st.content + s;
        break;
      case NormStep::Kind::Strip: {
        size_t b = 0, e = s.size();
        auto ws_at = [&](size_t i) { return unicode::is_whitespace(unicode::decode(s.data(), i, s.size()).cp); };
        if (st.left)
          while (b < e && ws_at(b)) b += unicode::decode(s.data(), b, s.size()).len;
        if (st.right)
          while (e > b) {
            size_t p = e - 1;
            while (p > b && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
            if (!ws_at(p)) break;
            e = p;
          }
        s = s.substr(b, e - b);
        break;
      }
      case NormStep::Kind::Precompiled:
        if (st.charsmap) s = precompiled(st.charsmap.get(), s);
        break;
      case NormStep::Kind::SpmEscape: {
        std::string out;
        out.reserve(s.size() + 16);
        if (st.add_prefix && ctx.after_special) out += kSpace;
        out += replace_all(s, " ", kSpace);
        s.swap(out);
        break;
      }
      case NormStep::Kind::UgmEscape: s = ugm_escape(st, s); break;
    }
  }
  return s;
}

}  // namespace tf::tok
