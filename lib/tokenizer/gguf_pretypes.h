// llama.cpp's BPE pre-tokenizer variants (GGUF tokenizer.ggml.pre): for each
// name, the regexes applied one after another (each splits the pieces the
// previous one produced, keeping unmatched text as pieces) and the flags
// llama.cpp sets with them. Data, not code: a new variant is one entry.
#pragma once
#include <string_view>
#include <vector>

namespace tf::tok {

struct PreType {
  std::vector<std::string_view> names;
  std::vector<std::string_view> regexes;
  bool ignore_merges = false;
  bool add_bos = false;  // llama.cpp's default when the GGUF has no add_bos_token
  bool add_sep = false;
};

// nullptr for a name llama.cpp does not know.
const PreType* find_pre_type(std::string_view name);
const std::vector<PreType>& all_pre_types();

}  // namespace tf::tok
