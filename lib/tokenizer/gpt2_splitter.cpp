// Hand-written splitters for the GPT-2 and LLaMA-3 / Qwen2 pre-tokenizer
// regexes. Splitting is the hottest step of byte-level BPE once words are
// cached; a regex engine pays per match for its generality, these walk the
// text once with a category lookup per character. Each branch below names
// the regex alternative it implements; the regex order decides ties.
#include <array>

#include "tokenizer/splitters.h"
#include "tokenizer/unicode.h"

namespace tf::tok {
namespace {

enum Class : uint8_t { kLetter, kNumber, kSpace, kOther, kEnd };

struct Char {
  uint32_t cp;
  uint32_t len;
  Class cls;
};

Class classify(uint32_t cp) {
  uint16_t f = unicode::flags(cp);
  if (f & unicode::kWhitespace) return kSpace;
  if (f & unicode::kLetter) return kLetter;
  if (f & unicode::kNumber) return kNumber;
  return kOther;
}

const std::array<Class, 128>& ascii_classes() {
  static const std::array<Class, 128> table = [] {
    std::array<Class, 128> t{};
    for (uint32_t c = 0; c < 128; ++c) t[c] = classify(c);
    return t;
  }();
  return table;
}

struct Text {
  std::string_view s;
  const std::array<Class, 128>& ascii = ascii_classes();
  Char at(size_t i) const {
    if (i >= s.size()) return {0, 0, kEnd};
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return {b, 1, ascii[b]};
    auto d = unicode::decode(s.data(), i, s.size());
    return {d.cp, d.len, classify(d.cp)};
  }
  // End of the run of `cls` characters starting at i.
  size_t run(size_t i, Class cls) const {
    for (Char c = at(i); c.cls == cls; c = at(i)) i += c.len;
    return i;
  }
};

using Out = std::vector<std::pair<uint32_t, uint32_t>>;

// After a white-space run [start, end): "\s+(?!\S)" keeps the last white
// space for the next word when a non-space follows; "\s+" takes a lone one.
size_t whitespace_tail(const Text& t, size_t start, size_t end, size_t last_start) {
  if (end == t.s.size()) return end;
  return last_start > start ? last_start : end;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(std::string_view s, Out& out) {
  Text t{s};
  size_t i = 0, n = s.size();
  while (i < n) {
    Char c = t.at(i);
    size_t start = i;
    if (c.cp == '\'' && i + 1 < n) {  // contractions, case-sensitive
      char c1 = s[i + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        out.push_back({uint32_t(i), uint32_t(i + 2)});
        i += 2;
        continue;
      }
      if (i + 2 < n) {
        char c2 = s[i + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          out.push_back({uint32_t(i), uint32_t(i + 3)});
          i += 3;
          continue;
        }
      }
    }
    Char d = c;
    size_t j = i;
    if (c.cp == ' ') {  // the optional leading space of the next three
      Char next = t.at(i + 1);
      if (next.cls == kLetter || next.cls == kNumber || next.cls == kOther) {
        d = next;
        j = i + 1;
      }
    }
    if (d.cls != kSpace) {  //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
      i = t.run(j, d.cls);
      out.push_back({uint32_t(start), uint32_t(i)});
      continue;
    }
    size_t end = i, last_start = i;
    for (Char w = t.at(end); w.cls == kSpace; w = t.at(end)) {
      last_start = end;
      end += w.len;
    }
    i = whitespace_tail(t, start, end, last_start);
    out.push_back({uint32_t(start), uint32_t(i)});
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,MAX}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
template <size_t kMaxDigits>
void split_llama3(std::string_view s, Out& out) {
  Text t{s};
  size_t i = 0, n = s.size();
  auto lower = [](char ch) { return char(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch); };
  while (i < n) {
    Char c = t.at(i);
    size_t start = i;
    if (c.cp == '\'' && i + 1 < n) {  // contractions, case-insensitive
      char c1 = lower(s[i + 1]);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        out.push_back({uint32_t(i), uint32_t(i + 2)});
        i += 2;
        continue;
      }
      if (i + 2 < n) {
        char c2 = lower(s[i + 2]);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          out.push_back({uint32_t(i), uint32_t(i + 3)});
          i += 3;
          continue;
        }
      }
    }
    if (c.cls == kLetter) {  // [^\r\n\p{L}\p{N}]?\p{L}+ without the prefix
      i = t.run(i, kLetter);
      out.push_back({uint32_t(start), uint32_t(i)});
      continue;
    }
    if (c.cp != '\r' && c.cp != '\n' && c.cls != kNumber && t.at(i + c.len).cls == kLetter) {  // ... with it
      i = t.run(i + c.len, kLetter);
      out.push_back({uint32_t(start), uint32_t(i)});
      continue;
    }
    if (c.cls == kNumber) {  // \p{N}{1,MAX}
      size_t count = 0;
      for (Char d = c; d.cls == kNumber && count < kMaxDigits; d = t.at(i), ++count) i += d.len;
      out.push_back({uint32_t(start), uint32_t(i)});
      continue;
    }
    {  //  ?[^\s\p{L}\p{N}]+[\r\n]*
      size_t j = i;
      if (c.cp == ' ' && t.at(i + 1).cls == kOther) j = i + 1;
      if (t.at(j).cls == kOther) {
        j = t.run(j, kOther);
        while (j < n && (s[j] == '\r' || s[j] == '\n')) ++j;
        out.push_back({uint32_t(start), uint32_t(j)});
        i = j;
        continue;
      }
    }
    // c is white space: \s*[\r\n]+ ends after the run's last line break
    size_t end = i, last_start = i, after_last_break = 0;
    for (Char w = t.at(end); w.cls == kSpace; w = t.at(end)) {
      last_start = end;
      end += w.len;
      if (w.cp == '\r' || w.cp == '\n') after_last_break = end;
    }
    i = after_last_break ? after_last_break : whitespace_tail(t, start, end, last_start);
    out.push_back({uint32_t(start), uint32_t(i)});
  }
}

struct Known {
  const char* pattern;
  FastSplitter splitter;
};

const Known kKnown[] = {
    // GPT-2 as in tokenizer.json (ByteLevel) and as llama.cpp writes it
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", split_gpt2},
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))", split_gpt2},
    // LLaMA 3 (digits in threes), original and llama.cpp's case-expanded form
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     split_llama3<3>},
    {R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     split_llama3<3>},
    // Qwen2 (single digits)
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     split_llama3<1>},
    {R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     split_llama3<1>},
};

}  // namespace

FastSplitter find_fast_splitter(const std::string& pattern) {
  for (const Known& k : kKnown)
    if (pattern == k.pattern) return k.splitter;
  return nullptr;
}

}  // namespace tf::tok
