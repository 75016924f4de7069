// Tokenizer metadata (tokenizer.ggml.*) for a GGUF made from a Hugging Face
// folder, following llama.cpp's converter: the SentencePiece path
// (tokenizer.model), the BPE path (tokenizer.json, GPT-2 style) and the
// WordPiece path (BERT, with llama.cpp's phantom-space spelling).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tf::gguf {
class Writer;
}

namespace tf::convert {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct GgufVocab {
  std::string model;  // "llama", "gpt2", "bert"
  std::string pre;    // tokenizer.ggml.pre
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty on the BPE / WordPiece paths
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  // In the order llama.cpp writes them (first set, first written).
  std::vector<std::pair<std::string, uint32_t>> special_ids;  // "bos" -> id
  std::vector<std::pair<std::string, bool>> add_flags;        // "bos" -> add_bos_token
  std::string chat_template;
};

// tokenizer.model through the sentencepiece library; n_vocab pads with
// "[PAD{i}]" entries (score -10000, UNUSED) as llama.cpp does.
GgufVocab sentencepiece_vocab(const std::string& dir, uint32_t n_vocab);
// tokenizer.json's model.vocab + added_tokens (BPE or WordPiece).
GgufVocab hf_token_list(const std::string& dir, uint32_t n_vocab, const std::string& model);
// Adds merges (when asked), special token ids, add_*_token flags and the chat
// template from tokenizer.json / tokenizer_config.json / config.json.
void add_special_vocab(const std::string& dir, bool load_merges, GgufVocab& vocab);
// llama.cpp's tokenizer.ggml.pre name for a tokenizer.json, judged from its
// normalizer and pre-tokenizer (llama.cpp hashes a probe encoding instead;
// both give the same names for the tokenizers both know, and this one does
// not refuse a custom vocabulary with a familiar pre-tokenizer).
std::string detect_pre_tokenizer(const std::string& dir);

// Writes the tokenizer.ggml.* keys (and tokenizer.chat_template) in llama.cpp's order.
void write_vocab(gguf::Writer& w, const GgufVocab& vocab);

}  // namespace tf::convert
