#include "pipelines/batching.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::pipelines {

TextModel TextModel::load(const std::string& path, LoadMode mode) {
  TextModel m;
  m.encoder = Encoder::load(path, mode);
  m.tokenizer = m.encoder->gguf() ? Tokenizer::from_gguf(*m.encoder->gguf()) : Tokenizer::load(path);
  return m;
}

const Tokenizer& TextModel::tok() const {
  if (!tokenizer) fail(encoder->path(), ": no tokenizer");
  return *tokenizer;
}

size_t TextModel::max_tokens() const {
  int64_t n = encoder->max_tokens();
  return n > 0 ? size_t(n) : 512;
}

size_t char_index(std::string_view text, size_t byte) {
  size_t n = 0;
  for (size_t i = 0; i < std::min(byte, text.size()); ++i) n += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
  return n;
}

std::string label_name(const hf::Config& c, int64_t id) {
  auto it = c.id2label.find(id);
  return it != c.id2label.end() ? it->second : "LABEL_" + std::to_string(id);
}

namespace detail {

EncoderSequence to_sequence(const Encoding& e, const hf::Config& c) {
  EncoderSequence s;
  s.ids = e.ids;
  if (c.type_vocab_size > 1) s.token_types = e.type_ids;
  return s;
}

Encoding truncate(const Tokenizer& tok, const Encoding& raw, size_t max_tokens) {
  size_t added = tok.num_added_tokens(false);
  if (raw.size() + added <= max_tokens) return tok.post_process(raw, nullptr);
  if (max_tokens <= added) fail("the model takes ", max_tokens, " tokens, no room for text");
  Encoding cut;
  for (size_t i = 0; i < max_tokens - added; ++i)
    cut.append(raw.ids[i], raw.type_ids[i], raw.sequence_ids[i], raw.word_ids[i], raw.offsets[i]);
  return tok.post_process(cut, nullptr);
}

}  // namespace detail
}  // namespace tf::pipelines
