// Writes a SentencePiece model file (tokenizer.model) from a GGUF vocabulary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tf::convert {

struct SentencePieceVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;  // GGUF token types = SentencePiece piece types (1..6)
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true;
};

// The serialized ModelProto of a byte-fallback BPE model.
std::string encode_sentencepiece_model(const SentencePieceVocab& vocab);

}  // namespace tf::convert
