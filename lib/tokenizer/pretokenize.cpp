// Pre-tokenizers: cut normalized text into words before the model runs.
//
// Arbitrary regexes (tokenizer.json Split patterns, llama.cpp's per-model
// lists) run on PCRE2 with its JIT: std::regex has no \p{L}, and PCRE2 in
// UTF+UCP mode follows the same Unicode semantics as the Oniguruma engine of
// HF tokenizers. The GPT-2 family of patterns also has a hand-written
// splitter (gpt2_splitter.cpp), several times faster, checked against PCRE2
// in the tests.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstring>
#include <functional>

#include "tf/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/splitters.h"
#include "tokenizer/unicode.h"

namespace tf::tok {

using Spans = std::vector<std::pair<uint32_t, uint32_t>>;

// ---------------------------------------------------------------- PCRE2 wrapper

class Regex {
 public:
  Regex(const std::string& pattern, const std::string& name) : pattern_(pattern) {
    fast_ = find_fast_splitter(pattern);
    int error = 0;
    PCRE2_SIZE offset = 0;
    std::string rewritten = rewrite_whitespace_classes(pattern);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                          PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      fail(name, ": pre-tokenizer regex '", pattern, "': ", reinterpret_cast<const char*>(message), " at offset ",
           offset);
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends [begin, end, is_match] pieces of text[b, e) in order, gaps included.
  // An empty match splits a gap (HF keeps the cut, then drops empty pieces).
  void find_all(std::string_view text, uint32_t b, uint32_t e, Spans& pieces, std::vector<bool>& is_match,
                bool use_fast = true) const {
    if (fast_ && use_fast) {
      size_t first = pieces.size();
      fast_(text.substr(b, e - b), pieces);
      for (size_t i = first; i < pieces.size(); ++i) {
        pieces[i].first += b;
        pieces[i].second += b;
        is_match.push_back(true);
      }
      return;
    }
    thread_local pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + b);
    size_t length = e - b;
    size_t prev = 0, start = 0;
    while (start <= length) {
      int rc = jit_ ? pcre2_jit_match(code_, subject, length, start, 0, data, nullptr)
                    : pcre2_match(code_, subject, length, start, PCRE2_NO_UTF_CHECK, data, nullptr);
      if (rc < 0) break;  // no match (or a resource limit: the rest is one gap)
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
      size_t ms = ov[0], me = ov[1];
      if (ms > prev) {
        pieces.push_back({uint32_t(b + prev), uint32_t(b + ms)});
        is_match.push_back(false);
      }
      if (me > ms) {
        pieces.push_back({uint32_t(b + ms), uint32_t(b + me)});
        is_match.push_back(true);
        start = me;
      } else {
        if (ms >= length) {
          prev = ms;
          break;
        }
        start = ms + unicode::sequence_length(static_cast<unsigned char>(text[b + ms]));
      }
      prev = me;
    }
    if (prev < length) {
      pieces.push_back({uint32_t(b + prev), e});
      is_match.push_back(false);
    }
  }

  const std::string& pattern() const { return pattern_; }

 private:
  // PCRE2 10.42's \s (Perl space) lacks U+0085, which is White_Space and
  // matched by \s in Oniguruma (HF) and llama.cpp; add it explicitly.
  static std::string rewrite_whitespace_classes(const std::string& p) {
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
      char c = p[i];
      if (c == '\\' && i + 1 < p.size()) {
        char n = p[i + 1];
        ++i;
        if (n == 's') {
          out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
        } else if (n == 'S' && !in_class) {
          out += "[^\\s\\x{85}]";
        } else {
          out += '\\';
          out += n;
        }
        continue;
      }
      if (c == '[' && !in_class) {
        in_class = true;
        out += c;
        // A ']' right after '[' or '[^' is a literal member, not the end.
        if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
        if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
        continue;
      }
      if (c == ']' && in_class) in_class = false;
      out += c;
    }
    return out;
  }

  std::string pattern_;
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
  FastSplitter fast_ = nullptr;
};

std::shared_ptr<const Regex> compile_regex(const std::string& pattern, const std::string& name) {
  return std::make_shared<const Regex>(pattern, name);
}

std::string regex_replace(const Regex& re, std::string_view text, std::string_view content) {
  Spans pieces;
  std::vector<bool> is_match;
  re.find_all(text, 0, uint32_t(text.size()), pieces, is_match, /*use_fast=*/false);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (is_match[i])
      out.append(content);
    else
      out.append(text.substr(pieces[i].first, pieces[i].second - pieces[i].first));
  }
  return out;
}

void regex_find_all_reference(const Regex& re, std::string_view text, Spans& pieces) {
  std::vector<bool> is_match;
  re.find_all(text, 0, uint32_t(text.size()), pieces, is_match, /*use_fast=*/false);
}
void regex_find_all(const Regex& re, std::string_view text, Spans& pieces) {
  std::vector<bool> is_match;
  re.find_all(text, 0, uint32_t(text.size()), pieces, is_match, /*use_fast=*/true);
}

// ---------------------------------------------------------------- split behaviours

namespace {

// HF's SplitDelimiterBehavior applied to one span's pieces.
void apply_behavior(const Spans& pieces, std::vector<bool> is_match, SplitBehavior behavior, bool invert,
                    Spans& out) {
  if (invert) is_match.flip();
  size_t first = out.size();
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (size_t i = 0; i < pieces.size(); ++i)
        if (!is_match[i]) out.push_back(pieces[i]);
      break;
    case SplitBehavior::Isolated: out.insert(out.end(), pieces.begin(), pieces.end()); break;
    case SplitBehavior::MergedWithPrevious:
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (is_match[i] && !previous_match && out.size() > first)
          out.back().second = pieces[i].second;
        else
          out.push_back(pieces[i]);
        previous_match = is_match[i];
      }
      break;
    case SplitBehavior::MergedWithNext: {
      Spans reversed;
      for (size_t k = pieces.size(); k-- > 0;) {
        if (is_match[k] && !previous_match && !reversed.empty())
          reversed.back().first = pieces[k].first;
        else
          reversed.push_back(pieces[k]);
        previous_match = is_match[k];
      }
      out.insert(out.end(), reversed.rbegin(), reversed.rend());
      break;
    }
    case SplitBehavior::Contiguous:
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0 && is_match[i] == previous_match && out.size() > first)
          out.back().second = pieces[i].second;
        else
          out.push_back(pieces[i]);
        previous_match = is_match[i];
      }
      break;
  }
}

template <class Predicate>
void split_chars(std::string_view text, uint32_t b, uint32_t e, Predicate is_delimiter, Spans& pieces,
                 std::vector<bool>& is_match) {
  uint32_t run = b;
  for (uint32_t i = b; i < e;) {
    auto d = unicode::decode(text.data(), i, e);
    if (is_delimiter(d.cp)) {
      if (i > run) {
        pieces.push_back({run, i});
        is_match.push_back(false);
      }
      pieces.push_back({i, i + d.len});
      is_match.push_back(true);
      run = i + d.len;
    }
    i += d.len;
  }
  if (e > run) {
    pieces.push_back({run, e});
    is_match.push_back(false);
  }
}

void split_literal(std::string_view text, uint32_t b, uint32_t e, std::string_view literal, Spans& pieces,
                   std::vector<bool>& is_match) {
  uint32_t prev = b;
  std::string_view span = text.substr(b, e - b);
  if (!literal.empty()) {
    for (size_t pos = span.find(literal); pos != std::string_view::npos; pos = span.find(literal, pos + literal.size())) {
      uint32_t ms = b + uint32_t(pos), me = ms + uint32_t(literal.size());
      if (ms > prev) {
        pieces.push_back({prev, ms});
        is_match.push_back(false);
      }
      pieces.push_back({ms, me});
      is_match.push_back(true);
      prev = me;
    }
  }
  if (e > prev) {
    pieces.push_back({prev, e});
    is_match.push_back(false);
  }
}

bool is_white(uint32_t cp) { return unicode::is_whitespace(cp); }
bool is_punct(uint32_t cp) {
  bool ascii_punct = cp < 0x80 && ((cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
                                   (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E));
  return ascii_punct || (unicode::flags(cp) & unicode::kPunctuation);
}
bool is_digit(uint32_t cp) { return unicode::flags(cp) & unicode::kNumber; }

// BertPreTokenizer in one pass: white space separates words and is dropped,
// each punctuation character is a word of its own. (The same as splitting on
// white space (Removed) and then on punctuation (Isolated), which is how HF
// defines it, without the intermediate lists.)
void split_bert(std::string_view text, uint32_t b, uint32_t e, Spans& out) {
  enum : uint8_t { kWord, kSpace, kPunct };
  static const auto ascii = [] {
    std::array<uint8_t, 128> t{};
    for (uint32_t c = 0; c < 128; ++c) t[c] = is_white(c) ? kSpace : is_punct(c) ? kPunct : kWord;
    return t;
  }();
  uint32_t word = b;
  for (uint32_t i = b; i < e;) {
    auto c = static_cast<unsigned char>(text[i]);
    uint8_t cls;
    uint32_t len = 1;
    if (c < 0x80) {
      cls = ascii[c];
    } else {
      auto d = unicode::decode(text.data(), i, e);
      len = d.len;
      cls = is_white(d.cp) ? kSpace : is_punct(d.cp) ? kPunct : kWord;
    }
    if (cls != kWord) {
      if (i > word) out.push_back({word, i});
      if (cls == kPunct) out.push_back({i, i + len});
      word = i + len;
    }
    i += len;
  }
  if (e > word) out.push_back({word, e});
}

// Text rewritten per span (Metaspace, ByteLevel's prefix space).
void rewrite_spans(Words& w, const std::function<void(std::string_view, size_t, std::string&)>& rewrite) {
  std::string text;
  text.reserve(w.text.size() + w.spans.size() * 3);
  Spans spans;
  spans.reserve(w.spans.size());
  for (size_t k = 0; k < w.spans.size(); ++k) {
    auto [b, e] = w.spans[k];
    uint32_t start = uint32_t(text.size());
    rewrite(std::string_view(w.text).substr(b, e - b), k, text);
    spans.push_back({start, uint32_t(text.size())});
  }
  w.text.swap(text);
  w.spans.swap(spans);
}

}  // namespace

void pre_tokenize(const std::vector<PreStep>& steps, std::string_view text, const FragmentContext& ctx, Words& out) {
  out.text.assign(text);
  out.spans.clear();
  if (!out.text.empty()) out.spans.push_back({0, uint32_t(out.text.size())});
  thread_local Spans next, pieces;
  thread_local std::vector<bool> is_match;
  for (const PreStep& st : steps) {
    if (st.kind == PreStep::Kind::Metaspace) {
      rewrite_spans(out, [&](std::string_view s, size_t k, std::string& dst) {
        std::string replaced;
        for (char c : s) {
          if (c == ' ')
            replaced += st.replacement;
          else
            replaced += c;
        }
        bool starts = replaced.compare(0, st.replacement.size(), st.replacement) == 0;
        bool prepend = st.prepend == PreStep::Prepend::Always ||
                       (st.prepend == PreStep::Prepend::First && k == 0 && ctx.offset == 0);
        if (prepend && !starts) dst += st.replacement;
        dst += replaced;
      });
      if (!st.split) continue;
    }
    if (st.kind == PreStep::Kind::ByteLevel && st.add_prefix_space) {
      rewrite_spans(out, [&](std::string_view s, size_t, std::string& dst) {
        if (s.empty() || s[0] != ' ') dst += ' ';
        dst += s;
      });
    }
    if (st.kind == PreStep::Kind::ByteLevel && !st.regex) continue;
    next.clear();
    bool isolated_regex = (st.kind == PreStep::Kind::ByteLevel ||
                           (st.kind == PreStep::Kind::Split && st.regex && st.behavior == SplitBehavior::Isolated &&
                            !st.invert));
    for (auto [b, e] : out.spans) {
      is_match.clear();
      if (isolated_regex) {  // the common case: pieces go straight to the output
        st.regex->find_all(out.text, b, e, next, is_match);
        continue;
      }
      if (st.kind == PreStep::Kind::Bert) {
        split_bert(out.text, b, e, next);
        continue;
      }
      pieces.clear();
      SplitBehavior behavior = st.behavior;
      bool invert = st.invert;
      switch (st.kind) {
        case PreStep::Kind::Split:
          if (st.regex)
            st.regex->find_all(out.text, b, e, pieces, is_match,
                               st.behavior == SplitBehavior::Isolated && !st.invert);
          else
            split_literal(out.text, b, e, st.literal, pieces, is_match);
          break;
        case PreStep::Kind::ByteLevel:
          st.regex->find_all(out.text, b, e, pieces, is_match);
          behavior = SplitBehavior::Isolated;
          invert = false;
          break;
        case PreStep::Kind::Metaspace:
          split_literal(out.text, b, e, st.replacement, pieces, is_match);
          behavior = SplitBehavior::MergedWithNext;
          invert = false;
          break;
        case PreStep::Kind::Bert: break;  // handled above
        case PreStep::Kind::Whitespace:
          // \w+|[^\w\s]+ kept, the rest removed
          st.regex->find_all(out.text, b, e, pieces, is_match);
          behavior = SplitBehavior::Removed;
          invert = true;
          break;
        case PreStep::Kind::WhitespaceSplit:
          split_chars(out.text, b, e, is_white, pieces, is_match);
          behavior = SplitBehavior::Removed;
          invert = false;
          break;
        case PreStep::Kind::Punctuation: split_chars(out.text, b, e, is_punct, pieces, is_match); break;
        case PreStep::Kind::Digits:
          split_chars(out.text, b, e, is_digit, pieces, is_match);
          behavior = st.individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
          invert = false;
          break;
      }
      apply_behavior(pieces, is_match, behavior, invert, next);
    }
    out.spans.clear();
    for (auto s : next)
      if (s.second > s.first) out.spans.push_back(s);
    next.clear();
  }
}

}  // namespace tf::tok
