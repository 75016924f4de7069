// generate / forward / perplexity: causal language models (docs/tf-run.md).
#include <chrono>
#include <memory>
#include <optional>
#include <span>

#include "common/tool.h"
#include "tf-run/commands.h"
#include "tf-run/common.h"
#include "tf/atomic_file.h"
#include "tf/encoder.h"
#include "tf/generate.h"
#include "tf/gguf.h"
#include "tf/model.h"
#include "tf/safetensors.h"
#include "tf/thread_pool.h"

namespace tf::run {
namespace {

struct ModelFlags {
  std::string model;
  int threads = 0;
  int64_t ctx = 0, batch = 512;
  std::string cache_type = "f16", cache_type_k, cache_type_v;
  LoadMode load_mode = kDefaultModelLoadMode;

  void add(CLI::App* cmd) {
    cmd->add_option("-m,--model", model, "GGUF file or Hugging Face folder ('-': last model record on stdin)")
        ->required();
    cmd->add_option("-t,--threads", threads, "threads (0: all cores)");
    cmd->add_option("-c,--ctx-size", ctx, "context size (0: the model's, at most 4096)");
    cmd->add_option("-b,--batch-size", batch, "tokens per forward pass while reading a prompt")->capture_default_str();
    cmd->add_option("--cache-type", cache_type, "KV cache type: f16 | f32")
        ->check(CLI::IsMember({"f16", "f32"}))
        ->capture_default_str();
    const std::vector<std::string> kv_types{"f16", "f32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"};
    cmd->add_option("--cache-type-k", cache_type_k, "K cache type (llama.cpp's -ctk): f16 | f32 | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | iq4_nl (default: --cache-type)")
        ->check(CLI::IsMember(kv_types));
    cmd->add_option("--cache-type-v", cache_type_v, "V cache type (llama.cpp's -ctv), as --cache-type-k")
        ->check(CLI::IsMember(kv_types));
    tool::add_load_mode_flags(cmd, load_mode);
  }
  SessionOptions session() const {
    SessionOptions s;
    s.n_ctx = ctx;
    s.n_batch = batch;
    s.kv_type = cache_type == "f32" ? DType::F32 : DType::F16;
    if (!cache_type_k.empty()) s.k_type = *dtype_from_name(cache_type_k);
    if (!cache_type_v.empty()) s.v_type = *dtype_from_name(cache_type_v);
    return s;
  }
};

struct Loaded {
  std::unique_ptr<CausalLM> lm;
  std::optional<Tokenizer> tokenizer;
  double load_ms = 0;
};

json timings_json(double load_ms, const GenerationTimings& t) {
  return {{"load_ms", load_ms},
          {"prompt_ms", t.prompt_ms},
          {"gen_ms", t.gen_ms},
          {"prompt_tok_per_s", t.prompt_tok_per_s},
          {"gen_tok_per_s", t.gen_tok_per_s}};
}

Loaded load(const ModelFlags& f, bool need_tokenizer) {
  set_default_threads(f.threads);
  auto t0 = std::chrono::steady_clock::now();
  Loaded l;
  l.lm = CausalLM::load(model_path(f.model), f.load_mode);
  if (need_tokenizer) l.tokenizer = l.lm->gguf() ? Tokenizer::from_gguf(*l.lm->gguf()) : Tokenizer::load(l.lm->path());
  l.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return l;
}

}  // namespace

void add_generate(CLI::App& app) {
  struct Options {
    ModelFlags model;
    std::string prompt, file, ids, jsonl;
    GenerateOptions gen;
    bool parse_special = false, no_bos = false;
    BeamOptions beam;
    std::string early_stopping = "false";
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("generate", "text generation: streams {\"type\":\"token\"} records, ends with "
                                                 "{\"type\":\"generation\"}");
  o->model.add(cmd);
  auto* input = cmd->add_option_group("input", "exactly one of -p, -f, --ids, --jsonl-in");
  input->add_option("-p,--prompt", o->prompt, "prompt text");
  input->add_option("-f,--file", o->file, "prompt file ('-' = stdin)");
  input->add_option("--ids", o->ids, "prompt as token ids: 1,2,3 (used as given, no BOS added)");
  input->add_option("--jsonl-in", o->jsonl, "one {\"text\":…} or {\"ids\":[…]} per line ('-' = stdin)");
  input->require_option(1);
  SamplerOptions& s = o->gen.sampling;
  cmd->add_option("-n,--n-predict", o->gen.n_predict, "tokens to generate (-1: until EOS or a full context)")
      ->capture_default_str();
  cmd->add_option("--temp", s.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "min-p (0: off)")->capture_default_str();
  cmd->add_option("--typical", s.typical_p, "typical-p (1: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "tokens the penalties look back at")->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty")->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "presence penalty")->capture_default_str();
  cmd->add_option("--seed", s.seed, "sampling seed")->capture_default_str();
  cmd->add_option("--stop", o->gen.stop, "stop string (repeatable); not included in the output");
  cmd->add_flag("--ignore-eos", o->gen.ignore_eos, "keep generating after an end-of-sequence token");
  cmd->add_flag("--parse-special", o->parse_special, "recognise special tokens written in the prompt");
  cmd->add_flag("--no-bos", o->no_bos, "do not add the model's BOS token to text prompts");
  o->beam.num_beams = 0;
  cmd->add_option("--beams", o->beam.num_beams, "beam search with N beams (transformers' num_beams; 0: off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--length-penalty", o->beam.length_penalty, "beam scores are divided by length ** this")
      ->capture_default_str();
  cmd->add_flag("--early-stopping{true}", o->early_stopping,
                "beam search stops once N beams are finished (=never: only when none can improve)")
      ->check(CLI::IsMember({"true", "false", "never"}));
  cmd->add_option("--num-return-sequences", o->beam.num_return_sequences, "beams to return (at most --beams)")
      ->capture_default_str();
  cmd->callback([o] {
    if (o->beam.num_beams > 0 && !o->gen.stop.empty()) throw CLI::ValidationError("--stop does not combine with --beams");
    Loaded l = load(o->model, true);
    if (o->beam.num_beams > 0) {
      o->beam.max_new_tokens = o->gen.n_predict;
      o->beam.early_stopping = o->early_stopping == "true"    ? EarlyStopping::Immediate
                               : o->early_stopping == "never" ? EarlyStopping::Never
                                                              : EarlyStopping::Heuristic;
      if (!o->gen.ignore_eos) o->beam.eos = eos_ids(*l.lm, &*l.tokenizer);
    }
    // beam search brings its own sessions
    std::optional<Session> session;
    if (o->beam.num_beams == 0) session.emplace(*l.lm, o->model.session());
    auto run_beams = [&](const std::vector<int32_t>& prompt, const json* extra) {
      BeamGeneration g = generate_beams(*l.lm, o->model.session(), prompt, o->beam);
      auto text_of = [&](const Beam& b) {
        return l.tokenizer->decode(std::span<const int32_t>(b.ids.data(), b.ids.size() - (b.eos ? 1 : 0)));
      };
      for (size_t i = 0; i < g.beams.size(); ++i) {
        json rec = {{"type", "beam"}, {"rank", i}, {"ids", g.beams[i].ids}, {"text", text_of(g.beams[i])},
                    {"score", g.beams[i].score}};
        if (extra) rec["line"] = *extra;
        io::emit(rec);
      }
      const Beam& best = g.beams.at(0);
      std::vector<int32_t> ids(best.ids.begin(), best.ids.end() - (best.eos ? 1 : 0));
      json rec = {{"type", "generation"},
                  {"prompt_tokens", g.prompt_tokens},
                  {"n_tokens", ids.size()},
                  {"ids", ids},
                  {"text", text_of(best)},
                  {"stop_reason", best.eos ? "eos" : "length"},
                  {"beams", o->beam.num_beams},
                  {"score", best.score},
                  {"timings", timings_json(l.load_ms, g.timings)}};
      if (extra) rec["line"] = *extra;
      io::emit(rec);
    };
    auto run_one = [&](const std::vector<int32_t>& prompt, const json* extra) {
      if (!session) return run_beams(prompt, extra);
      session->reset();
      Generation g = generate(*session, &*l.tokenizer, prompt, o->gen, [&](int32_t id, const std::string& text) {
        io::emit({{"type", "token"}, {"id", id}, {"text", text}});
      });
      json rec = {{"type", "generation"},
                  {"prompt_tokens", g.prompt_tokens},
                  {"n_tokens", g.ids.size()},
                  {"ids", g.ids},
                  {"text", g.text},
                  {"stop_reason", g.stop_reason},
                  {"timings", timings_json(l.load_ms, g.timings)}};
      if (extra) rec["line"] = *extra;
      io::emit(rec);
    };
    EncodeOptions enc{!o->no_bos, o->parse_special};
    auto text_prompt = [&](const std::string& text) {
      std::vector<int32_t> ids = l.tokenizer->encode(text, enc);
      // generation continues the text: no end-of-sequence token after it
      if (!ids.empty() && ids.back() == l.tokenizer->eos() && ids.size() > 1 && !text.empty()) ids.pop_back();
      return ids;
    };
    if (!o->jsonl.empty()) {
      for_each_jsonl(o->jsonl, [&](const json& j, size_t line_no) {
        json line = line_no;
        if (j.contains("ids") && j["ids"].is_array()) {
          std::vector<int32_t> ids;
          for (const auto& v : j["ids"]) {
            if (!v.is_number_integer() || v.get<int64_t>() < 0) fail(o->jsonl, ":", line_no, ": ids must be token ids");
            ids.push_back(int32_t(v.get<int64_t>()));
          }
          run_one(ids, &line);
        } else if (j.contains("text") && j["text"].is_string()) {
          run_one(text_prompt(j["text"].get<std::string>()), &line);
        } else {
          fail(o->jsonl, ":", line_no, ": expected {\"text\":…} or {\"ids\":[…]}");
        }
      });
      return;
    }
    if (!o->ids.empty()) return run_one(parse_ids(o->ids), nullptr);
    run_one(text_prompt(o->file.empty() ? o->prompt : read_all(o->file)), nullptr);
  });
}

void add_forward(CLI::App& app) {
  struct Options {
    ModelFlags model;
    std::string ids, prompt, out;
    bool hidden_states = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("forward", "one forward pass; writes logits / last_hidden_state / hidden_states "
                                                "(float32) to a safetensors file");
  o->model.add(cmd);
  auto* input = cmd->add_option_group("input", "exactly one of --ids, -p");
  input->add_option("--ids", o->ids, "token ids: 1,2,3");
  input->add_option("-p,--prompt", o->prompt, "text (tokenized with the model's special tokens)");
  input->require_option(1);
  cmd->add_option("-o,--output", o->out, "output .safetensors file")->required();
  cmd->add_flag("--hidden-states", o->hidden_states, "also write hidden_states [n_layers+1, n_tokens, hidden]");
  cmd->callback([o] {
    o->model.model = model_path(o->model.model);  // resolve '-' once
    if (is_encoder_model(o->model.model))
      return forward_encoder({o->model.model, o->model.threads, o->model.load_mode, o->ids, o->prompt, o->out,
                              o->hidden_states});
    Loaded l = load(o->model, !o->prompt.empty());
    std::vector<int32_t> ids = o->ids.empty() ? l.tokenizer->encode(o->prompt) : parse_ids(o->ids);
    SessionOptions so = o->model.session();
    so.kv_type = DType::F32;  // one pass: the cache is scratch, keep it exact
    if (so.n_ctx < int64_t(ids.size())) so.n_ctx = std::max<int64_t>(so.n_ctx, int64_t(ids.size()));
    Session session(*l.lm, so);
    ForwardOutputs out;
    out.want_all_logits = out.want_last_hidden = true;
    out.want_hidden_states = o->hidden_states;
    session.eval(ids, &out);
    int64_t n = int64_t(ids.size()), d = l.lm->hidden_size();
    safetensors::Writer w;
    w.set_metadata("format", "pt");
    auto add = [&](const std::string& key, Shape shape, const std::vector<float>& data) {
      w.add(key, DType::F32, std::move(shape), [&data](AtomicFile& f) { f.write(data.data(), data.size() * 4); });
    };
    add("logits", {n, l.lm->vocab_size()}, out.logits);
    add("last_hidden_state", {n, d}, out.last_hidden);
    if (o->hidden_states) add("hidden_states", {l.lm->n_layers() + 1, n, d}, out.hidden_states);
    auto result = w.write(o->out);
    json keys = o->hidden_states ? json{"hidden_states", "last_hidden_state", "logits"} : json{"last_hidden_state", "logits"};
    io::emit({{"type", "forward"}, {"path", o->out}, {"n_tokens", n}, {"keys", keys}, {"bytes", result.bytes},
              {"sha256", result.sha256}});
  });
}

void add_perplexity(CLI::App& app) {
  struct Options {
    ModelFlags model;
    std::string file;
  };
  auto o = std::make_shared<Options>();
  o->model.ctx = 256;
  CLI::App* cmd = app.add_subcommand("perplexity", "perplexity of a text in non-overlapping windows of -c tokens");
  o->model.add(cmd);
  cmd->add_option("-f,--file", o->file, "text file ('-' = stdin)")->required();
  cmd->callback([o] {
    Loaded l = load(o->model, true);
    const Tokenizer& t = *l.tokenizer;
    std::vector<int32_t> tokens = t.encode(read_all(o->file), EncodeOptions{false, false});
    // a model whose tokenizer adds BOS is scored with BOS opening each window
    std::vector<int32_t> probe = t.encode("a", EncodeOptions{true, false});
    int32_t bos = !probe.empty() && t.bos() >= 0 && probe.front() == t.bos() ? t.bos() : -1;
    auto t0 = std::chrono::steady_clock::now();
    PerplexityResult r = perplexity(*l.lm, tokens, o->model.ctx, bos, o->model.session());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    io::emit({{"type", "perplexity"}, {"ppl", r.ppl}, {"nll", r.nll}, {"n_tokens", r.n_tokens},
              {"n_windows", r.n_windows}, {"n_ctx", o->model.ctx}, {"bos", bos >= 0},
              {"tok_per_s", ms > 0 ? double(r.n_tokens) * 1000.0 / ms : 0.0}});
  });
}

}  // namespace tf::run
