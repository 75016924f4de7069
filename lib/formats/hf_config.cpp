#include "tf/hf_config.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "formats/strict_json.h"
#include "tf/error.h"
#include "tf/mapped_file.h"

namespace tf::hf {
namespace {

using nlohmann::json;
using tf::json::brief;
using tf::json::quote;
using tf::json::type_name;

// Fields transformers keeps on every config but that no forward pass reads:
// bookkeeping, training-only knobs (dropout, initialisation, layer drop) and
// generation defaults (generation_config.json owns those). Model-specific
// fields are handled by each parser below, never here.
const std::set<std::string, std::less<>>& ignorable() {
  static const std::set<std::string, std::less<>> keys = {
      // bookkeeping and runtime switches
      "transformers_version", "_name_or_path", "name_or_path", "_commit_hash", "auto_map", "tokenizer_class",
      "finetuning_task", "problem_type", "task_specific_params", "prefix", "_attn_implementation",
      "_attn_implementation_autoset", "attn_implementation", "torchscript", "use_bfloat16", "tf_legacy_loss",
      "return_dict", "output_attentions", "output_hidden_states", "output_past", "use_cache",
      "gradient_checkpointing", "chunk_size_feed_forward", "label2id", "num_labels",
      // training only
      "attention_dropout", "attention_probs_dropout_prob", "hidden_dropout", "hidden_dropout_prob",
      "classifier_dropout", "classifier_dropout_prob", "classif_dropout", "dropout", "dropout_rate",
      "activation_dropout", "attn_pdrop", "embd_pdrop", "resid_pdrop", "summary_first_dropout",
      "summary_last_dropout", "qa_dropout", "seq_classif_dropout", "pooler_dropout", "encoder_layerdrop",
      "decoder_layerdrop", "initializer_range", "initializer_factor", "init_std",
      // generation defaults
      "max_length", "min_length", "max_new_tokens", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
      "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty",
      "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
      "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
      "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
      "forced_decoder_ids",
  };
  return keys;
}

// A JSON object whose fields are consumed one by one; finish() rejects the rest.
class Fields {
 public:
  Fields(const json& obj, std::string origin, std::string prefix)
      : obj_(obj), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  const std::string& origin() const { return origin_; }
  const std::string& prefix() const { return prefix_; }
  std::string where(std::string_view key) const { return origin_ + ": " + prefix_ + std::string(key); }

  // The value (possibly null), or nullptr when absent. Marks the field used.
  const json* raw(std::string_view key) {
    auto it = obj_.find(std::string(key));
    if (it == obj_.end()) return nullptr;
    used_.insert(std::string(key));
    return &*it;
  }
  bool present(std::string_view key) {
    const json* v = raw(key);
    return v && !v->is_null();
  }

  std::optional<int64_t> opt_int(std::string_view key) {
    const json* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    return as_int(*v, key);
  }
  int64_t integer(std::string_view key, int64_t fallback) { return opt_int(key).value_or(fallback); }
  int64_t positive(std::string_view key, int64_t fallback) {
    int64_t v = integer(key, fallback);
    if (v <= 0) fail(where(key), ": must be positive, got ", v);
    return v;
  }
  int64_t non_negative(std::string_view key, int64_t fallback) {
    int64_t v = integer(key, fallback);
    if (v < 0) fail(where(key), ": must not be negative, got ", v);
    return v;
  }

  std::optional<double> opt_num(std::string_view key) {
    const json* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    return as_num(*v, key);
  }
  double number(std::string_view key, double fallback) { return opt_num(key).value_or(fallback); }
  double positive_num(std::string_view key, double fallback) {
    double v = number(key, fallback);
    if (!(v > 0)) fail(where(key), ": must be positive, got ", v);
    return v;
  }
  // Absent: `if_absent`; null: nullopt (for fields whose null means "off").
  std::optional<double> nullable_num(std::string_view key, std::optional<double> if_absent) {
    const json* v = raw(key);
    if (!v) return if_absent;
    if (v->is_null()) return std::nullopt;
    return as_num(*v, key);
  }
  std::optional<int64_t> nullable_int(std::string_view key, std::optional<int64_t> if_absent) {
    const json* v = raw(key);
    if (!v) return if_absent;
    if (v->is_null()) return std::nullopt;
    return as_int(*v, key);
  }

  std::optional<bool> opt_bool(std::string_view key) {
    const json* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_boolean()) fail(where(key), ": expected true or false, got ", type_name(*v));
    return v->get<bool>();
  }
  bool boolean(std::string_view key, bool fallback) { return opt_bool(key).value_or(fallback); }

  std::optional<std::string> opt_str(std::string_view key) {
    const json* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) fail(where(key), ": expected a string, got ", type_name(*v));
    return v->get<std::string>();
  }
  std::string str(std::string_view key, const std::string& fallback) { return opt_str(key).value_or(fallback); }

  // Fields transformers accepts whose other values we do not implement.
  void expect_bool(std::string_view key, bool value) {
    auto v = opt_bool(key);
    if (v && *v != value)
      fail(where(key), ": ", *v ? "true" : "false", " is not supported (only ", value ? "true" : "false", ")");
  }
  void expect_int(std::string_view key, int64_t value) {
    auto v = opt_int(key);
    if (v && *v != value) fail(where(key), ": ", *v, " is not supported (only ", value, ")");
  }
  void expect_str(std::string_view key, const std::string& value) {
    auto v = opt_str(key);
    if (v && *v != value) fail(where(key), ": ", quote(*v), " is not supported (only ", quote(value), ")");
  }
  // transformers' attribute_map aliases (hidden_size for n_embd, ...): a
  // present alias overrides the real field, so it must agree with it.
  void alias(std::string_view key, int64_t value, std::string_view canonical) {
    auto v = opt_int(key);
    if (v && *v != value) fail(where(key), ": ", *v, " conflicts with ", prefix_, canonical, " = ", value);
  }
  void ignore(std::initializer_list<std::string_view> keys) {
    for (auto k : keys) raw(k);
  }

  // `context` completes "unknown field for ...": "model_type llama", "RoPE type yarn".
  void finish(const std::string& context, const ParseOptions& options, std::vector<std::string>* unknown) {
    for (auto& [key, value] : obj_.items()) {
      if (used_.count(key) || ignorable().count(key)) continue;
      if (options.allow_unknown_fields && unknown) {
        unknown->push_back(prefix_ + key);
        continue;
      }
      fail(origin_, ": ", quote(prefix_ + key), ": unknown field for ", context,
           " (not known to be safe to ignore; it may change the math)");
    }
  }

 private:
  int64_t as_int(const json& v, std::string_view key) const {
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() > uint64_t(INT64_MAX)) fail(where(key), ": ", brief(v), " is too large");
      return int64_t(v.get<uint64_t>());
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return int64_t(d);
      fail(where(key), ": expected an integer, got ", brief(v));
    }
    fail(where(key), ": expected an integer, got ", type_name(v));
  }
  double as_num(const json& v, std::string_view key) const {
    if (!v.is_number()) fail(where(key), ": expected a number, got ", type_name(v));
    return v.get<double>();
  }

  const json& obj_;
  std::string origin_, prefix_;
  std::set<std::string> used_;
};

Activation activation(Fields& f, std::string_view key, const std::string& fallback) {
  std::string name = f.str(key, fallback);
  auto a = activation_from_hf(name);
  if (!a) fail(f.where(key), ": unsupported activation ", quote(name));
  return *a;
}

int64_t divide_heads(Fields& f, int64_t hidden, int64_t heads, std::string_view hidden_key,
                     std::string_view heads_key) {
  if (hidden % heads != 0)
    fail(f.where(hidden_key), ": ", hidden, " is not divisible by ", f.prefix(), heads_key, " = ", heads);
  return hidden / heads;
}

std::optional<int64_t> token(Fields& f, std::string_view key, std::optional<int64_t> fallback) {
  const json* v = f.raw(key);
  if (!v) return fallback;
  if (v->is_null()) return std::nullopt;
  return f.opt_int(key);
}

// ---------------------------------------------------------------- shared parts

struct Common {
  bool tie = true;  // PretrainedConfig's default
  std::optional<int64_t> bos = std::nullopt, eos = std::nullopt, pad = std::nullopt, decoder_start = std::nullopt;
  bool encoder_decoder = false;
};

void common(Fields& f, Config& c, const Common& d) {
  if (const json* a = f.raw("architectures"); a && !a->is_null()) {
    if (!a->is_array()) fail(f.where("architectures"), ": expected an array, got ", type_name(*a));
    for (const json& s : *a) {
      if (!s.is_string()) fail(f.where("architectures"), ": expected strings, got ", type_name(s));
      c.architectures.push_back(s.get<std::string>());
    }
  }
  // transformers 5 writes "dtype"; older files "torch_dtype" (the first wins).
  auto dt = f.opt_str("dtype");
  auto tdt = f.opt_str("torch_dtype");
  c.dtype = dt ? *dt : tdt.value_or("");

  c.bos_token_id = token(f, "bos_token_id", d.bos);
  c.pad_token_id = token(f, "pad_token_id", d.pad);
  c.sep_token_id = token(f, "sep_token_id", std::nullopt);
  c.decoder_start_token_id = token(f, "decoder_start_token_id", d.decoder_start);
  if (const json* e = f.raw("eos_token_id"); e && !e->is_null()) {
    if (e->is_array()) {
      for (const json& id : *e) {
        if (!id.is_number_integer()) fail(f.where("eos_token_id"), ": expected integers, got ", type_name(id));
        c.eos_token_ids.push_back(id.get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(*f.opt_int("eos_token_id"));
    }
  } else if (!e && d.eos) {
    c.eos_token_ids.push_back(*d.eos);
  }

  c.tie_word_embeddings = f.boolean("tie_word_embeddings", d.tie);
  c.is_encoder_decoder = d.encoder_decoder;
  if (auto ed = f.opt_bool("is_encoder_decoder"); ed && *ed != d.encoder_decoder)
    fail(f.where("is_encoder_decoder"), ": ", *ed ? "true" : "false", " contradicts model_type ", c.model_type);

  if (const json* labels = f.raw("id2label"); labels && !labels->is_null()) {
    if (!labels->is_object()) fail(f.where("id2label"), ": expected an object, got ", type_name(*labels));
    for (auto& [k, v] : labels->items()) {
      char* end = nullptr;
      long long id = std::strtoll(k.c_str(), &end, 10);
      if (k.empty() || *end != '\0' || id < 0) fail(f.where("id2label"), ": key ", quote(k), " is not a label id");
      if (!v.is_string()) fail(f.where("id2label"), ": label ", quote(k), " must be a string");
      c.id2label[id] = v.get<std::string>();
    }
  }

  // Options that add weights or change the graph, in configs of any type.
  f.expect_bool("tie_encoder_decoder", false);
  f.expect_bool("add_cross_attention", false);
  if (f.present("cross_attention_hidden_size"))
    fail(f.where("cross_attention_hidden_size"), ": encoder-decoder wrappers are not supported");
  if (const json* p = f.raw("pruned_heads"); p && !p->is_null() && !(p->is_object() && p->empty()))
    fail(f.where("pruned_heads"), ": pruned attention heads are not supported");
  if (f.raw("quantization_config"))
    fail(f.where("quantization_config"), ": quantized Hugging Face checkpoints are not supported");
}

// ---------------------------------------------------------------- RoPE

struct RopeSpec {
  double default_theta = 10000.0;
  std::vector<std::string_view> theta_keys = {"rope_theta"};  // top-level spellings
  double default_partial = 1.0;
  std::vector<std::string_view> partial_keys = {"partial_rotary_factor"};
  // phi3 always has original_max_position_embeddings as an attribute
  // (default 4096), which changes how transformers derives longrope's factor.
  std::optional<int64_t> top_level_original_max;
};

RopeType rope_type_from(const std::string& name, Fields& r, std::string_view key) {
  if (name == "default") return RopeType::Default;
  if (name == "linear") return RopeType::Linear;
  if (name == "dynamic") return RopeType::Dynamic;
  if (name == "yarn") return RopeType::Yarn;
  if (name == "llama3") return RopeType::Llama3;
  if (name == "longrope" || name == "su") return RopeType::LongRope;  // "su": phi3's first name for it
  fail(r.where(key), ": unsupported RoPE type ", quote(name));
}

std::vector<double> number_list(Fields& r, std::string_view key, size_t expect) {
  const json* v = r.raw(key);
  if (!v || v->is_null()) fail(r.where(key), ": required for longrope");
  if (!v->is_array()) fail(r.where(key), ": expected an array, got ", type_name(*v));
  std::vector<double> out;
  for (const json& x : *v) {
    if (!x.is_number()) fail(r.where(key), ": expected numbers, got ", type_name(x));
    out.push_back(x.get<double>());
  }
  if (out.size() != expect)
    fail(r.where(key), ": has ", out.size(), " entries, expected ", expect, " (rotary dims / 2)");
  return out;
}

// transformers' convert_rope_params_to_dict + standardize_rope_params: the
// parameters come from `rope_scaling` (legacy) or `rope_parameters`, theta and
// the partial factor from there or from top-level fields.
void parse_rope(Fields& f, Config& c, const RopeSpec& spec) {
  static const json kEmpty = json::object();
  const json* scaling = f.raw("rope_scaling");
  const json* params = f.raw("rope_parameters");
  auto given = [](const json* j) { return j && !j->is_null() && !(j->is_object() && j->empty()); };
  const json* dict = &kEmpty;
  std::string dict_name = "rope_parameters";
  if (given(scaling)) {  // transformers: `rope_scaling or rope_parameters`
    dict = scaling;
    dict_name = "rope_scaling";
  } else if (given(params)) {
    dict = params;
  }
  if (!dict->is_object()) fail(f.where(dict_name), ": expected an object, got ", type_name(*dict));
  Fields r(*dict, f.origin(), f.prefix() + dict_name + ".");

  auto rt = r.opt_str("rope_type");
  auto legacy_type = r.opt_str("type");
  if (rt && legacy_type && *rt != *legacy_type)
    fail(r.where("type"), ": ", quote(*legacy_type), " contradicts rope_type ", quote(*rt));
  std::string type_name_ = rt ? *rt : legacy_type.value_or("default");
  Rope& rope = c.rope;
  rope.type = rope_type_from(type_name_, r, rt ? "rope_type" : "type");

  // theta: the dict wins over top-level spellings; disagreeing copies are an error.
  std::optional<double> theta = r.opt_num("rope_theta");
  for (auto key : spec.theta_keys) {
    auto top = f.opt_num(key);
    if (top && theta && *top != *theta)
      fail(f.where(key), ": ", *top, " contradicts ", r.prefix(), "rope_theta = ", *theta);
    if (top) theta = top;
  }
  rope.theta = theta.value_or(spec.default_theta);
  if (!(rope.theta > 0)) fail(r.where("rope_theta"), ": must be positive, got ", rope.theta);

  std::optional<double> partial = r.opt_num("partial_rotary_factor");
  for (auto key : spec.partial_keys) {
    auto top = f.opt_num(key);
    if (top && partial && *top != *partial)
      fail(f.where(key), ": ", *top, " contradicts ", r.prefix(), "partial_rotary_factor = ", *partial);
    if (top) partial = top;
  }
  rope.partial_rotary_factor = partial.value_or(spec.default_partial);
  if (!(rope.partial_rotary_factor > 0 && rope.partial_rotary_factor <= 1))
    fail(r.where("partial_rotary_factor"), ": must be in (0, 1], got ", rope.partial_rotary_factor);
  // int(head_dim * factor), as transformers computes it
  rope.rotary_dims = int64_t(double(c.head_dim) * rope.partial_rotary_factor);
  if (rope.rotary_dims < 2 || rope.rotary_dims % 2 != 0)
    fail(r.where("partial_rotary_factor"), ": ", rope.partial_rotary_factor, " of head_dim ", c.head_dim, " gives ",
         rope.rotary_dims, " rotary dims (must be even and at least 2)");

  const bool scaled_context =
      rope.type == RopeType::Yarn || rope.type == RopeType::Llama3 || rope.type == RopeType::LongRope;
  auto top_original = f.opt_int("original_max_position_embeddings");
  if (!top_original) top_original = spec.top_level_original_max;
  std::optional<int64_t> dict_original;
  if (scaled_context) dict_original = r.opt_int("original_max_position_embeddings");
  rope.original_max_position_embeddings =
      top_original ? *top_original : dict_original.value_or(scaled_context ? c.max_position_embeddings : 0);
  if (scaled_context && rope.original_max_position_embeddings <= 0)
    fail(r.where("original_max_position_embeddings"), ": must be positive");

  auto required = [&](std::string_view key) {
    auto v = r.opt_num(key);
    if (!v) fail(r.where(key), ": required for RoPE type ", type_name_);
    return *v;
  };
  switch (rope.type) {
    case RopeType::None:
    case RopeType::Default:
      break;
    case RopeType::Linear:
    case RopeType::Dynamic:
      rope.factor = required("factor");
      break;
    case RopeType::Yarn:
      rope.factor = required("factor");
      rope.attention_factor = r.opt_num("attention_factor");
      rope.beta_fast = r.number("beta_fast", 32.0);
      rope.beta_slow = r.number("beta_slow", 1.0);
      rope.mscale = r.opt_num("mscale");
      rope.mscale_all_dim = r.opt_num("mscale_all_dim");
      rope.truncate = r.boolean("truncate", true);
      break;
    case RopeType::Llama3:
      rope.factor = required("factor");
      rope.low_freq_factor = required("low_freq_factor");
      rope.high_freq_factor = required("high_freq_factor");
      break;
    case RopeType::LongRope: {
      auto factor = r.opt_num("factor");
      rope.attention_factor = r.opt_num("attention_factor");
      size_t half = size_t(rope.rotary_dims / 2);
      rope.short_factor = number_list(r, "short_factor", half);
      rope.long_factor = number_list(r, "long_factor", half);
      // transformers derives the factor from the two lengths whenever the
      // config has a top-level original_max_position_embeddings (phi3).
      if (top_original) rope.factor = double(c.max_position_embeddings) / double(*top_original);
      else if (factor) rope.factor = *factor;
      else fail(r.where("factor"), ": required for longrope without a top-level original_max_position_embeddings");
      break;
    }
  }
  if (!(rope.factor > 0)) fail(r.where("factor"), ": must be positive, got ", rope.factor);
  r.finish("RoPE type " + type_name_, ParseOptions{}, nullptr);
}

// transformers 5 writes `layer_types`; older configs imply them.
void parse_layer_types(Fields& f, Config& c, const std::function<AttentionKind(int64_t)>& implied) {
  c.layer_types.clear();
  const json* lt = f.raw("layer_types");
  if (lt && !lt->is_null()) {
    if (!lt->is_array()) fail(f.where("layer_types"), ": expected an array, got ", type_name(*lt));
    if (int64_t(lt->size()) != c.num_layers)
      fail(f.where("layer_types"), ": has ", lt->size(), " entries for ", c.num_layers, " layers");
    for (const json& t : *lt) {
      if (t == "full_attention") c.layer_types.push_back(AttentionKind::Full);
      else if (t == "sliding_attention") c.layer_types.push_back(AttentionKind::Sliding);
      else fail(f.where("layer_types"), ": unsupported layer type ",
                t.is_string() ? quote(t.get<std::string>()) : std::string(type_name(t)));
    }
  } else {
    for (int64_t i = 0; i < c.num_layers; ++i) c.layer_types.push_back(implied(i));
  }
  for (AttentionKind k : c.layer_types)
    if (k == AttentionKind::Sliding && c.sliding_window <= 0)
      fail(f.where("layer_types"), ": sliding-window layers without a sliding_window");
}

void all_full(Config& c) { c.layer_types.assign(size_t(c.num_layers), AttentionKind::Full); }

// ---------------------------------------------------------------- decoder-only LMs

struct LlamaDefaults {
  int64_t vocab = 0, hidden = 0, intermediate = 0, layers = 0, heads = 0;
  std::optional<int64_t> kv_heads = std::nullopt;  // nullopt: num_attention_heads
  std::optional<int64_t> head_dim = std::nullopt;  // nullopt: hidden / heads
  int64_t max_positions = 0;
  double eps = 0;
  const char* act = "";
  Common common = {};
};

// The dimensions every llama-style config spells the same way.
void llama_dims(Fields& f, Config& c, const LlamaDefaults& d) {
  common(f, c, d.common);
  f.ignore({"is_decoder"});  // causal LMs are decoders whatever this says; transformers does not read it
  c.vocab_size = f.positive("vocab_size", d.vocab);
  c.hidden_size = c.embedding_size = f.positive("hidden_size", d.hidden);
  c.intermediate_size = f.positive("intermediate_size", d.intermediate);
  c.num_layers = f.positive("num_hidden_layers", d.layers);
  c.num_heads = f.positive("num_attention_heads", d.heads);
  // an explicit null means "same as heads" in every llama-style config class
  c.num_kv_heads = f.nullable_int("num_key_value_heads", d.kv_heads).value_or(c.num_heads);
  c.max_position_embeddings = f.positive("max_position_embeddings", d.max_positions);
  c.norm = Norm::RmsNorm;
  c.norm_eps = f.positive_num("rms_norm_eps", d.eps);
  c.activation = activation(f, "hidden_act", d.act);
  c.gated_mlp = true;
}

void set_head_dim(Fields& f, Config& c, std::optional<int64_t> fallback, bool field_allowed = true) {
  std::optional<int64_t> hd = field_allowed ? f.opt_int("head_dim") : std::nullopt;
  if (!hd) hd = fallback;
  c.head_dim = hd ? *hd : divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  if (c.head_dim <= 0) fail(f.where("head_dim"), ": must be positive, got ", c.head_dim);
}

void parse_llama(Fields& f, Config& c) {
  llama_dims(f, c, {.vocab = 32000, .hidden = 4096, .intermediate = 11008, .layers = 32, .heads = 32,
                    .max_positions = 2048, .eps = 1e-6, .act = "silu", .common = {.tie = false, .bos = 1, .eos = 2}});
  set_head_dim(f, c, std::nullopt);
  c.qkv_bias = c.o_bias = f.boolean("attention_bias", false);
  c.mlp_bias = f.boolean("mlp_bias", false);
  f.ignore({"pretraining_tp"});  // >1 only splits the matmuls: same math, other rounding
  parse_rope(f, c, {});
  all_full(c);
}

void parse_mistral(Fields& f, Config& c) {
  llama_dims(f, c, {.vocab = 32000, .hidden = 4096, .intermediate = 14336, .layers = 32, .heads = 32, .kv_heads = 8,
                    .max_positions = 4096 * 32, .eps = 1e-6, .act = "silu",
                    .common = {.tie = false, .bos = 1, .eos = 2}});
  set_head_dim(f, c, std::nullopt);
  c.sliding_window = f.nullable_int("sliding_window", 4096).value_or(0);
  if (c.sliding_window < 0) fail(f.where("sliding_window"), ": must not be negative");
  parse_rope(f, c, {});
  parse_layer_types(f, c, [&](int64_t) { return c.sliding_window ? AttentionKind::Sliding : AttentionKind::Full; });
}

void parse_qwen2(Fields& f, Config& c) {
  llama_dims(f, c, {.vocab = 151936, .hidden = 4096, .intermediate = 22016, .layers = 32, .heads = 32, .kv_heads = 32,
                    .max_positions = 32768, .eps = 1e-6, .act = "silu", .common = {.tie = false}});
  set_head_dim(f, c, std::nullopt);
  c.qkv_bias = true;  // fixed in Qwen2Attention
  const bool use_sliding = f.boolean("use_sliding_window", false);
  const int64_t window = f.nullable_int("sliding_window", 4096).value_or(0);
  const int64_t max_window_layers = f.integer("max_window_layers", 28);
  c.sliding_window = use_sliding ? window : 0;
  f.expect_bool("use_mrope", false);
  parse_rope(f, c, {});
  parse_layer_types(f, c, [&](int64_t i) {
    return use_sliding && window && i >= max_window_layers ? AttentionKind::Sliding : AttentionKind::Full;
  });
}

void parse_phi3(Fields& f, Config& c) {
  llama_dims(f, c, {.vocab = 32064, .hidden = 3072, .intermediate = 8192, .layers = 32, .heads = 32,
                    .max_positions = 4096, .eps = 1e-5, .act = "silu",
                    .common = {.tie = false, .bos = 1, .eos = 32000, .pad = 32000}});
  set_head_dim(f, c, std::nullopt);
  c.sliding_window = f.nullable_int("sliding_window", std::nullopt).value_or(0);
  RopeSpec spec;
  spec.top_level_original_max = 4096;
  parse_rope(f, c, spec);
  parse_layer_types(f, c, [&](int64_t) { return c.sliding_window ? AttentionKind::Sliding : AttentionKind::Full; });
}

void parse_gemma(Fields& f, Config& c, bool v2) {
  if (!v2)
    llama_dims(f, c, {.vocab = 256000, .hidden = 3072, .intermediate = 24576, .layers = 28, .heads = 16, .kv_heads = 16,
                      .head_dim = 256, .max_positions = 8192, .eps = 1e-6, .act = "gelu_pytorch_tanh",
                      .common = {.tie = true, .bos = 2, .eos = 1, .pad = 0}});
  else
    llama_dims(f, c, {.vocab = 256000, .hidden = 2304, .intermediate = 9216, .layers = 26, .heads = 8, .kv_heads = 4,
                      .head_dim = 256, .max_positions = 8192, .eps = 1e-6, .act = "gelu_pytorch_tanh",
                      .common = {.tie = true, .bos = 2, .eos = 1, .pad = 0}});
  // GemmaMLP reads hidden_act; Gemma2MLP reads only hidden_activation. A
  // gemma config whose two spellings disagree is ambiguous (transformers'
  // docs and code disagree about which wins), so it is refused.
  if (auto act = f.opt_str("hidden_activation")) {
    Activation a = activation(f, "hidden_activation", *act);
    if (!v2 && a != c.activation)
      fail(f.where("hidden_activation"), ": ", quote(*act), " contradicts hidden_act (", activation_name(c.activation),
           ")");
    c.activation = a;
  } else if (v2) {
    c.activation = Activation::GeluTanh;
  }
  set_head_dim(f, c, 256);
  c.qkv_bias = c.o_bias = f.boolean("attention_bias", false);
  c.norm_unit_offset = true;
  c.embedding_multiplier = std::sqrt(double(c.hidden_size));
  f.expect_bool("use_bidirectional_attention", false);
  parse_rope(f, c, {});
  if (!v2) {
    all_full(c);
    return;
  }
  c.attn_scale = 1.0 / std::sqrt(f.positive_num("query_pre_attn_scalar", 256));
  c.attn_logit_softcapping = f.nullable_num("attn_logit_softcapping", 50.0).value_or(0);
  c.final_logit_softcapping = f.nullable_num("final_logit_softcapping", 30.0).value_or(0);
  if (c.attn_logit_softcapping < 0 || c.final_logit_softcapping < 0)
    fail(f.where("attn_logit_softcapping"), ": softcapping must not be negative");
  c.sliding_window = f.nullable_int("sliding_window", 4096).value_or(0);
  f.alias("sliding_window_size", c.sliding_window, "sliding_window");  // early gemma2 configs
  f.ignore({"cache_implementation"});  // KV-cache layout choice, not math
  parse_layer_types(f, c, [](int64_t i) { return i % 2 == 0 ? AttentionKind::Sliding : AttentionKind::Full; });
}

void parse_stablelm(Fields& f, Config& c) {
  common(f, c, {.tie = false, .bos = 0, .eos = 0});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 50304);
  c.hidden_size = c.embedding_size = f.positive("hidden_size", 2560);
  c.intermediate_size = f.positive("intermediate_size", 6912);
  c.num_layers = f.positive("num_hidden_layers", 32);
  c.num_heads = f.positive("num_attention_heads", 32);
  c.num_kv_heads = f.nullable_int("num_key_value_heads", 32).value_or(c.num_heads);
  c.max_position_embeddings = f.positive("max_position_embeddings", 4096);
  c.activation = activation(f, "hidden_act", "silu");
  c.norm = Norm::LayerNorm;
  c.norm_eps = f.positive_num("layer_norm_eps", 1e-5);
  c.gated_mlp = true;
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  c.qkv_bias = f.boolean("use_qkv_bias", false);
  c.qk_norm = f.boolean("qk_layernorm", false);
  c.parallel_residual = f.boolean("use_parallel_residual", false);
  c.parallel_norms = c.parallel_residual ? 1 : 0;
  RopeSpec spec;
  spec.default_partial = 0.25;
  parse_rope(f, c, spec);
  all_full(c);
}

void parse_gpt2(Fields& f, Config& c) {
  common(f, c, {.tie = true, .bos = 50256, .eos = 50256});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 50257);
  c.max_position_embeddings = f.positive("n_positions", 1024);
  c.hidden_size = c.embedding_size = f.positive("n_embd", 768);
  c.num_layers = f.positive("n_layer", 12);
  c.num_heads = c.num_kv_heads = f.positive("n_head", 12);
  c.intermediate_size = f.nullable_int("n_inner", std::nullopt).value_or(4 * c.hidden_size);
  if (c.intermediate_size <= 0) fail(f.where("n_inner"), ": must be positive");
  f.alias("hidden_size", c.hidden_size, "n_embd");
  f.alias("max_position_embeddings", c.max_position_embeddings, "n_positions");
  f.alias("num_attention_heads", c.num_heads, "n_head");
  f.alias("num_hidden_layers", c.num_layers, "n_layer");
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "n_embd", "n_head");
  c.activation = activation(f, "activation_function", "gelu_new");
  c.norm_eps = f.positive_num("layer_norm_epsilon", 1e-5);
  c.attn_scale = f.boolean("scale_attn_weights", true) ? 1.0 / std::sqrt(double(c.head_dim)) : 1.0;
  f.expect_bool("scale_attn_by_inverse_layer_idx", false);
  // reorder_and_upcast_attn only computes attention in float32 (we always do);
  // n_ctx is a legacy copy of n_positions that transformers no longer reads;
  // summary_* configure GPT2DoubleHeadsModel's multiple-choice head.
  f.ignore({"reorder_and_upcast_attn", "n_ctx", "summary_type", "summary_use_proj", "summary_activation",
            "summary_proj_to_labels"});
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
  all_full(c);
}

void parse_gpt_neox(Fields& f, Config& c) {
  common(f, c, {.tie = false, .bos = 0, .eos = 2});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 50432);
  c.hidden_size = c.embedding_size = f.positive("hidden_size", 6144);
  c.num_layers = f.positive("num_hidden_layers", 44);
  c.num_heads = c.num_kv_heads = f.positive("num_attention_heads", 64);
  c.intermediate_size = f.positive("intermediate_size", 24576);
  c.activation = activation(f, "hidden_act", "gelu");
  c.max_position_embeddings = f.positive("max_position_embeddings", 2048);
  c.norm_eps = f.positive_num("layer_norm_eps", 1e-5);
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  c.parallel_residual = f.boolean("use_parallel_residual", true);
  c.parallel_norms = c.parallel_residual ? 2 : 0;  // input_layernorm + post_attention_layernorm, both on x
  c.qkv_bias = c.o_bias = f.boolean("attention_bias", true);
  c.mlp_bias = true;
  RopeSpec spec;
  spec.theta_keys = {"rope_theta", "rotary_emb_base"};
  spec.default_partial = 0.25;
  spec.partial_keys = {"partial_rotary_factor", "rotary_pct"};
  parse_rope(f, c, spec);
  all_full(c);
}

void parse_falcon(Fields& f, Config& c) {
  common(f, c, {.tie = true, .bos = 11, .eos = 11});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 65024);
  c.hidden_size = c.embedding_size = f.positive("hidden_size", 4544);
  f.alias("n_embed", c.hidden_size, "hidden_size");
  c.num_layers = f.positive("num_hidden_layers", 32);
  c.num_heads = f.positive("num_attention_heads", 71);
  c.norm_eps = f.positive_num("layer_norm_epsilon", 1e-5);
  c.max_position_embeddings = f.positive("max_position_embeddings", 2048);
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  if (f.boolean("alibi", false)) fail(f.where("alibi"), ": ALiBi position biases are not supported");
  f.expect_bool("apply_residual_connection_post_layernorm", false);  // pre-transformers RW configs
  const bool new_arch = f.boolean("new_decoder_architecture", false);
  const bool multi_query = f.boolean("multi_query", true);
  const bool parallel_attn = f.boolean("parallel_attn", true);
  const int64_t kv = f.nullable_int("num_kv_heads", std::nullopt).value_or(c.num_heads);
  // FalconAttention: the kv count is only read with the new architecture.
  c.num_kv_heads = new_arch ? kv : multi_query ? 1 : c.num_heads;
  c.intermediate_size = f.nullable_int("ffn_hidden_size", std::nullopt).value_or(4 * c.hidden_size);
  if (c.intermediate_size <= 0) fail(f.where("ffn_hidden_size"), ": must be positive");
  c.activation = activation(f, "activation", "gelu");
  c.qkv_bias = c.o_bias = c.mlp_bias = f.boolean("bias", false);
  auto num_ln = f.nullable_int("num_ln_in_parallel_attn", std::nullopt);
  if (new_arch) {
    c.parallel_residual = true;
    c.parallel_norms = num_ln.value_or(2);
    if (c.parallel_norms != 1 && c.parallel_norms != 2)
      fail(f.where("num_ln_in_parallel_attn"), ": must be 1 or 2, got ", c.parallel_norms);
    if (!parallel_attn && c.parallel_norms == 1)
      fail(f.where("num_ln_in_parallel_attn"), ": 1 with parallel_attn false (transformers cannot run it either)");
  } else {
    c.parallel_residual = parallel_attn;
    c.parallel_norms = parallel_attn ? 1 : 0;
  }
  parse_rope(f, c, {});
  all_full(c);
}

// ---------------------------------------------------------------- encoders

struct BertDefaults {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, max_positions = 0, type_vocab = 0;
  const char* act = "";
  double eps = 0;
  Common common = {};
};

void bert_like(Fields& f, Config& c, const BertDefaults& d) {
  common(f, c, d.common);
  f.expect_bool("is_decoder", false);  // a causal BERT is not implemented
  c.vocab_size = f.positive("vocab_size", d.vocab);
  c.hidden_size = c.embedding_size = f.positive("hidden_size", d.hidden);
  c.num_layers = f.positive("num_hidden_layers", d.layers);
  c.num_heads = c.num_kv_heads = f.positive("num_attention_heads", d.heads);
  c.intermediate_size = f.positive("intermediate_size", d.intermediate);
  c.activation = activation(f, "hidden_act", d.act);
  c.max_position_embeddings = f.positive("max_position_embeddings", d.max_positions);
  c.type_vocab_size = f.non_negative("type_vocab_size", d.type_vocab);
  c.norm_eps = f.positive_num("layer_norm_eps", d.eps);
  f.expect_str("position_embedding_type", "absolute");
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  c.pre_norm = false;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
}

void parse_bert(Fields& f, Config& c) {
  bert_like(f, c, {.vocab = 30522, .hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072,
                   .max_positions = 512, .type_vocab = 2, .act = "gelu", .eps = 1e-12,
                   .common = {.tie = true, .pad = 0}});
  c.pooler_size = c.hidden_size;
  c.pooler_activation = Activation::Tanh;
}

void parse_roberta(Fields& f, Config& c) {
  bert_like(f, c, {.vocab = 30522, .hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072,
                   .max_positions = 512, .type_vocab = 2, .act = "gelu", .eps = 1e-12,
                   .common = {.tie = true, .bos = 0, .eos = 2, .pad = 1}});
  // RobertaEmbeddings numbers positions from padding_idx + 1.
  if (!c.pad_token_id) fail(f.where("pad_token_id"), ": required (RoBERTa positions start after it)");
  c.position_offset = *c.pad_token_id + 1;
  if (c.position_offset >= c.max_position_embeddings)
    fail(f.where("max_position_embeddings"), ": ", c.max_position_embeddings,
         " leaves no positions after pad_token_id");
  c.pooler_size = c.hidden_size;
  c.pooler_activation = Activation::Tanh;
}

void parse_electra(Fields& f, Config& c) {
  bert_like(f, c, {.vocab = 30522, .hidden = 256, .layers = 12, .heads = 4, .intermediate = 1024,
                   .max_positions = 512, .type_vocab = 2, .act = "gelu", .eps = 1e-12,
                   .common = {.tie = true, .pad = 0}});
  c.embedding_size = f.positive("embedding_size", 128);
  // summary_* configure the sequence-summary of the multiple-choice head only.
  f.ignore({"summary_type", "summary_use_proj", "summary_activation"});
}

void parse_albert(Fields& f, Config& c) {
  bert_like(f, c, {.vocab = 30000, .hidden = 4096, .layers = 12, .heads = 64, .intermediate = 16384,
                   .max_positions = 512, .type_vocab = 2, .act = "gelu_new", .eps = 1e-12,
                   .common = {.tie = true, .bos = 2, .eos = 3, .pad = 0}});
  c.embedding_size = f.positive("embedding_size", 128);
  c.num_hidden_groups = f.positive("num_hidden_groups", 1);
  c.inner_group_num = f.positive("inner_group_num", 1);
  if (c.num_hidden_groups > c.num_layers)
    fail(f.where("num_hidden_groups"), ": ", c.num_hidden_groups, " groups for ", c.num_layers, " layers");
  // Fields of Google's original ALBERT configs that transformers never read;
  // only the values of the released models are accepted.
  f.expect_int("down_scale_factor", 1);
  f.expect_int("gap_size", 0);
  f.expect_int("net_structure_type", 0);
  f.expect_int("num_memory_blocks", 0);
  if (const json* keep = f.raw("layers_to_keep"); keep && !keep->is_null() && !(keep->is_array() && keep->empty()))
    fail(f.where("layers_to_keep"), ": layer selection is not supported");
  c.pooler_size = c.hidden_size;
  c.pooler_activation = Activation::Tanh;
}

void parse_distilbert(Fields& f, Config& c) {
  common(f, c, {.tie = true, .pad = 0});
  f.expect_bool("is_decoder", false);
  c.vocab_size = f.positive("vocab_size", 30522);
  c.max_position_embeddings = f.positive("max_position_embeddings", 512);
  // Sinusoidal tables are also stored as the position embedding weight.
  f.ignore({"sinusoidal_pos_embds", "tie_weights_"});
  c.num_layers = f.positive("n_layers", 6);
  c.num_heads = c.num_kv_heads = f.positive("n_heads", 12);
  c.hidden_size = c.embedding_size = f.positive("dim", 768);
  c.intermediate_size = f.positive("hidden_dim", 3072);
  f.alias("hidden_size", c.hidden_size, "dim");
  f.alias("num_attention_heads", c.num_heads, "n_heads");
  f.alias("num_hidden_layers", c.num_layers, "n_layers");
  c.activation = activation(f, "activation", "gelu");
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "dim", "n_heads");
  c.norm_eps = 1e-12;  // fixed in modeling_distilbert
  c.pre_norm = false;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
}

void parse_deberta_v2(Fields& f, Config& c) {
  common(f, c, {.tie = true, .pad = 0});
  f.expect_bool("is_decoder", false);
  c.vocab_size = f.positive("vocab_size", 128100);
  c.hidden_size = f.positive("hidden_size", 1536);
  c.embedding_size = f.positive("embedding_size", c.hidden_size);
  c.num_layers = f.positive("num_hidden_layers", 24);
  c.num_heads = c.num_kv_heads = f.positive("num_attention_heads", 24);
  c.intermediate_size = f.positive("intermediate_size", 6144);
  c.activation = activation(f, "hidden_act", "gelu");
  c.max_position_embeddings = f.positive("max_position_embeddings", 512);
  c.type_vocab_size = f.non_negative("type_vocab_size", 0);
  c.norm_eps = f.positive_num("layer_norm_eps", 1e-7);
  auto head = f.opt_int("attention_head_size");
  c.head_dim = head ? *head : divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  if (c.head_dim <= 0) fail(f.where("attention_head_size"), ": must be positive");
  c.pre_norm = false;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;

  auto& d = c.deberta;
  const bool relative = f.boolean("relative_attention", false);
  c.relative = relative ? RelativeAttention::Deberta : RelativeAttention::None;
  int64_t max_rel = f.integer("max_relative_positions", -1);
  d.max_relative_positions = max_rel < 1 ? c.max_position_embeddings : max_rel;
  int64_t buckets = f.integer("position_buckets", -1);
  d.position_buckets = buckets > 0 ? buckets : 0;
  d.share_att_key = f.boolean("share_att_key", false);
  d.position_biased_input = f.boolean("position_biased_input", true);
  c.learned_positions = d.position_biased_input;
  d.legacy_mlm_head = f.boolean("legacy", true);

  // pos_att_type: a list, or the original "p2c|c2p" string
  std::vector<std::string> types;
  if (const json* p = f.raw("pos_att_type"); p && !p->is_null()) {
    if (p->is_string()) {
      std::string s = p->get<std::string>();
      for (size_t start = 0; start <= s.size();) {
        size_t bar = s.find('|', start);
        if (bar == std::string::npos) bar = s.size();
        std::string t = s.substr(start, bar - start);
        for (char& ch : t) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (!t.empty()) types.push_back(t);
        start = bar + 1;
      }
    } else if (p->is_array()) {
      for (const json& t : *p) {
        if (!t.is_string()) fail(f.where("pos_att_type"), ": expected strings, got ", type_name(t));
        types.push_back(t.get<std::string>());
      }
    } else {
      fail(f.where("pos_att_type"), ": expected a list or a string, got ", type_name(*p));
    }
  }
  for (const std::string& t : types) {
    if (t == "c2p") d.c2p = true;
    else if (t == "p2c") d.p2c = true;
    else fail(f.where("pos_att_type"), ": unsupported attention type ", quote(t), " (c2p and p2c only)");
  }
  std::string norm_rel = f.str("norm_rel_ebd", "none");
  for (size_t start = 0; start <= norm_rel.size();) {
    size_t bar = norm_rel.find('|', start);
    if (bar == std::string::npos) bar = norm_rel.size();
    std::string t = norm_rel.substr(start, bar - start);
    if (t == "layer_norm") d.norm_rel_ebd = true;
    else if (t != "none" && !t.empty()) fail(f.where("norm_rel_ebd"), ": unsupported value ", quote(t));
    start = bar + 1;
  }
  if (f.integer("conv_kernel_size", 0) > 0)
    fail(f.where("conv_kernel_size"), ": DeBERTa's convolution layer is not supported");
  f.ignore({"conv_act", "conv_groups"});  // only read with conv_kernel_size > 0
  f.expect_int("z_steps", 0);
  // DisentangledSelfAttention divides by sqrt(head_dim * (1 + |{c2p, p2c}|)).
  c.attn_scale = 1.0 / std::sqrt(double(c.head_dim) * double(1 + d.c2p + d.p2c));
  c.pooler_size = f.positive("pooler_hidden_size", c.hidden_size);
  c.pooler_activation = activation(f, "pooler_hidden_act", "gelu");
}

// ---------------------------------------------------------------- encoder-decoders

void parse_t5(Fields& f, Config& c) {
  common(f, c, {.tie = true, .eos = 1, .pad = 0, .encoder_decoder = true});
  f.ignore({"is_decoder"});  // T5Stack sets it per stack
  c.vocab_size = f.positive("vocab_size", 32128);
  c.hidden_size = c.embedding_size = f.positive("d_model", 512);
  c.head_dim = f.positive("d_kv", 64);
  c.intermediate_size = c.decoder_intermediate_size = f.positive("d_ff", 2048);
  c.num_layers = f.positive("num_layers", 6);
  c.decoder_layers = f.nullable_int("num_decoder_layers", std::nullopt).value_or(c.num_layers);
  if (c.decoder_layers <= 0) fail(f.where("num_decoder_layers"), ": must be positive");
  c.num_heads = c.num_kv_heads = c.decoder_heads = f.positive("num_heads", 8);
  f.alias("hidden_size", c.hidden_size, "d_model");
  f.alias("num_attention_heads", c.num_heads, "num_heads");
  f.alias("num_hidden_layers", c.num_layers, "num_layers");
  c.relative = RelativeAttention::T5Buckets;
  c.t5.num_buckets = f.positive("relative_attention_num_buckets", 32);
  c.t5.max_distance = f.positive("relative_attention_max_distance", 128);
  c.norm = Norm::RmsNorm;  // T5LayerNorm: no mean, no bias
  c.norm_eps = f.positive_num("layer_norm_epsilon", 1e-6);

  std::string proj = f.str("feed_forward_proj", "relu");
  size_t dash = proj.find('-');
  std::string act = proj;
  if (dash != std::string::npos) {
    if (proj.substr(0, dash) != "gated" || proj.find('-', dash + 1) != std::string::npos)
      fail(f.where("feed_forward_proj"), ": ", quote(proj), " is not 'ACT' or 'gated-ACT'");
    act = proj.substr(dash + 1);
    c.gated_mlp = true;
  }
  if (proj == "gated-gelu") act = "gelu_new";  // transformers' backwards-compatibility rule
  auto a = activation_from_hf(act);
  if (!a) fail(f.where("feed_forward_proj"), ": unsupported activation ", quote(act));
  c.activation = *a;
  // Derived fields that transformers also saves: they must agree.
  if (auto dense = f.opt_str("dense_act_fn"); dense && activation_from_hf(*dense) != a)
    fail(f.where("dense_act_fn"), ": ", quote(*dense), " contradicts feed_forward_proj ", quote(proj));
  if (auto gated = f.opt_bool("is_gated_act"); gated && *gated != c.gated_mlp)
    fail(f.where("is_gated_act"), ": contradicts feed_forward_proj ", quote(proj));

  c.attn_scale = 1.0;  // T5 folds the scale into the initialisation
  // transformers 5 saves scale_decoder_outputs; before, tied embeddings implied it.
  if (f.boolean("scale_decoder_outputs", c.tie_word_embeddings))
    c.lm_head_input_scale = 1.0 / std::sqrt(double(c.hidden_size));
  if (!c.decoder_start_token_id) c.decoder_start_token_id = c.pad_token_id;
  f.ignore({"n_positions"});  // in the original t5 configs; T5 has no position table
}

void parse_bart(Fields& f, Config& c) {
  common(f, c, {.tie = true, .bos = 0, .eos = 2, .pad = 1, .decoder_start = 2, .encoder_decoder = true});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 50265);
  c.max_position_embeddings = f.positive("max_position_embeddings", 1024);
  c.hidden_size = c.embedding_size = f.positive("d_model", 1024);
  c.num_layers = f.positive("encoder_layers", 12);
  c.intermediate_size = f.positive("encoder_ffn_dim", 4096);
  c.num_heads = c.num_kv_heads = f.positive("encoder_attention_heads", 16);
  c.decoder_layers = f.positive("decoder_layers", 12);
  c.decoder_intermediate_size = f.positive("decoder_ffn_dim", 4096);
  c.decoder_heads = f.positive("decoder_attention_heads", 16);
  f.alias("hidden_size", c.hidden_size, "d_model");
  f.alias("num_attention_heads", c.num_heads, "encoder_attention_heads");
  f.alias("num_hidden_layers", c.num_layers, "encoder_layers");
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "d_model", "encoder_attention_heads");
  divide_heads(f, c.hidden_size, c.decoder_heads, "d_model", "decoder_attention_heads");
  c.activation = activation(f, "activation_function", "gelu");
  if (f.boolean("scale_embedding", false)) c.embedding_multiplier = std::sqrt(double(c.hidden_size));
  c.norm_eps = 1e-5;  // nn.LayerNorm default in modeling_bart
  c.pre_norm = false;
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
  c.position_offset = 2;  // BartLearnedPositionalEmbedding
  // Fields of pre-4.0 BART configs that transformers no longer reads; only
  // the values matching today's BART are accepted.
  f.expect_bool("normalize_before", false);
  f.expect_bool("add_final_layer_norm", false);
  f.expect_bool("normalize_embedding", true);
  f.expect_bool("static_position_embeddings", false);
  f.expect_bool("add_bias_logits", false);
  f.expect_int("extra_pos_embeddings", 2);
  f.ignore({"force_bos_token_to_be_generated"});  // generation default
}

void parse_whisper(Fields& f, Config& c) {
  common(f, c,
         {.tie = true, .bos = 50256, .eos = 50256, .pad = 50256, .decoder_start = 50257, .encoder_decoder = true});
  f.ignore({"is_decoder"});
  c.vocab_size = f.positive("vocab_size", 51865);
  c.num_mel_bins = f.positive("num_mel_bins", 80);
  c.num_layers = f.positive("encoder_layers", 4);
  c.num_heads = c.num_kv_heads = f.positive("encoder_attention_heads", 6);
  c.decoder_layers = f.positive("decoder_layers", 4);
  c.decoder_heads = f.positive("decoder_attention_heads", 6);
  c.decoder_intermediate_size = f.positive("decoder_ffn_dim", 1536);
  c.intermediate_size = f.positive("encoder_ffn_dim", 1536);
  c.hidden_size = c.embedding_size = f.positive("d_model", 384);
  f.alias("hidden_size", c.hidden_size, "d_model");
  f.alias("num_attention_heads", c.num_heads, "encoder_attention_heads");
  f.alias("num_key_value_heads", c.num_heads, "encoder_attention_heads");
  f.alias("num_hidden_layers", c.num_layers, "encoder_layers");
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "d_model", "encoder_attention_heads");
  divide_heads(f, c.hidden_size, c.decoder_heads, "d_model", "decoder_attention_heads");
  c.activation = activation(f, "activation_function", "gelu");
  if (f.boolean("scale_embedding", false)) c.embedding_multiplier = std::sqrt(double(c.hidden_size));
  c.max_source_positions = c.max_position_embeddings = f.positive("max_source_positions", 1500);
  c.max_target_positions = f.positive("max_target_positions", 448);
  c.norm_eps = 1e-5;  // nn.LayerNorm default in modeling_whisper
  c.qkv_bias = c.o_bias = c.mlp_bias = true;  // (k_proj has no bias, fixed by the architecture)
  c.learned_positions = true;
  // WhisperForAudioClassification only; that head is not implemented.
  f.expect_bool("use_weighted_layer_sum", false);
  // SpecAugment (training), cross-attention alignment heads for timestamps,
  // and the classification head's projection size.
  f.ignore({"apply_spec_augment", "mask_time_prob", "mask_time_length", "mask_time_min_masks",
            "mask_feature_prob", "mask_feature_length", "mask_feature_min_masks", "median_filter_width",
            "classifier_proj_size"});
}

// ---------------------------------------------------------------- vision

void vision_patches(Fields& f, Config& c, int64_t image, int64_t patch) {
  c.image_size = f.positive("image_size", image);
  c.patch_size = f.positive("patch_size", patch);
  c.num_channels = f.positive("num_channels", 3);
  if (c.image_size % c.patch_size != 0)
    fail(f.where("image_size"), ": ", c.image_size, " is not a multiple of patch_size ", c.patch_size);
  // the class token + one position per patch
  c.max_position_embeddings = (c.image_size / c.patch_size) * (c.image_size / c.patch_size) + 1;
}

void parse_vit(Fields& f, Config& c) {
  common(f, c, {.tie = false});
  f.ignore({"is_decoder"});
  c.tie_word_embeddings = false;  // no token embeddings to tie
  c.hidden_size = c.embedding_size = f.positive("hidden_size", 768);
  c.num_layers = f.positive("num_hidden_layers", 12);
  c.num_heads = c.num_kv_heads = f.positive("num_attention_heads", 12);
  c.intermediate_size = f.positive("intermediate_size", 3072);
  c.activation = activation(f, "hidden_act", "gelu");
  c.norm_eps = f.positive_num("layer_norm_eps", 1e-12);
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  vision_patches(f, c, 224, 16);
  c.qkv_bias = f.boolean("qkv_bias", true);
  c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
  c.pooler_size = f.nullable_int("pooler_output_size", std::nullopt).value_or(c.hidden_size);
  c.pooler_activation = activation(f, "pooler_act", "tanh");
  f.ignore({"encoder_stride"});  // ViTForMaskedImageModeling's decoder only
}

void clip_tower(Fields& f, Config& c, bool text) {
  common(f, c, text ? Common{.tie = false, .bos = 49406, .eos = 49407, .pad = 1} : Common{.tie = false});
  f.ignore({"is_decoder"});
  c.tie_word_embeddings = false;
  c.hidden_size = c.embedding_size = f.positive("hidden_size", text ? 512 : 768);
  c.intermediate_size = f.positive("intermediate_size", text ? 2048 : 3072);
  c.projection_dim = f.positive("projection_dim", 512);
  c.num_layers = f.positive("num_hidden_layers", 12);
  c.num_heads = c.num_kv_heads = f.positive("num_attention_heads", text ? 8 : 12);
  c.activation = activation(f, "hidden_act", "quick_gelu");
  c.norm_eps = f.positive_num("layer_norm_eps", 1e-5);
  c.head_dim = divide_heads(f, c.hidden_size, c.num_heads, "hidden_size", "num_attention_heads");
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.learned_positions = true;
  if (text) {
    c.vocab_size = f.positive("vocab_size", 49408);
    c.max_position_embeddings = f.positive("max_position_embeddings", 77);
  } else {
    vision_patches(f, c, 224, 32);
  }
}

Config parse_object(const json& obj, const std::string& origin, const std::string& prefix,
                    const ParseOptions& options, std::optional<Arch> expect);

void parse_clip(Fields& f, Config& c, const ParseOptions& options) {
  common(f, c, {.tie = true});
  f.ignore({"is_decoder"});
  c.tie_word_embeddings = false;
  c.projection_dim = f.positive("projection_dim", 512);
  f.ignore({"logit_scale_init_value"});  // initial value of the stored logit_scale weight
  // Early CLIP configs carry text_config_dict / vision_config_dict, which
  // transformers merges over text_config / vision_config.
  auto tower = [&](const char* key, const char* legacy, Arch arch) {
    json merged = json::object();
    for (const char* k : {key, legacy}) {
      const json* v = f.raw(k);
      if (!v || v->is_null()) continue;
      if (!v->is_object()) fail(f.where(k), ": expected an object, got ", type_name(*v));
      for (auto& [field, value] : v->items()) merged[field] = value;
    }
    auto sub = std::make_shared<Config>(parse_object(merged, f.origin(), f.prefix() + key + ".", options, arch));
    sub->raw = std::make_shared<const json>(std::move(merged));
    for (auto& u : sub->unknown_fields) c.unknown_fields.push_back(u);
    return std::shared_ptr<const Config>(std::move(sub));
  };
  c.text = tower("text_config", "text_config_dict", Arch::ClipText);
  c.vision = tower("vision_config", "vision_config_dict", Arch::ClipVision);
}

struct ArchName {
  Arch arch;
  std::string_view name;
};
constexpr ArchName kArchNames[] = {
    {Arch::Llama, "llama"},       {Arch::Mistral, "mistral"},       {Arch::Qwen2, "qwen2"},
    {Arch::Phi3, "phi3"},         {Arch::Gemma, "gemma"},           {Arch::Gemma2, "gemma2"},
    {Arch::StableLm, "stablelm"}, {Arch::Gpt2, "gpt2"},             {Arch::GptNeoX, "gpt_neox"},
    {Arch::Falcon, "falcon"},     {Arch::Bert, "bert"},             {Arch::Roberta, "roberta"},
    {Arch::DistilBert, "distilbert"}, {Arch::Electra, "electra"},   {Arch::Albert, "albert"},
    {Arch::DebertaV2, "deberta-v2"},  {Arch::T5, "t5"},             {Arch::Bart, "bart"},
    {Arch::Whisper, "whisper"},   {Arch::Vit, "vit"},               {Arch::Clip, "clip"},
    {Arch::ClipText, "clip_text_model"}, {Arch::ClipVision, "clip_vision_model"},
};

Config parse_object(const json& obj, const std::string& origin, const std::string& prefix,
                    const ParseOptions& options, std::optional<Arch> expect) {
  if (!obj.is_object())
    fail(origin, ": ", prefix.empty() ? "config" : prefix.substr(0, prefix.size() - 1),
         ": expected a JSON object, got ", type_name(obj));
  Fields f(obj, origin, prefix);
  Config c;
  c.origin = origin;
  auto mt = f.opt_str("model_type");
  if (!mt && expect) mt = std::string(arch_name(*expect));  // sub-configs may omit it
  if (!mt) fail(f.where("model_type"), ": missing (cannot tell the architecture)");
  c.model_type = *mt;
  std::optional<Arch> arch;
  for (const auto& a : kArchNames)
    if (a.name == *mt) arch = a.arch;
  if (!arch) fail(f.where("model_type"), ": unsupported model type ", quote(*mt));
  if (expect && *arch != *expect)
    fail(f.where("model_type"), ": ", quote(*mt), " where ", arch_name(*expect), " was expected");
  c.arch = *arch;

  switch (c.arch) {
    case Arch::Llama: parse_llama(f, c); break;
    case Arch::Mistral: parse_mistral(f, c); break;
    case Arch::Qwen2: parse_qwen2(f, c); break;
    case Arch::Phi3: parse_phi3(f, c); break;
    case Arch::Gemma: parse_gemma(f, c, false); break;
    case Arch::Gemma2: parse_gemma(f, c, true); break;
    case Arch::StableLm: parse_stablelm(f, c); break;
    case Arch::Gpt2: parse_gpt2(f, c); break;
    case Arch::GptNeoX: parse_gpt_neox(f, c); break;
    case Arch::Falcon: parse_falcon(f, c); break;
    case Arch::Bert: parse_bert(f, c); break;
    case Arch::Roberta: parse_roberta(f, c); break;
    case Arch::DistilBert: parse_distilbert(f, c); break;
    case Arch::Electra: parse_electra(f, c); break;
    case Arch::Albert: parse_albert(f, c); break;
    case Arch::DebertaV2: parse_deberta_v2(f, c); break;
    case Arch::T5: parse_t5(f, c); break;
    case Arch::Bart: parse_bart(f, c); break;
    case Arch::Whisper: parse_whisper(f, c); break;
    case Arch::Vit: parse_vit(f, c); break;
    case Arch::Clip: parse_clip(f, c, options); break;
    case Arch::ClipText: clip_tower(f, c, true); break;
    case Arch::ClipVision: clip_tower(f, c, false); break;
  }

  if (c.arch != Arch::Clip) {
    if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
      fail(f.where("num_key_value_heads"), ": ", c.num_kv_heads, " does not divide ", c.num_heads, " attention heads");
    if (c.attn_scale == 0) c.attn_scale = 1.0 / std::sqrt(double(c.head_dim));
  }
  f.finish("model_type " + c.model_type, options, &c.unknown_fields);
  return c;
}

}  // namespace

std::string_view arch_name(Arch a) {
  for (const auto& n : kArchNames)
    if (n.arch == a) return n.name;
  return "?";
}

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::GeluQuick: return "gelu_quick";
    case Activation::Silu: return "silu";
    case Activation::Relu: return "relu";
    case Activation::Tanh: return "tanh";
  }
  return "?";
}

std::optional<Activation> activation_from_hf(std::string_view name) {
  if (name == "gelu" || name == "gelu_python") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast" || name == "gelu_accurate")
    return Activation::GeluTanh;
  if (name == "quick_gelu") return Activation::GeluQuick;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "relu") return Activation::Relu;
  if (name == "tanh") return Activation::Tanh;
  return std::nullopt;
}

std::string_view rope_type_name(RopeType t) {
  switch (t) {
    case RopeType::None: return "none";
    case RopeType::Default: return "default";
    case RopeType::Linear: return "linear";
    case RopeType::Dynamic: return "dynamic";
    case RopeType::Yarn: return "yarn";
    case RopeType::Llama3: return "llama3";
    case RopeType::LongRope: return "longrope";
  }
  return "?";
}

Config parse_config(std::string_view text, const std::string& origin, const ParseOptions& options) {
  auto raw = std::make_shared<const json>(tf::json::parse_strict(text, origin));
  Config c = parse_object(*raw, origin, "", options, std::nullopt);
  c.raw = std::move(raw);
  return c;
}

Config load_config(const std::string& path, const ParseOptions& options) {
  std::error_code ec;
  std::string file = std::filesystem::is_directory(path, ec) ? (std::filesystem::path(path) / "config.json").string()
                                                             : path;
  auto bytes = MappedFile::open(file, LoadMode::Read);
  return parse_config(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), file, options);
}

}  // namespace tf::hf
