#include "tokenizer/unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>
#include <memory>

#include "tf/error.h"

namespace tf::unicode {
namespace {

uint16_t flags_from_icu(uint32_t cp) {
  uint16_t f = 0;
  switch (u_charType(UChar32(cp))) {
    case U_UPPERCASE_LETTER: f = kLetter | kUpper; break;
    case U_LOWERCASE_LETTER: f = kLetter | kLower; break;
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER: f = kLetter | kTitleOrModifierOrOtherLetter; break;
    case U_NON_SPACING_MARK: f = kMark | kNonspacingMark; break;
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK: f = kMark; break;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER: f = kNumber; break;
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR: f = kSeparator; break;
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION: f = kPunctuation; break;
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL: f = kSymbol; break;
    default: f = kOther; break;  // Cc Cf Cs Co Cn
  }
  if (u_isUWhiteSpace(UChar32(cp))) f |= kWhitespace;
  return f;
}

struct BmpTable {
  std::array<uint16_t, 0x10000> flags;
  BmpTable() {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) flags[cp] = flags_from_icu(cp);
  }
};

const BmpTable& bmp() {
  static const BmpTable table;
  return table;
}

}  // namespace

const uint16_t* bmp_flags() { return bmp().flags.data(); }

uint16_t supplementary_flags(uint32_t cp) {
  if (cp > 0x10FFFF) return kOther;
  return flags_from_icu(cp);
}

Decoded decode_multibyte(const char* str, size_t i, size_t n) {
  const auto* s = reinterpret_cast<const unsigned char*>(str);
  unsigned char b0 = s[i];
  if (b0 < 0x80) return {b0, 1, true};
  auto cont = [&](size_t k) { return i + k < n && (s[i + k] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (cont(1)) return {uint32_t(b0 & 0x1F) << 6 | (s[i + 1] & 0x3F), 2, true};
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (cont(1) && cont(2)) {
      uint32_t cp = uint32_t(b0 & 0x0F) << 12 | uint32_t(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) return {cp, 3, true};
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (cont(1) && cont(2) && cont(3)) {
      uint32_t cp = uint32_t(b0 & 0x07) << 18 | uint32_t(s[i + 1] & 0x3F) << 12 | uint32_t(s[i + 2] & 0x3F) << 6 |
                    (s[i + 3] & 0x3F);
      if (cp >= 0x10000 && cp <= 0x10FFFF) return {cp, 4, true};
    }
  }
  return {kReplacement, 1, false};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    // ASCII runs are the common case; skip them eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    Decoded d = decode(s.data(), i, n);
    if (!d.valid) return false;
    i += d.len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    Decoded d = decode(s.data(), i, s.size());
    if (d.valid)
      out.append(s.data() + i, d.len);
    else
      append_utf8(out, kReplacement);
    i += d.len;
  }
  return out;
}

size_t complete_prefix_length(std::string_view s) {
  // Only the last three bytes can start an unfinished sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    auto lead = static_cast<unsigned char>(s[n - back]);
    if ((lead & 0xC0) == 0x80) continue;        // continuation byte: look further back
    if (lead < 0xC2 || lead > 0xF4) return n;   // ASCII, or a byte that never starts a sequence
    if (sequence_length(lead) <= back) return n;  // complete (or invalid: the caller replaces it)
    // Held back only while it can still become a well-formed sequence.
    if (back >= 2) {
      auto second = static_cast<unsigned char>(s[n - back + 1]);
      if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
          (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F))
        return n;
    }
    return n - back;
  }
  return n;
}

uint32_t to_lower(uint32_t cp) { return uint32_t(u_tolower(UChar32(cp))); }

void append_lower(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  // The one unconditional multi-character lowercase mapping (SpecialCasing.txt).
  if (cp == 0x130) {
    out += "i\xCC\x87";
    return;
  }
  append_utf8(out, to_lower(cp));
}

std::string normalize(std::string_view s, Form form) {
  bool ascii = true;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) return std::string(s);  // ASCII is invariant under every form
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case Form::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case Form::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case Form::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case Form::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || !n) fail("unicode: cannot load the ICU normalizer: ", u_errorName(status));
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), int32_t(s.size())));
  icu::UnicodeString out = n->normalize(in, status);
  if (U_FAILURE(status)) fail("unicode: normalization failed: ", u_errorName(status));
  std::string result;
  out.toUTF8String(result);
  return result;
}

bool is_bert_chinese(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace tf::unicode
