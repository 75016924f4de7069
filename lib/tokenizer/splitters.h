// Hand-written equivalents of the most used pre-tokenizer regexes (GPT-2's
// and the LLaMA-3 / Qwen2 family's). They produce exactly the matches PCRE2
// produces for the same pattern when every character is covered by a match
// (true of these patterns up to single white-space gaps, which only the
// Isolated behaviour sees, and there they are the same piece), so they are
// used for Isolated splitting only. tests/tokenizer/splitter_test.cpp
// compares them with PCRE2 on random text.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tf::tok {

// Appends [begin, end) byte ranges of the matches in `text` (valid UTF-8).
using FastSplitter = void (*)(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out);

// The splitter for `pattern`, or nullptr when it has none.
FastSplitter find_fast_splitter(const std::string& pattern);

// For tests: the same splitting through PCRE2 / through the fast path.
class Regex;
void regex_find_all_reference(const Regex& re, std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out);
void regex_find_all(const Regex& re, std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out);

}  // namespace tf::tok
