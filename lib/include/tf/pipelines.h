// NLP task pipelines on encoder models, with the pre- and post-processing of
// Hugging Face transformers' pipelines of the same names: feature extraction
// (embed), fill-mask, text classification, token classification (NER / POS),
// extractive question answering and NLI-based zero-shot classification.
//
// Every function takes many inputs and returns one result per input, in
// order; the encoder sees them `batch_size` sequences at a time (packed, see
// tf/encoder.h). Character offsets (start / end) count Unicode code points
// of the input, as Python string indices do.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tf/encoder.h"
#include "tf/tokenizer.h"

namespace tf::pipelines {

// An encoder and the tokenizer of the same folder or GGUF file.
struct TextModel {
  std::unique_ptr<Encoder> encoder;
  std::optional<Tokenizer> tokenizer;
  size_t batch_size = 32;  // sequences per forward pass

  static TextModel load(const std::string& path, LoadMode mode = kDefaultModelLoadMode);
  const Tokenizer& tok() const;
  // Longest sequence the model takes (its position table; 512 without one).
  size_t max_tokens() const;
};

// ---------------------------------------------------------------- embed

enum class Pooling { Mean, Cls, None };
Pooling pooling_from_name(std::string_view name);  // "mean" | "cls" | "none"; tf::Error otherwise

struct Embedding {
  int64_t dim = 0;
  size_t n_tokens = 0;
  std::vector<float> values;  // [dim] pooled, or [n_tokens, dim] for Pooling::None
};
// Texts longer than the model are truncated (the closing special token kept).
std::vector<Embedding> embed(const TextModel& m, const std::vector<std::string>& texts, Pooling pooling,
                             bool normalize);

// ---------------------------------------------------------------- fill-mask

struct MaskCandidate {
  TokenId token = -1;
  std::string token_str;  // the decoded token
  float score = 0;        // softmax over the vocabulary at the mask
  std::string sequence;   // the input with this token in place of the mask
};
struct MaskPrediction {
  size_t position = 0;  // token index of the mask
  std::vector<MaskCandidate> candidates;  // best first
};
// One list per input, one entry per mask token in it (at least one).
std::vector<std::vector<MaskPrediction>> fill_mask(const TextModel& m, const std::vector<std::string>& texts,
                                                   size_t top_k);

// ---------------------------------------------------------------- classify

struct LabelScore {
  std::string label;
  float score = 0;
};
enum class ScoreFunction { Auto, Softmax, Sigmoid, None };
// Auto: sigmoid when the config's problem_type is multi_label_classification
// or there is one label, softmax otherwise (transformers' rule).
ScoreFunction score_function_from_name(std::string_view name);  // auto | softmax | sigmoid | none
std::string label_name(const hf::Config& c, int64_t id);        // id2label, or LABEL_<id>

struct TextInput {
  std::string text;
  std::optional<std::string> text_pair;
};
// Labels best first, the top_k of them (0: all).
std::vector<std::vector<LabelScore>> classify(const TextModel& m, const std::vector<TextInput>& inputs, size_t top_k,
                                              ScoreFunction fn = ScoreFunction::Auto);

// ---------------------------------------------------------------- token-classify

enum class Aggregation { None, Simple, First, Average, Max };
Aggregation aggregation_from_name(std::string_view name);  // none | simple | first | average | max

struct Entity {
  std::string entity;  // the label (Aggregation::None) or the entity group
  float score = 0;
  int64_t index = -1;  // token index (Aggregation::None only)
  std::string word;
  size_t start = 0, end = 0;  // characters of the input
};
std::vector<std::vector<Entity>> token_classify(const TextModel& m, const std::vector<std::string>& texts,
                                                Aggregation aggregation,
                                                const std::vector<std::string>& ignore_labels = {"O"});

// ---------------------------------------------------------------- question answering

struct QaInput {
  std::string question, context;
};
struct QaOptions {
  size_t top_k = 1;
  size_t max_seq_len = 384;    // tokens per window (capped by the model)
  size_t doc_stride = 128;     // tokens shared by consecutive windows of a long context
  size_t max_answer_len = 15;  // tokens
  bool handle_impossible_answer = false;
};
struct Answer {
  float score = 0;
  size_t start = 0, end = 0;  // characters of the context
  std::string answer;
};
std::vector<std::vector<Answer>> answer_questions(const TextModel& m, const std::vector<QaInput>& inputs,
                                                  const QaOptions& options);

// ---------------------------------------------------------------- zero-shot

struct ZeroShotInput {
  std::string text;
  std::vector<std::string> labels;
};
struct ZeroShotResult {
  std::vector<std::string> labels;  // best first
  std::vector<float> scores;
};
// hypothesis_template holds "{}" where the label goes. The entailment class is
// the id2label entry starting with "entail" (any case); the last class if none.
std::vector<ZeroShotResult> zero_shot(const TextModel& m, const std::vector<ZeroShotInput>& inputs,
                                      const std::string& hypothesis_template, bool multi_label);
int64_t entailment_id(const hf::Config& c);

// Code points in text[0, byte): the Python index of a byte offset.
size_t char_index(std::string_view text, size_t byte);

}  // namespace tf::pipelines
