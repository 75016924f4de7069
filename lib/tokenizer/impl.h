// The parts a Tokenizer is assembled from. Both loaders (GGUF metadata and
// tokenizer.json) translate their source into these, so every algorithm runs
// the same code whichever file it came from; where llama.cpp and Hugging Face
// behave differently the difference is a field here, set by the loader.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tf/tokenizer.h"
#include "tokenizer/models.h"
#include "tokenizer/string_index.h"

namespace tf::tok {

// llama.cpp's token types (GGUF tokenizer.ggml.token_type).
enum class TokenType : uint8_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Where a run of plain text sits among the added tokens of the input.
struct FragmentContext {
  size_t offset = 0;           // byte offset in the original text
  bool after_special = false;  // the input starts here or an added token precedes it
};

// ---------------------------------------------------------------- normalizers

class Charsmap;  // SentencePiece's precompiled normalization (normalize.cpp)
class Regex;     // PCRE2 (pretokenize.cpp)

struct NormStep {
  enum class Kind {
    Bert,         // clean text, pad CJK, strip accents, lowercase (HF BertNormalizer)
    Lowercase,
    StripAccents,  // remove Mn (after NFD, as HF expects)
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
    Replace,   // literal pattern -> content
    Prepend,   // content + text
    Strip,     // trim white space left/right
    Precompiled,  // SentencePiece charsmap (longest-prefix replacement)
    SpmEscape,  // llama.cpp SPM: optional " " prefix, then " " -> U+2581
    UgmEscape,  // llama.cpp UGM: charsmap, prefix, collapse spaces, " " -> U+2581
  };
  Kind kind = Kind::Lowercase;
  bool clean_text = true, handle_chinese = true, strip_accents = true, lowercase = true;  // Bert
  bool left = true, right = true;        // Strip
  std::string pattern, content;          // Replace, Prepend
  bool add_prefix = true;                // SpmEscape / UgmEscape
  bool escape_whitespace = true;         // UgmEscape
  bool remove_extra_whitespace = false;  // UgmEscape
  bool treat_whitespace_as_suffix = false;
  // UgmEscape: user-defined tokens pass through unnormalized, longest first
  // (SentencePiece matches them inside the text, around the dummy prefix).
  std::vector<std::string> protected_pieces;
  std::shared_ptr<const Charsmap> charsmap;
  std::shared_ptr<const Regex> regex;  // Replace with a {"Regex": …} pattern
};

std::shared_ptr<const Charsmap> make_charsmap(std::string blob, const std::string& name);
std::string normalize(const std::vector<NormStep>& steps, std::string_view text, const FragmentContext& ctx);

// ---------------------------------------------------------------- pre-tokenizers

std::shared_ptr<const Regex> compile_regex(const std::string& pattern, const std::string& name);
// Every match of `re` in `text` replaced by `content` (literal).
std::string regex_replace(const Regex& re, std::string_view text, std::string_view content);

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreStep {
  enum class Kind {
    Split,      // regex or literal; `behavior`, `invert`
    ByteLevel,  // optional " " prefix; GPT-2 regex when use_regex (bytes mapped by the model)
    Metaspace,  // " " -> replacement, prepend per scheme, optional split before it
    Bert,       // split on white space (removed) and punctuation (isolated)
    Whitespace,       // \w+|[^\w\s]+
    WhitespaceSplit,  // split on white space
    Punctuation,
    Digits,
  };
  Kind kind = Kind::Split;
  std::shared_ptr<const Regex> regex;  // Split with a regex, ByteLevel with use_regex
  std::string literal;                 // Split with a plain string
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;       // ByteLevel
  std::string replacement = "\xE2\x96\x81";  // Metaspace
  enum class Prepend { Always, First, Never } prepend = Prepend::Always;
  bool split = true;                   // Metaspace
  bool individual_digits = false;      // Digits
};

// A pre-tokenized fragment: words as [begin, end) ranges of `text`.
struct Words {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;
};
void pre_tokenize(const std::vector<PreStep>& steps, std::string_view text, const FragmentContext& ctx, Words& out);

// ---------------------------------------------------------------- decoders

struct DecodeStep {
  enum class Kind { ByteLevel, Metaspace, WordPiece, Replace, ByteFallback, Fuse, Strip, BpeSuffix, Ctc };
  Kind kind = Kind::Fuse;
  std::string pattern, content;  // Replace; Strip's content; WordPiece prefix; BpeSuffix suffix
  size_t start = 0, stop = 0;    // Strip
  bool cleanup = true;           // WordPiece
  bool prepend_first = true;     // Metaspace: the first token's leading space was added, strip it
};

// ---------------------------------------------------------------- added tokens

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false;
};

// ---------------------------------------------------------------- the whole

}  // namespace tf::tok

namespace tf {

struct Tokenizer::Impl {
  TokenizerAlgorithm algorithm = TokenizerAlgorithm::BytePairEncoding;
  tok::Vocab vocab;
  std::vector<tok::TokenType> types;  // per id
  std::vector<bool> special;          // per id: skipped by decode(skip_special)

  std::vector<tok::AddedToken> added;
  // Indices into `added` by first byte, longest content first (built by finalize()).
  std::vector<int32_t> added_by_first_byte[256];
  bool any_nonspecial_added = false;

  std::vector<tok::NormStep> normalizers;
  std::vector<tok::PreStep> pre_tokenizers;
  std::unique_ptr<tok::Model> model;
  std::vector<tok::DecodeStep> decoders;

  // Post-processing for one sequence (add_special).
  std::vector<TokenId> prefix_ids, suffix_ids;
  // ... and for a pair: the template's items in order. Empty: prefix A suffix
  // B suffix, the second text and its suffix with type id 1.
  struct PairItem {
    int sequence = -1;            // 0: text A, 1: text B, -1: the special ids below
    std::vector<TokenId> ids;
    int32_t type_id = 0;
  };
  std::vector<PairItem> pair_template;
  int32_t single_type_id = 0;

  TokenId bos_id = -1, eos_id = -1, unk_id = -1;
  // The model's merges never join a character to a following U+2581, so the
  // text may be cut before each word's U+2581 and words cached (SpmModel).
  bool segment_at_spaces = false;
  bool sanitize_input = true;  // invalid UTF-8 -> U+FFFD first (not for byte-fallback SPM)
  std::string name;            // for errors

  // Builds the added-token matcher and checks the ids; loaders call it last.
  void finalize();
};

}  // namespace tf
