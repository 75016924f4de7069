// A Hugging Face model folder's config.json as typed, normalised
// hyperparameters, for the architectures trustformers implements.
//
// Field names differ per model type (n_embd / d_model / dim / hidden_size,
// layer_norm_eps / layer_norm_epsilon / rms_norm_eps, ...), defaults differ
// per model type (transformers' config classes), and transformers 5 moved
// rope_theta into `rope_parameters`. parse_config() resolves all of that into
// one Config, applying each model type's transformers defaults for absent
// fields.
//
// Strict by design: every top-level field must be either understood (it
// feeds a Config field or is checked to have the value the implementation
// assumes) or known to be irrelevant to inference (dropout, initialisation,
// generation defaults, bookkeeping). Anything else, an unknown model_type, an
// unknown activation or RoPE type, or a known option we do not implement
// (falcon alibi, quantization_config, ...) is a one-line tf::Error naming the
// file and the field, because a silently ignored field can change the math.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tf::hf {

enum class Arch {
  Llama, Mistral, Qwen2, Phi3, Gemma, Gemma2, StableLm, Gpt2, GptNeoX, Falcon,          // causal LMs
  Bert, Roberta, DistilBert, Electra, Albert, DebertaV2,                                // encoders
  T5, Bart, Whisper,                                                                    // encoder-decoders
  Vit, Clip, ClipText, ClipVision,                                                      // vision / multimodal
};
std::string_view arch_name(Arch a);  // transformers' model_type ("gpt_neox", "deberta-v2", ...)

// Canonical activation names: "gelu" (erf), "gelu_tanh", "gelu_quick"
// (x * sigmoid(1.702 x)), "silu", "relu", "tanh".
enum class Activation { Gelu, GeluTanh, GeluQuick, Silu, Relu, Tanh };
std::string_view activation_name(Activation a);
// transformers' ACT2FN names: gelu, gelu_python -> Gelu; gelu_new,
// gelu_pytorch_tanh, gelu_fast, gelu_accurate (the same tanh formula) ->
// GeluTanh; quick_gelu; silu, swish; relu; tanh. Others: nullopt.
std::optional<Activation> activation_from_hf(std::string_view name);

enum class Norm { LayerNorm, RmsNorm };

enum class RopeType { None, Default, Linear, Dynamic, Yarn, Llama3, LongRope };
std::string_view rope_type_name(RopeType t);

// Rotary position embedding (rotate-half / NeoX layout in every supported model).
struct Rope {
  RopeType type = RopeType::None;  // None: the model has no rotary embedding
  double theta = 10000.0;
  int64_t rotary_dims = 0;         // leading dims of each head that rotate (head_dim * partial factor)
  double partial_rotary_factor = 1.0;
  double factor = 1.0;             // linear, dynamic, yarn, llama3, longrope
  int64_t original_max_position_embeddings = 0;  // yarn, llama3, longrope (and phi3's top-level field)
  std::optional<double> attention_factor;        // yarn, longrope: nullopt = transformers' derived default
  double beta_fast = 32.0, beta_slow = 1.0;      // yarn
  std::optional<double> mscale, mscale_all_dim;  // yarn (DeepSeek style)
  bool truncate = true;                          // yarn
  double low_freq_factor = 0, high_freq_factor = 0;  // llama3 (required there)
  std::vector<double> short_factor, long_factor;     // longrope, rotary_dims / 2 each
};

enum class AttentionKind { Full, Sliding };
enum class RelativeAttention { None, T5Buckets, Deberta };

struct Config {
  Arch arch = Arch::Llama;
  std::string model_type;                  // as written
  std::vector<std::string> architectures;  // e.g. {"LlamaForCausalLM"}
  std::string dtype;                       // stored weights' dtype ("dtype" / legacy "torch_dtype"), "" if absent

  // Sizes. For encoder-decoders these describe the encoder; decoder_* below.
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t embedding_size = 0;   // token embedding width; differs from hidden_size when factorised (albert, electra)
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;  // token-type (segment) embeddings; 0 = none

  bool is_encoder_decoder = false;
  int64_t decoder_layers = 0, decoder_heads = 0, decoder_intermediate_size = 0;
  int64_t max_target_positions = 0;  // decoder position table (whisper; bart shares max_position_embeddings)

  // Block structure
  Norm norm = Norm::LayerNorm;
  double norm_eps = 1e-5;
  bool norm_unit_offset = false;     // RMSNorm multiplies by (1 + weight) (gemma)
  bool pre_norm = true;              // false: post-norm blocks (BERT family, BART)
  Activation activation = Activation::Gelu;
  bool gated_mlp = false;            // down(act(gate(x)) * up(x))
  bool parallel_residual = false;    // x + attn(norm(x)) + mlp(norm'(x))
  int64_t parallel_norms = 0;        // falcon parallel blocks: 1 shared LayerNorm or 2 (ln_attn, ln_mlp)
  bool qkv_bias = false, o_bias = false, mlp_bias = false;
  bool qk_norm = false;              // per-head LayerNorm of q and k (stablelm qk_layernorm)
  double attn_scale = 0;             // multiplies q.k; head_dim^-0.5 unless the model says otherwise
  double attn_logit_softcapping = 0;   // 0 = off; else scores = cap * tanh(scores / cap) (gemma2)
  double final_logit_softcapping = 0;  // same, on the logits
  double embedding_multiplier = 1;   // token embeddings times this (gemma sqrt(hidden), scale_embedding)
  double lm_head_input_scale = 1;    // decoder output times this before lm_head (t5 d_model^-0.5)
  bool tie_word_embeddings = false;  // lm_head shares the token embedding matrix

  // Positions
  bool learned_positions = false;    // an absolute position table is part of the weights
  int64_t position_offset = 0;       // its row for position 0 (roberta pad_token_id + 1, bart 2)
  Rope rope;
  int64_t sliding_window = 0;        // 0 = none
  std::vector<AttentionKind> layer_types;  // one per (decoder) layer, for causal LMs; empty otherwise

  RelativeAttention relative = RelativeAttention::None;
  struct {
    int64_t num_buckets = 0, max_distance = 0;
  } t5;
  struct {
    int64_t max_relative_positions = 0;  // resolved: -1 in the file means max_position_embeddings
    int64_t position_buckets = 0;        // 0 = no log buckets
    bool c2p = false, p2c = false;       // pos_att_type
    bool share_att_key = false;
    bool norm_rel_ebd = false;           // LayerNorm on the relative embeddings
    bool position_biased_input = true;   // absolute positions added to the input embeddings
    bool legacy_mlm_head = true;         // `legacy`: MLM head weights under cls.predictions
  } deberta;

  int64_t num_hidden_groups = 1, inner_group_num = 1;  // albert layer sharing

  int64_t pooler_size = 0;                      // 0 = the model's default pooler (or none)
  std::optional<Activation> pooler_activation;  // vit pooler_act, deberta pooler_hidden_act
  std::map<int64_t, std::string> id2label;      // classification heads

  std::optional<int64_t> bos_token_id, pad_token_id, sep_token_id, decoder_start_token_id;
  std::vector<int64_t> eos_token_ids;  // config allows one id or a list

  // Vision (vit, clip vision tower)
  int64_t image_size = 0, patch_size = 0, num_channels = 0;
  // Audio (whisper)
  int64_t num_mel_bins = 0, max_source_positions = 0;
  // CLIP: the two towers, each a full Config (arch ClipText / ClipVision)
  std::shared_ptr<const Config> text, vision;
  int64_t projection_dim = 0;

  std::string origin;                       // file the config came from (for messages)
  std::vector<std::string> unknown_fields;  // only filled with ParseOptions::allow_unknown_fields
  // The whole parsed config.json, for rare fields (include <nlohmann/json.hpp> to use it).
  std::shared_ptr<const nlohmann::json> raw;
};

struct ParseOptions {
  // Collect unknown top-level fields in Config::unknown_fields instead of
  // failing (for tools that warn and go on). Known-unsupported values still fail.
  bool allow_unknown_fields = false;
};

// `origin` names the source in error messages.
Config parse_config(std::string_view json_text, const std::string& origin, const ParseOptions& options = {});
// A model folder (reads its config.json) or a config file.
Config load_config(const std::string& path, const ParseOptions& options = {});

}  // namespace tf::hf
