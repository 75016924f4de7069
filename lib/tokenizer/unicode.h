// Unicode facts the tokenizers need: UTF-8 decoding, general categories,
// White_Space, simple lowercase, canonical/compatibility normalization.
//
// Source of truth: ICU (libicu-dev, Unicode 15.0 in Debian 12). The category
// and white-space flags of the Basic Multilingual Plane are copied once into
// a flat 64 KiB table at first use, because the splitters look up every code
// point of the input and an out-of-line ICU call per character costs more
// than the whole BPE step on cached words; supplementary planes ask ICU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tf::unicode {

constexpr uint32_t kReplacement = 0xFFFD;

// Category bits (one of the first seven is set for every code point).
enum Flag : uint16_t {
  kLetter = 1 << 0,       // L*
  kNumber = 1 << 1,       // N*
  kPunctuation = 1 << 2,  // P*
  kSymbol = 1 << 3,       // S*
  kMark = 1 << 4,         // M*
  kSeparator = 1 << 5,    // Z*
  kOther = 1 << 6,        // C* (Cc Cf Cs Co Cn)
  kWhitespace = 1 << 7,   // the White_Space property (what \s means in HF and llama.cpp)
  kNonspacingMark = 1 << 8,  // Mn (what BERT's accent stripping removes)
  kUpper = 1 << 9,        // Lu
  kLower = 1 << 10,       // Ll
  kTitleOrModifierOrOtherLetter = 1 << 11,  // Lt Lm Lo
};

const uint16_t* bmp_flags();  // flags of U+0000..U+FFFF
uint16_t supplementary_flags(uint32_t cp);
inline uint16_t flags(uint32_t cp) { return cp < 0x10000 ? bmp_flags()[cp] : supplementary_flags(cp); }

inline bool is_letter(uint32_t cp) { return flags(cp) & kLetter; }
inline bool is_number(uint32_t cp) { return flags(cp) & kNumber; }
inline bool is_whitespace(uint32_t cp) { return flags(cp) & kWhitespace; }

// Decodes one code point at s[i..n). On a byte that does not start a
// well-formed sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
// returns kReplacement with len 1, so callers always make progress.
struct Decoded {
  uint32_t cp;
  uint32_t len;
  bool valid;
};
Decoded decode_multibyte(const char* s, size_t i, size_t n);
inline Decoded decode(const char* s, size_t i, size_t n) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1, true};
  return decode_multibyte(s, i, n);
}

void append_utf8(std::string& out, uint32_t cp);
// Length of the sequence a lead byte announces (1 for ASCII and stray bytes).
inline size_t sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

bool is_valid_utf8(std::string_view s);
// Each byte that is not part of a well-formed sequence becomes U+FFFD.
std::string sanitize_utf8(std::string_view s);
// Length of the longest prefix of `s` that ends on a character boundary and
// contains no incomplete final sequence (invalid bytes count as complete).
size_t complete_prefix_length(std::string_view s);

uint32_t to_lower(uint32_t cp);  // simple lowercase mapping
// Full lowercase as Rust's char::to_lowercase (HF Lowercase / BertNormalizer).
void append_lower(std::string& out, uint32_t cp);

enum class Form { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, Form form);  // s must be valid UTF-8

// CJK ideographs as BERT's tokenizer defines them (including its 0x2B920 quirk).
bool is_bert_chinese(uint32_t cp);

}  // namespace tf::unicode
