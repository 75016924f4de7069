// embed / fill-mask / classify / token-classify / qa / zero-shot: encoder
// pipelines (docs/tf-run.md, "Pipelines"), and `forward` for encoders.
#include <chrono>
#include <memory>

#include "common/tool.h"
#include "tf-run/commands.h"
#include "tf-run/common.h"
#include "tf/atomic_file.h"
#include "tf/pipelines.h"
#include "tf/safetensors.h"
#include "tf/thread_pool.h"

namespace tf::run {
namespace {

using pipelines::TextModel;

// Flags every pipeline has; inputs come from the subcommand's own flags or
// from --jsonl-in, one record per line.
struct PipelineFlags {
  std::string model, jsonl;
  int threads = 0;
  size_t batch = 32;
  LoadMode load_mode = kDefaultModelLoadMode;

  void add(CLI::App* cmd) {
    cmd->add_option("-m,--model", model, "Hugging Face folder or GGUF file ('-': last model record on stdin)")
        ->required();
    cmd->add_option("-t,--threads", threads, "threads (0: all cores)");
    cmd->add_option("-b,--batch-size", batch, "sequences per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--jsonl-in", jsonl, "many inputs, one JSON object per line ('-' = stdin)");
    tool::add_load_mode_flags(cmd, load_mode);
  }
  TextModel load() const {
    set_default_threads(threads);
    TextModel m = TextModel::load(model_path(model), load_mode);
    m.batch_size = batch;
    return m;
  }
};

std::string field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) fail(where, ": expected a string field \"", key, "\"");
  return j[key].get<std::string>();
}

// Reads the inputs (one from flags, or every --jsonl-in line), then hands them
// to `run` in chunks of a few batches so records stream out in input order.
template <class Input, class Parse, class Run>
void for_inputs(const PipelineFlags& f, std::optional<Input> single, Parse parse, Run run) {
  if (f.jsonl.empty()) {
    if (!single) throw CLI::ValidationError("give the input with its flags or --jsonl-in FILE");
    run(std::vector<Input>{*single}, std::vector<json>{nullptr});
    return;
  }
  if (single) throw CLI::ValidationError("--jsonl-in does not combine with an input given by flags");
  std::vector<Input> chunk;
  std::vector<json> lines;
  const size_t chunk_size = std::max<size_t>(f.batch * 4, 64);
  for_each_jsonl(f.jsonl, [&](const json& j, size_t line_no) {
    chunk.push_back(parse(j, f.jsonl + ":" + std::to_string(line_no)));
    lines.push_back(line_no);
    if (chunk.size() == chunk_size) {
      run(chunk, lines);
      chunk.clear();
      lines.clear();
    }
  });
  if (!chunk.empty()) run(chunk, lines);
}

void emit_with_line(json rec, const json& line) {
  if (!line.is_null()) rec["line"] = line;
  io::emit(rec);
}

void add_embed(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string text, pooling;
    bool normalize = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("embed", "sentence embeddings: {\"type\":\"embedding\",\"dim\":…,\"vector\":[…]}");
  o->f.add(cmd);
  cmd->add_option("-p,--text", o->text, "the text");
  cmd->add_option("--pooling", o->pooling, "mean | cls | none (default: the model's, else mean)")
      ->check(CLI::IsMember({"mean", "cls", "none"}));
  cmd->add_flag("--normalize", o->normalize, "L2-normalise the vector");
  cmd->callback([o] {
    TextModel m = o->f.load();
    std::string name = !o->pooling.empty() ? o->pooling : !m.encoder->default_pooling().empty() ? m.encoder->default_pooling() : "mean";
    pipelines::Pooling pooling = pipelines::pooling_from_name(name);
    std::optional<std::string> single;
    if (!o->text.empty()) single = o->text;
    for_inputs<std::string>(o->f, single, [](const json& j, const std::string& w) { return field(j, "text", w); },
                            [&](const std::vector<std::string>& texts, const std::vector<json>& lines) {
                              auto out = pipelines::embed(m, texts, pooling, o->normalize);
                              for (size_t i = 0; i < out.size(); ++i) {
                                json rec = {{"type", "embedding"}, {"dim", out[i].dim}, {"n_tokens", out[i].n_tokens},
                                            {"pooling", name}};
                                if (pooling == pipelines::Pooling::None) {
                                  json rows = json::array();
                                  for (size_t t = 0; t < out[i].n_tokens; ++t)
                                    rows.push_back(std::vector<float>(out[i].values.begin() + ptrdiff_t(t * size_t(out[i].dim)),
                                                                      out[i].values.begin() + ptrdiff_t((t + 1) * size_t(out[i].dim))));
                                  rec["vectors"] = std::move(rows);
                                } else {
                                  rec["vector"] = out[i].values;
                                }
                                emit_with_line(std::move(rec), lines[i]);
                              }
                            });
  });
}

void add_fill_mask(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string text;
    size_t top_k = 5;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("fill-mask", "top-k tokens for each mask token of the text");
  o->f.add(cmd);
  cmd->add_option("-p,--text", o->text, "text with the model's mask token ([MASK] / <mask>)");
  cmd->add_option("--top-k", o->top_k, "candidates per mask")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([o] {
    TextModel m = o->f.load();
    std::optional<std::string> single;
    if (!o->text.empty()) single = o->text;
    for_inputs<std::string>(o->f, single, [](const json& j, const std::string& w) { return field(j, "text", w); },
                            [&](const std::vector<std::string>& texts, const std::vector<json>& lines) {
                              auto out = pipelines::fill_mask(m, texts, o->top_k);
                              for (size_t i = 0; i < out.size(); ++i) {
                                json masks = json::array();
                                for (const auto& p : out[i]) {
                                  json cands = json::array();
                                  for (const auto& c : p.candidates)
                                    cands.push_back({{"token_id", c.token}, {"token_str", c.token_str}, {"score", c.score},
                                                     {"sequence", c.sequence}});
                                  masks.push_back({{"position", p.position}, {"candidates", std::move(cands)}});
                                }
                                emit_with_line({{"type", "fill_mask"}, {"masks", std::move(masks)}}, lines[i]);
                              }
                            });
  });
}

void add_classify(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string text, pair, function = "auto";
    size_t top_k = 1;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("classify", "sequence classification with the model's labels (id2label)");
  o->f.add(cmd);
  cmd->add_option("-p,--text", o->text, "the text");
  cmd->add_option("--text-pair", o->pair, "a second text (sentence-pair models)");
  cmd->add_option("--top-k", o->top_k, "labels to report, best first (0: all)")->capture_default_str();
  cmd->add_option("--function", o->function, "auto | softmax | sigmoid | none (auto: the config's problem_type)")
      ->capture_default_str();
  cmd->callback([o] {
    TextModel m = o->f.load();
    auto fn = pipelines::score_function_from_name(o->function);
    std::optional<pipelines::TextInput> single;
    if (!o->text.empty()) single = pipelines::TextInput{o->text, o->pair.empty() ? std::nullopt : std::optional(o->pair)};
    auto parse = [](const json& j, const std::string& w) {
      pipelines::TextInput in{field(j, "text", w), std::nullopt};
      if (j.contains("text_pair")) in.text_pair = field(j, "text_pair", w);
      return in;
    };
    for_inputs<pipelines::TextInput>(o->f, single, parse, [&](const auto& inputs, const std::vector<json>& lines) {
      auto out = pipelines::classify(m, inputs, o->top_k, fn);
      for (size_t i = 0; i < out.size(); ++i) {
        json labels = json::array();
        for (const auto& l : out[i]) labels.push_back({{"label", l.label}, {"score", l.score}});
        emit_with_line({{"type", "classification"}, {"labels", std::move(labels)}}, lines[i]);
      }
    });
  });
}

void add_token_classify(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string text, aggregation = "none";
    std::vector<std::string> ignore = {"O"};
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("token-classify", "NER / POS: entities with character offsets");
  o->f.add(cmd);
  cmd->add_option("-p,--text", o->text, "the text");
  cmd->add_option("--aggregation", o->aggregation, "none | simple | first | average | max")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "simple", "first", "average", "max"}));
  cmd->add_option("--ignore-labels", o->ignore, "labels left out of the output")->capture_default_str();
  cmd->callback([o] {
    TextModel m = o->f.load();
    auto agg = pipelines::aggregation_from_name(o->aggregation);
    std::optional<std::string> single;
    if (!o->text.empty()) single = o->text;
    for_inputs<std::string>(o->f, single, [](const json& j, const std::string& w) { return field(j, "text", w); },
                            [&](const std::vector<std::string>& texts, const std::vector<json>& lines) {
                              auto out = pipelines::token_classify(m, texts, agg, o->ignore);
                              for (size_t i = 0; i < out.size(); ++i) {
                                json ents = json::array();
                                for (const auto& e : out[i]) {
                                  json r = {{agg == pipelines::Aggregation::None ? "entity" : "entity_group", e.entity},
                                            {"score", e.score}, {"word", e.word}, {"start", e.start}, {"end", e.end}};
                                  if (agg == pipelines::Aggregation::None) r["index"] = e.index;
                                  ents.push_back(std::move(r));
                                }
                                emit_with_line({{"type", "entities"}, {"entities", std::move(ents)}}, lines[i]);
                              }
                            });
  });
}

void add_qa(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string question, context;
    pipelines::QaOptions qa;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("qa", "extractive question answering over a context");
  o->f.add(cmd);
  cmd->add_option("-q,--question", o->question, "the question");
  cmd->add_option("--context", o->context, "the text holding the answer");
  cmd->add_option("--top-k", o->qa.top_k, "answers, best first")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--doc-stride", o->qa.doc_stride, "tokens shared by consecutive windows of a long context")
      ->capture_default_str();
  cmd->add_option("--max-seq-len", o->qa.max_seq_len, "tokens per window")->capture_default_str();
  cmd->add_option("--max-answer-len", o->qa.max_answer_len, "longest answer in tokens")->capture_default_str();
  cmd->add_flag("--handle-impossible-answer", o->qa.handle_impossible_answer, "allow an empty answer");
  cmd->callback([o] {
    TextModel m = o->f.load();
    std::optional<pipelines::QaInput> single;
    if (!o->question.empty() || !o->context.empty()) single = pipelines::QaInput{o->question, o->context};
    auto parse = [](const json& j, const std::string& w) {
      return pipelines::QaInput{field(j, "question", w), field(j, "context", w)};
    };
    for_inputs<pipelines::QaInput>(o->f, single, parse, [&](const auto& inputs, const std::vector<json>& lines) {
      auto out = pipelines::answer_questions(m, inputs, o->qa);
      for (size_t i = 0; i < out.size(); ++i) {
        json answers = json::array();
        for (const auto& a : out[i])
          answers.push_back({{"answer", a.answer}, {"score", a.score}, {"start", a.start}, {"end", a.end}});
        emit_with_line({{"type", "answers"}, {"answers", std::move(answers)}}, lines[i]);
      }
    });
  });
}

void add_zero_shot(CLI::App& app) {
  struct Options {
    PipelineFlags f;
    std::string text, hypothesis = "This example is {}.";
    std::vector<std::string> labels;
    bool multi_label = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("zero-shot", "NLI-based zero-shot classification over candidate labels");
  o->f.add(cmd);
  cmd->add_option("-p,--text", o->text, "the text");
  cmd->add_option("--labels", o->labels, "candidate labels (comma-separated or repeated)")->delimiter(',');
  cmd->add_option("--hypothesis-template", o->hypothesis, "hypothesis with {} for the label")->capture_default_str();
  cmd->add_flag("--multi-label", o->multi_label, "score each label on its own (entailment vs contradiction)");
  cmd->callback([o] {
    TextModel m = o->f.load();
    std::optional<pipelines::ZeroShotInput> single;
    if (!o->text.empty()) single = pipelines::ZeroShotInput{o->text, o->labels};
    auto parse = [o](const json& j, const std::string& w) {
      pipelines::ZeroShotInput in{field(j, "text", w), o->labels};
      if (j.contains("labels")) {
        if (!j["labels"].is_array()) fail(w, ": \"labels\" must be an array of strings");
        in.labels.clear();
        for (const auto& l : j["labels"]) {
          if (!l.is_string()) fail(w, ": \"labels\" must be an array of strings");
          in.labels.push_back(l.get<std::string>());
        }
      }
      return in;
    };
    for_inputs<pipelines::ZeroShotInput>(o->f, single, parse, [&](const auto& inputs, const std::vector<json>& lines) {
      auto out = pipelines::zero_shot(m, inputs, o->hypothesis, o->multi_label);
      for (size_t i = 0; i < out.size(); ++i)
        emit_with_line({{"type", "zero_shot"}, {"sequence", inputs[i].text}, {"labels", out[i].labels},
                        {"scores", out[i].scores}},
                       lines[i]);
    });
  });
}

}  // namespace

void add_pipelines(CLI::App& app) {
  add_embed(app);
  add_fill_mask(app);
  add_classify(app);
  add_token_classify(app);
  add_qa(app);
  add_zero_shot(app);
}

void forward_encoder(const EncoderForwardArgs& a) {
  set_default_threads(a.threads);
  auto enc = Encoder::load(a.model, a.load_mode);
  std::vector<int32_t> ids;
  if (!a.ids.empty()) {
    ids = parse_ids(a.ids);
  } else {
    Tokenizer tok = enc->gguf() ? Tokenizer::from_gguf(*enc->gguf()) : Tokenizer::load(enc->path());
    ids = tok.encode(a.prompt);
  }
  EncoderOutput out = enc->forward({EncoderSequence{ids, {}, {}}}, a.hidden_states);
  int64_t n = int64_t(ids.size()), d = enc->hidden_size();
  std::vector<float> logits;
  if (enc->head() == EncoderHead::MaskedLm) {
    logits.resize(size_t(n * enc->mlm_vocab()));
    enc->mlm_logits(out.last_hidden.data(), size_t(n), logits.data());
  }
  safetensors::Writer w;
  w.set_metadata("format", "pt");
  auto add = [&](const std::string& key, Shape shape, const std::vector<float>& data) {
    w.add(key, DType::F32, std::move(shape), [&data](AtomicFile& f) { f.write(data.data(), data.size() * 4); });
  };
  json keys = json::array();
  if (a.hidden_states) {
    add("hidden_states", {enc->n_layers() + 1, n, d}, out.hidden_states);
    keys.push_back("hidden_states");
  }
  add("last_hidden_state", {n, d}, out.last_hidden);
  keys.push_back("last_hidden_state");
  if (!logits.empty()) {
    add("logits", {n, enc->mlm_vocab()}, logits);
    keys.push_back("logits");
  }
  auto result = w.write(a.out);
  io::emit({{"type", "forward"}, {"path", a.out}, {"n_tokens", n}, {"keys", keys}, {"bytes", result.bytes},
            {"sha256", result.sha256}});
}

}  // namespace tf::run
