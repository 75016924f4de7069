// The `general.name` and `general.size_label` values llama.cpp's converter
// derives, so that converted files carry the same metadata.
#pragma once
#include <cstdint>
#include <string>

namespace tf::convert {

// Title-cases a model id the way llama.cpp's gguf-py does (id_to_title):
// '-' becomes a space; each all-lowercase word that is not a version ("v1.2")
// and does not start with a digit gets Python's str.title() ("gpt2" -> "Gpt2",
// "parity_llama_tok" -> "Parity_Llama_Tok"). ASCII letters only; other bytes
// are kept as they are and count as uncased.
std::string id_to_title(const std::string& id);

// "11M", "202K", "1.1B": parameter count with two significant digits at least
// (gguf-py utility.size_label for a model without experts).
std::string size_label(uint64_t params);

}  // namespace tf::convert
