// The protobuf encoding is written by hand: the file is three small messages
// (ModelProto.pieces, .trainer_spec, .normalizer_spec) of a few scalar
// fields, and a protoc build step plus sentencepiece's .proto for that would
// outweigh these lines. The result is checked by loading it back with the
// sentencepiece library (tests/convert).
#include "convert/sentencepiece_model.h"

#include <cstring>

namespace tf::convert {
namespace {

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void tag(std::string& out, uint32_t field, uint32_t wire) { varint(out, (uint64_t(field) << 3) | wire); }

void bytes_field(std::string& out, uint32_t field, const std::string& value) {
  tag(out, field, 2);
  varint(out, value.size());
  out += value;
}

void int_field(std::string& out, uint32_t field, int64_t value) {
  tag(out, field, 0);
  varint(out, uint64_t(value));  // negative int32 values take 10 bytes, as protobuf encodes them
}

void float_field(std::string& out, uint32_t field, float value) {
  tag(out, field, 5);
  char b[4];
  std::memcpy(b, &value, 4);
  out.append(b, 4);
}

}  // namespace

std::string encode_sentencepiece_model(const SentencePieceVocab& v) {
  std::string model;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    std::string piece;  // SentencePiece { piece = 1; score = 2; type = 3; }
    bytes_field(piece, 1, v.pieces[i]);
    float_field(piece, 2, v.scores[i]);
    if (v.types[i] != 1) int_field(piece, 3, v.types[i]);
    bytes_field(model, 1, piece);
  }
  std::string trainer;  // TrainerSpec
  int_field(trainer, 3, 2);                         // model_type = BPE
  int_field(trainer, 4, int64_t(v.pieces.size()));  // vocab_size
  int_field(trainer, 25, 1);                        // split_digits
  int_field(trainer, 26, 1);                        // allow_whitespace_only_pieces
  int_field(trainer, 35, 1);                        // byte_fallback
  int_field(trainer, 40, v.unk_id);
  int_field(trainer, 41, v.bos_id);
  int_field(trainer, 42, v.eos_id);
  int_field(trainer, 43, v.pad_id);
  bytes_field(model, 2, trainer);
  std::string normalizer;  // NormalizerSpec
  bytes_field(normalizer, 1, "identity");
  int_field(normalizer, 3, v.add_dummy_prefix ? 1 : 0);  // add_dummy_prefix
  int_field(normalizer, 4, 0);                           // remove_extra_whitespaces
  bytes_field(model, 3, normalizer);
  return model;
}

}  // namespace tf::convert
