#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "common/test_paths.h"
#include "tf/error.h"
#include "tf/hf_config.h"

namespace tf::hf {
namespace {

namespace fs = std::filesystem;

Config zoo(const std::string& folder) { return load_config((test::shared_models() / folder).string()); }

Config parse(const std::string& text) { return parse_config(text, "config.json"); }

void expect_error(const std::string& text, std::initializer_list<std::string> fragments) {
  SCOPED_TRACE(text);
  try {
    parse(text);
    ADD_FAILURE() << "expected a tf::Error containing '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("config.json: ", 0), 0u) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

std::vector<AttentionKind> kinds(std::initializer_list<int> sliding) {
  std::vector<AttentionKind> out;
  for (int s : sliding) out.push_back(s ? AttentionKind::Sliding : AttentionKind::Full);
  return out;
}

// ---------------------------------------------------------------- the zoo

TEST(HfConfigZoo, EveryConfigParses) {
  TF_REQUIRE_SHARED_MODELS();
  size_t n = 0;
  for (const char* group : {"parity", "trained"}) {
    for (const auto& entry : fs::directory_iterator(test::shared_models() / group)) {
      SCOPED_TRACE(entry.path().string());
      Config c = load_config(entry.path().string());
      EXPECT_EQ(c.origin, (entry.path() / "config.json").string());
      EXPECT_TRUE(c.unknown_fields.empty());
      ASSERT_NE(c.raw, nullptr);
      EXPECT_EQ(c.model_type, c.raw->at("model_type").get<std::string>());
      EXPECT_EQ(arch_name(c.arch), c.model_type);
      EXPECT_FALSE(c.architectures.empty());
      if (c.arch != Arch::Clip) {
        EXPECT_GT(c.hidden_size, 0);
        EXPECT_GT(c.num_layers, 0);
        EXPECT_GT(c.head_dim, 0);
        EXPECT_GT(c.attn_scale, 0);
      }
      ++n;
    }
  }
  EXPECT_EQ(n, 23u);
}

TEST(HfConfigZoo, CausalLMs) {
  TF_REQUIRE_SHARED_MODELS();
  {
    Config c = zoo("parity/llama");
    EXPECT_EQ(c.arch, Arch::Llama);
    EXPECT_EQ(c.architectures, std::vector<std::string>{"LlamaForCausalLM"});
    EXPECT_EQ(c.dtype, "float32");
    EXPECT_EQ(c.vocab_size, 1000);
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.num_kv_heads, 2);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.intermediate_size, 128);
    EXPECT_EQ(c.norm, Norm::RmsNorm);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
    EXPECT_EQ(c.activation, Activation::Silu);
    EXPECT_TRUE(c.gated_mlp);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_FALSE(c.qkv_bias || c.o_bias || c.mlp_bias);
    EXPECT_EQ(c.rope.type, RopeType::Default);
    EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
    EXPECT_EQ(c.rope.rotary_dims, 16);
    EXPECT_DOUBLE_EQ(c.attn_scale, 0.25);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
    EXPECT_EQ(c.pad_token_id, std::nullopt);
    EXPECT_EQ(c.layer_types, kinds({0, 0}));
    EXPECT_EQ(c.sliding_window, 0);
  }
  {
    Config c = zoo("trained/llama-shakespeare");
    EXPECT_EQ(c.dtype, "bfloat16");
    EXPECT_EQ(c.vocab_size, 32000);
    EXPECT_EQ(c.num_heads, 8);
    EXPECT_EQ(c.num_kv_heads, 4);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.max_position_embeddings, 512);
    EXPECT_TRUE(c.tie_word_embeddings);
  }
  {
    Config c = zoo("parity/mistral");
    EXPECT_EQ(c.sliding_window, 8);
    EXPECT_EQ(c.layer_types, kinds({1, 1}));
    EXPECT_EQ(c.num_kv_heads, 2);
  }
  {
    Config c = zoo("parity/qwen2");
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_FALSE(c.o_bias);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
    EXPECT_EQ(c.sliding_window, 0);
    EXPECT_EQ(c.layer_types, kinds({0, 0}));
  }
  {
    Config c = zoo("parity/phi3");
    EXPECT_EQ(c.num_kv_heads, 4);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.rope.rotary_dims, 16);
    EXPECT_EQ(c.rope.original_max_position_embeddings, 128);
    EXPECT_EQ(c.pad_token_id, 0);
    EXPECT_EQ(c.sliding_window, 0);
  }
  {
    Config c = zoo("parity/gemma");
    EXPECT_EQ(c.num_kv_heads, 1);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.activation, Activation::GeluTanh);
    EXPECT_TRUE(c.norm_unit_offset);
    EXPECT_DOUBLE_EQ(c.embedding_multiplier, 8.0);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
    EXPECT_EQ(c.bos_token_id, 2);
  }
  {
    Config c = zoo("parity/stablelm");
    EXPECT_EQ(c.norm, Norm::LayerNorm);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.rope.rotary_dims, 4);  // partial_rotary_factor 0.25 of 16
    EXPECT_DOUBLE_EQ(c.rope.partial_rotary_factor, 0.25);
    EXPECT_TRUE(c.gated_mlp);
    EXPECT_FALSE(c.parallel_residual);
    EXPECT_FALSE(c.qkv_bias);
    EXPECT_FALSE(c.qk_norm);
  }
  {
    Config c = zoo("parity/gpt_neox");
    EXPECT_EQ(c.rope.rotary_dims, 4);
    EXPECT_TRUE(c.parallel_residual);
    EXPECT_EQ(c.parallel_norms, 2);
    EXPECT_TRUE(c.qkv_bias && c.o_bias && c.mlp_bias);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.activation, Activation::Gelu);
    EXPECT_FALSE(c.gated_mlp);
    EXPECT_EQ(c.intermediate_size, 256);
  }
  {
    Config c = zoo("parity/falcon");
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.num_kv_heads, 2);  // new_decoder_architecture reads num_kv_heads
    EXPECT_TRUE(c.parallel_residual);
    EXPECT_EQ(c.parallel_norms, 2);
    EXPECT_FALSE(c.qkv_bias || c.mlp_bias);
    EXPECT_EQ(c.intermediate_size, 256);
    EXPECT_EQ(c.rope.type, RopeType::Default);
    EXPECT_EQ(c.rope.rotary_dims, 16);
    EXPECT_TRUE(c.tie_word_embeddings);
  }
  for (const char* folder : {"parity/gpt2", "trained/gpt2-shakespeare"}) {
    Config c = zoo(folder);
    EXPECT_EQ(c.arch, Arch::Gpt2);
    EXPECT_EQ(c.activation, Activation::GeluTanh);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_TRUE(c.learned_positions);
    EXPECT_EQ(c.rope.type, RopeType::None);
    EXPECT_EQ(c.intermediate_size, 4 * c.hidden_size);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  }
  Config g = zoo("trained/gpt2-shakespeare");
  EXPECT_EQ(g.vocab_size, 50257);
  EXPECT_EQ(g.max_position_embeddings, 512);
  EXPECT_EQ(g.dtype, "float16");
  EXPECT_EQ(g.eos_token_ids, std::vector<int64_t>{50256});
}

TEST(HfConfigZoo, Encoders) {
  TF_REQUIRE_SHARED_MODELS();
  for (const char* folder : {"parity/bert", "trained/bert-shakespeare"}) {
    Config c = zoo(folder);
    EXPECT_EQ(c.arch, Arch::Bert);
    EXPECT_FALSE(c.pre_norm);
    EXPECT_EQ(c.type_vocab_size, 2);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-12);
    EXPECT_EQ(c.activation, Activation::Gelu);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.position_offset, 0);
  }
  EXPECT_EQ(zoo("trained/bert-shakespeare").vocab_size, 30522);
  {
    Config c = zoo("parity/roberta");
    EXPECT_EQ(c.position_offset, 2);
    EXPECT_EQ(c.max_position_embeddings, 130);
    EXPECT_EQ(c.type_vocab_size, 1);
    EXPECT_EQ(c.pad_token_id, 1);
  }
  {
    Config c = zoo("parity/distilbert");
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.intermediate_size, 256);
    EXPECT_EQ(c.type_vocab_size, 0);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-12);
  }
  {
    Config c = zoo("parity/electra");
    EXPECT_EQ(c.embedding_size, 32);
    EXPECT_EQ(c.hidden_size, 64);
  }
  {
    Config c = zoo("parity/albert");
    EXPECT_EQ(c.embedding_size, 32);
    EXPECT_EQ(c.activation, Activation::GeluTanh);
    EXPECT_EQ(c.num_hidden_groups, 1);
    EXPECT_EQ(c.inner_group_num, 1);
    EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{3});
  }
  {
    Config c = zoo("parity/deberta-v2");
    EXPECT_EQ(c.relative, RelativeAttention::Deberta);
    EXPECT_TRUE(c.deberta.c2p && c.deberta.p2c);
    EXPECT_EQ(c.deberta.position_buckets, 32);
    EXPECT_EQ(c.deberta.max_relative_positions, 128);
    EXPECT_TRUE(c.deberta.share_att_key);
    EXPECT_TRUE(c.deberta.norm_rel_ebd);
    EXPECT_FALSE(c.deberta.position_biased_input);
    EXPECT_FALSE(c.learned_positions);
    EXPECT_EQ(c.type_vocab_size, 0);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-7);
    EXPECT_DOUBLE_EQ(c.attn_scale, 1.0 / std::sqrt(48.0));
  }
  {
    Config c = zoo("parity/vit");
    EXPECT_EQ(c.image_size, 32);
    EXPECT_EQ(c.patch_size, 8);
    EXPECT_EQ(c.num_channels, 3);
    EXPECT_EQ(c.max_position_embeddings, 17);
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_EQ(c.pooler_size, 64);
    EXPECT_EQ(c.pooler_activation, Activation::Tanh);
    EXPECT_TRUE(c.pre_norm);
  }
  {
    Config c = zoo("parity/clip");
    EXPECT_EQ(c.projection_dim, 32);
    ASSERT_TRUE(c.text && c.vision);
    EXPECT_EQ(c.text->arch, Arch::ClipText);
    EXPECT_EQ(c.text->vocab_size, 1000);
    EXPECT_EQ(c.text->max_position_embeddings, 32);
    EXPECT_EQ(c.text->eos_token_ids, std::vector<int64_t>{999});
    EXPECT_EQ(c.text->activation, Activation::GeluQuick);
    EXPECT_EQ(c.text->projection_dim, 512);
    EXPECT_EQ(c.vision->arch, Arch::ClipVision);
    EXPECT_EQ(c.vision->image_size, 32);
    EXPECT_EQ(c.vision->patch_size, 8);
    EXPECT_EQ(c.vision->max_position_embeddings, 17);
    EXPECT_DOUBLE_EQ(c.vision->norm_eps, 1e-5);
  }
}

TEST(HfConfigZoo, EncoderDecoders) {
  TF_REQUIRE_SHARED_MODELS();
  {
    Config c = zoo("parity/t5");
    EXPECT_TRUE(c.is_encoder_decoder);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.intermediate_size, 128);
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.decoder_layers, 2);
    EXPECT_EQ(c.relative, RelativeAttention::T5Buckets);
    EXPECT_EQ(c.t5.num_buckets, 32);
    EXPECT_EQ(c.t5.max_distance, 128);
    EXPECT_EQ(c.activation, Activation::Relu);
    EXPECT_FALSE(c.gated_mlp);
    EXPECT_EQ(c.norm, Norm::RmsNorm);
    EXPECT_DOUBLE_EQ(c.attn_scale, 1.0);
    EXPECT_DOUBLE_EQ(c.lm_head_input_scale, 0.125);
    EXPECT_EQ(c.decoder_start_token_id, 0);
  }
  {
    Config c = zoo("parity/bart");
    EXPECT_EQ(c.position_offset, 2);
    EXPECT_EQ(c.decoder_layers, 2);
    EXPECT_EQ(c.decoder_heads, 4);
    EXPECT_EQ(c.decoder_intermediate_size, 128);
    EXPECT_FALSE(c.pre_norm);
    EXPECT_DOUBLE_EQ(c.embedding_multiplier, 1.0);
    EXPECT_EQ(c.decoder_start_token_id, 2);
    EXPECT_EQ(c.id2label.size(), 3u);
    EXPECT_EQ(c.id2label.at(2), "LABEL_2");
  }
  {
    Config c = zoo("parity/whisper");
    EXPECT_EQ(c.num_mel_bins, 80);
    EXPECT_EQ(c.max_source_positions, 16);
    EXPECT_EQ(c.max_target_positions, 64);
    EXPECT_EQ(c.decoder_intermediate_size, 128);
    EXPECT_TRUE(c.pre_norm);
    EXPECT_EQ(c.decoder_start_token_id, 1);
  }
}

// ---------------------------------------------------------------- transformers' defaults

TEST(HfConfigDefaults, AbsentFieldsTakeEachModelTypesDefaults) {
  {
    Config c = parse(R"({"model_type": "llama"})");
    EXPECT_EQ(c.vocab_size, 32000);
    EXPECT_EQ(c.hidden_size, 4096);
    EXPECT_EQ(c.num_kv_heads, 32);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-6);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.max_position_embeddings, 2048);
  }
  {
    Config c = parse(R"({"model_type": "mistral"})");
    EXPECT_EQ(c.sliding_window, 4096);
    EXPECT_EQ(c.num_kv_heads, 8);
    EXPECT_EQ(c.layer_types.size(), 32u);
    EXPECT_EQ(c.layer_types[0], AttentionKind::Sliding);
    Config off = parse(R"({"model_type": "mistral", "sliding_window": null, "num_key_value_heads": null})");
    EXPECT_EQ(off.sliding_window, 0);
    EXPECT_EQ(off.layer_types[0], AttentionKind::Full);
    EXPECT_EQ(off.num_kv_heads, 32);
  }
  {
    Config c = parse(R"({"model_type": "gemma2", "num_hidden_layers": 4})");
    EXPECT_EQ(c.head_dim, 256);
    EXPECT_DOUBLE_EQ(c.attn_scale, 1.0 / 16);
    EXPECT_DOUBLE_EQ(c.attn_logit_softcapping, 50.0);
    EXPECT_DOUBLE_EQ(c.final_logit_softcapping, 30.0);
    EXPECT_EQ(c.sliding_window, 4096);
    EXPECT_EQ(c.layer_types, kinds({1, 0, 1, 0}));
    EXPECT_TRUE(c.tie_word_embeddings);
    Config off = parse(R"({"model_type": "gemma2", "attn_logit_softcapping": null, "final_logit_softcapping": null,
                           "query_pre_attn_scalar": 144})");
    EXPECT_EQ(off.attn_logit_softcapping, 0);
    EXPECT_EQ(off.final_logit_softcapping, 0);
    EXPECT_DOUBLE_EQ(off.attn_scale, 1.0 / 12);
  }
  {
    Config c = parse(R"({"model_type": "qwen2", "num_hidden_layers": 4, "use_sliding_window": true,
                         "sliding_window": 64, "max_window_layers": 2})");
    EXPECT_EQ(c.sliding_window, 64);
    EXPECT_EQ(c.layer_types, kinds({0, 0, 1, 1}));
    EXPECT_TRUE(c.qkv_bias);
  }
  EXPECT_TRUE(parse(R"({"model_type": "gpt2"})").tie_word_embeddings);
  EXPECT_FALSE(parse(R"({"model_type": "gpt_neox"})").tie_word_embeddings);
  EXPECT_FALSE(parse(R"({"model_type": "stablelm"})").tie_word_embeddings);
  EXPECT_TRUE(parse(R"({"model_type": "falcon", "num_attention_heads": 4, "hidden_size": 64})").tie_word_embeddings);
  {
    Config c = parse(R"({"model_type": "falcon", "num_attention_heads": 8, "hidden_size": 64})");
    EXPECT_EQ(c.num_kv_heads, 1);  // multi_query default, old architecture
    EXPECT_TRUE(c.parallel_residual);
    EXPECT_EQ(c.parallel_norms, 1);
    Config seq = parse(R"({"model_type": "falcon", "num_attention_heads": 8, "hidden_size": 64,
                           "multi_query": false, "parallel_attn": false})");
    EXPECT_EQ(seq.num_kv_heads, 8);
    EXPECT_FALSE(seq.parallel_residual);
  }
  {
    Config c = parse(R"({"model_type": "roberta"})");
    EXPECT_EQ(c.pad_token_id, 1);
    EXPECT_EQ(c.position_offset, 2);
  }
  {
    Config c = parse(R"({"model_type": "t5", "feed_forward_proj": "gated-gelu", "tie_word_embeddings": false})");
    EXPECT_TRUE(c.gated_mlp);
    EXPECT_EQ(c.activation, Activation::GeluTanh);  // gated-gelu means gelu_new
    EXPECT_DOUBLE_EQ(c.lm_head_input_scale, 1.0);  // T5 v1.1: untied, no rescale
    Config scaled = parse(R"({"model_type": "t5", "tie_word_embeddings": false, "scale_decoder_outputs": true})");
    EXPECT_DOUBLE_EQ(scaled.lm_head_input_scale, 1.0 / std::sqrt(512.0));
  }
  {
    Config c = parse(R"({"model_type": "bart", "scale_embedding": true, "d_model": 64,
                         "encoder_attention_heads": 4, "decoder_attention_heads": 4})");
    EXPECT_DOUBLE_EQ(c.embedding_multiplier, 8.0);
  }
  {
    Config c = parse(R"({"model_type": "deberta-v2", "pos_att_type": "p2c|c2p", "relative_attention": true,
                         "hidden_size": 64, "num_attention_heads": 4})");
    EXPECT_TRUE(c.deberta.c2p && c.deberta.p2c);
    EXPECT_EQ(c.deberta.max_relative_positions, 512);
    EXPECT_EQ(c.deberta.position_buckets, 0);
  }
}

// Shapes of widely used hub configs, with the legacy fields they carry.
TEST(HfConfigDefaults, RealWorldLegacyFields) {
  {
    Config c = parse(R"({"architectures": ["T5ForConditionalGeneration"], "d_ff": 1024, "d_kv": 64, "d_model": 512,
      "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
      "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true, "is_gated_act": true,
      "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512, "num_decoder_layers": 8, "num_heads": 6,
      "num_layers": 8, "output_past": true, "pad_token_id": 0, "relative_attention_max_distance": 128,
      "relative_attention_num_buckets": 32, "task_specific_params": {}, "tie_word_embeddings": false,
      "torch_dtype": "float32", "transformers_version": "4.23.1", "use_cache": true, "vocab_size": 32128})");
    EXPECT_EQ(c.dtype, "float32");
    EXPECT_EQ(c.num_heads, 6);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_TRUE(c.gated_mlp);
  }
  {
    Config c = parse(R"({"activation_dropout": 0.1, "activation_function": "gelu", "add_bias_logits": false,
      "add_final_layer_norm": false, "architectures": ["BartModel"], "attention_dropout": 0.1, "bos_token_id": 0,
      "classif_dropout": 0.1, "classifier_dropout": 0.0, "d_model": 1024, "decoder_attention_heads": 16,
      "decoder_ffn_dim": 4096, "decoder_layerdrop": 0.0, "decoder_layers": 12, "decoder_start_token_id": 2,
      "dropout": 0.1, "early_stopping": true, "encoder_attention_heads": 16, "encoder_ffn_dim": 4096,
      "encoder_layerdrop": 0.0, "encoder_layers": 12, "eos_token_id": 2, "forced_eos_token_id": 2,
      "gradient_checkpointing": false, "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
      "init_std": 0.02, "is_encoder_decoder": true, "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
      "max_position_embeddings": 1024, "model_type": "bart", "no_repeat_ngram_size": 3, "normalize_before": false,
      "num_beams": 4, "num_hidden_layers": 12, "pad_token_id": 1, "scale_embedding": false,
      "task_specific_params": {"summarization": {"length_penalty": 1.0}}, "vocab_size": 50265})");
    EXPECT_EQ(c.num_layers, 12);
    EXPECT_EQ(c.head_dim, 64);
  }
  {
    Config c = parse(R"({"model_type": "clip", "projection_dim": 512,
      "text_config": {"model_type": "clip_text_model", "bos_token_id": 0, "eos_token_id": 2, "pruned_heads": {},
                      "architectures": null, "bad_words_ids": null, "is_decoder": false, "vocab_size": 49408},
      "text_config_dict": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8},
      "vision_config": {"model_type": "clip_vision_model", "tie_word_embeddings": true},
      "vision_config_dict": {"hidden_size": 768, "image_size": 224, "patch_size": 32}})");
    EXPECT_EQ(c.text->hidden_size, 512);
    EXPECT_EQ(c.text->eos_token_ids, std::vector<int64_t>{2});
    EXPECT_EQ(c.vision->max_position_embeddings, 50);
  }
}

TEST(HfConfigRope, LegacyAndScaledForms) {
  {
    Config c = parse(R"({"model_type": "llama", "rope_theta": 500000.0,
                         "rope_scaling": {"type": "linear", "factor": 4.0}})");
    EXPECT_EQ(c.rope.type, RopeType::Linear);
    EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
    EXPECT_DOUBLE_EQ(c.rope.factor, 4.0);
  }
  {
    Config c = parse(R"({"model_type": "llama", "max_position_embeddings": 131072,
                         "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
    EXPECT_EQ(c.rope.type, RopeType::Llama3);
    EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
    EXPECT_DOUBLE_EQ(c.rope.high_freq_factor, 4.0);
    EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  }
  {
    Config c = parse(R"({"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4,
                         "num_key_value_heads": 4, "max_position_embeddings": 4096,
                         "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                          "original_max_position_embeddings": 1024}})");
    EXPECT_EQ(c.rope.type, RopeType::Yarn);
    EXPECT_EQ(c.rope.original_max_position_embeddings, 1024);
    EXPECT_DOUBLE_EQ(c.rope.beta_fast, 32.0);
    EXPECT_DOUBLE_EQ(c.rope.beta_slow, 1.0);
    EXPECT_FALSE(c.rope.attention_factor);
  }
  {
    Config c = parse(R"({"model_type": "gpt_neox", "hidden_size": 64, "num_attention_heads": 4,
                         "rotary_pct": 0.5, "rotary_emb_base": 20000})");
    EXPECT_EQ(c.rope.rotary_dims, 8);
    EXPECT_DOUBLE_EQ(c.rope.theta, 20000.0);
  }
  {
    std::string factors = "[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]";
    Config c = parse(R"({"model_type": "phi3", "hidden_size": 64, "num_attention_heads": 4,
                         "max_position_embeddings": 512, "original_max_position_embeddings": 128,
                         "rope_scaling": {"type": "longrope", "short_factor": )" + factors +
                     R"(, "long_factor": )" + factors + "}}");
    EXPECT_EQ(c.rope.type, RopeType::LongRope);
    EXPECT_DOUBLE_EQ(c.rope.factor, 4.0);  // max / original, as transformers derives it for phi3
    EXPECT_EQ(c.rope.long_factor.size(), 8u);
  }
}

// ---------------------------------------------------------------- refusals

TEST(HfConfigErrors, UnsupportedOrUnknownFieldsNameTheField) {
  expect_error(R"({"model_type": "llama", "foo_bar": 1})", {"'foo_bar'", "unknown field for model_type llama"});
  expect_error(R"({"model_type": "mamba"})", {"model_type", "unsupported model type 'mamba'"});
  expect_error(R"({"hidden_size": 8})", {"model_type", "missing"});
  expect_error(R"({"model_type": "llama", "hidden_act": "relu6"})", {"hidden_act", "unsupported activation 'relu6'"});
  expect_error(R"({"model_type": "llama", "rope_scaling": {"type": "ntk-by-parts", "factor": 2}})",
               {"rope_scaling.type", "unsupported RoPE type"});
  expect_error(R"({"model_type": "llama", "rope_scaling": {"rope_type": "linear"}})",
               {"rope_scaling.factor", "required"});
  expect_error(R"({"model_type": "llama", "rope_parameters": {"rope_type": "default", "factor": 2.0}})",
               {"'rope_parameters.factor'", "unknown field for RoPE type default"});
  expect_error(R"({"model_type": "llama", "rope_theta": 1000.0, "rope_parameters": {"rope_theta": 10000.0}})",
               {"rope_theta", "contradicts"});
  expect_error(R"({"model_type": "falcon", "alibi": true})", {"alibi", "ALiBi"});
  expect_error(R"({"model_type": "falcon", "new_decoder_architecture": true, "num_ln_in_parallel_attn": 3})",
               {"num_ln_in_parallel_attn"});
  expect_error(R"({"model_type": "llama", "quantization_config": {"quant_method": "gptq"}})",
               {"quantization_config", "quantized"});
  expect_error(R"({"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": true})",
               {"scale_attn_by_inverse_layer_idx", "not supported"});
  expect_error(R"({"model_type": "gpt2", "n_embd": 64, "hidden_size": 128})", {"hidden_size", "conflicts with n_embd"});
  expect_error(R"({"model_type": "bert", "position_embedding_type": "relative_key"})",
               {"position_embedding_type", "'relative_key'", "not supported"});
  expect_error(R"({"model_type": "bert", "is_decoder": true})", {"is_decoder"});
  expect_error(R"({"model_type": "bert", "add_cross_attention": true})", {"add_cross_attention"});
  expect_error(R"({"model_type": "t5", "feed_forward_proj": "gated-relu-x"})", {"feed_forward_proj"});
  expect_error(R"({"model_type": "t5", "feed_forward_proj": "gated-gelu", "is_gated_act": false})", {"is_gated_act"});
  expect_error(R"({"model_type": "t5", "is_encoder_decoder": false})", {"is_encoder_decoder", "contradicts"});
  expect_error(R"({"model_type": "deberta-v2", "conv_kernel_size": 3})", {"conv_kernel_size"});
  expect_error(R"({"model_type": "deberta-v2", "pos_att_type": ["p2p"]})", {"pos_att_type", "'p2p'"});
  expect_error(R"({"model_type": "bart", "normalize_before": true})", {"normalize_before"});
  expect_error(R"({"model_type": "whisper", "use_weighted_layer_sum": true})", {"use_weighted_layer_sum"});
  expect_error(R"({"model_type": "gemma", "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh"})",
               {"hidden_activation", "contradicts hidden_act"});
  expect_error(R"({"model_type": "clip", "text_config": {"hidden_size": 64, "num_attention_heads": 4, "mystery": 1}})",
               {"'text_config.mystery'", "unknown field for model_type clip_text_model"});
  expect_error(R"({"model_type": "clip", "vision_config": {"model_type": "clip_text_model"}})",
               {"vision_config.model_type"});
}

TEST(HfConfigErrors, BadValuesAndTypes) {
  expect_error(R"({"model_type": "llama", "hidden_size": "64"})", {"hidden_size", "expected an integer, got string"});
  expect_error(R"({"model_type": "llama", "hidden_size": 64.5})", {"hidden_size", "expected an integer"});
  expect_error(R"({"model_type": "llama", "hidden_size": -64})", {"hidden_size", "must be positive"});
  expect_error(R"({"model_type": "llama", "hidden_size": 100, "num_attention_heads": 3})",
               {"hidden_size", "not divisible"});
  expect_error(R"({"model_type": "llama", "num_attention_heads": 32, "num_key_value_heads": 5})",
               {"num_key_value_heads", "does not divide"});
  expect_error(R"({"model_type": "llama", "tie_word_embeddings": "yes"})", {"tie_word_embeddings", "true or false"});
  expect_error(R"({"model_type": "mistral", "num_hidden_layers": 2, "layer_types": ["full_attention"]})",
               {"layer_types", "1 entries for 2 layers"});
  expect_error(R"({"model_type": "mistral", "num_hidden_layers": 1, "layer_types": ["chunked_attention"]})",
               {"layer_types", "unsupported layer type"});
  expect_error(R"({"model_type": "stablelm", "hidden_size": 64, "num_attention_heads": 4,
                   "partial_rotary_factor": 0.1})",
               {"partial_rotary_factor", "rotary dims"});
  expect_error(R"({"model_type": "llama", "model_type": "gpt2"})", {"duplicate key 'model_type'"});
  expect_error(R"({"model_type": "llama",)", {"invalid JSON"});
  expect_error(R"([1, 2])", {"expected a JSON object"});
}

TEST(HfConfigOptions, LenientModeCollectsUnknownFields) {
  ParseOptions lenient;
  lenient.allow_unknown_fields = true;
  Config c = parse_config(R"({"model_type": "llama", "foo": 1, "text_bar": {}})", "config.json", lenient);
  EXPECT_EQ(c.unknown_fields, (std::vector<std::string>{"foo", "text_bar"}));
  // known-unsupported values still fail
  EXPECT_THROW(parse_config(R"({"model_type": "falcon", "alibi": true})", "config.json", lenient), Error);
}

TEST(HfConfigNames, ActivationsAndTypes) {
  EXPECT_EQ(activation_from_hf("gelu_pytorch_tanh"), Activation::GeluTanh);
  EXPECT_EQ(activation_from_hf("gelu_new"), Activation::GeluTanh);
  EXPECT_EQ(activation_from_hf("swish"), Activation::Silu);
  EXPECT_EQ(activation_from_hf("quick_gelu"), Activation::GeluQuick);
  EXPECT_EQ(activation_from_hf("gelu_10"), std::nullopt);
  EXPECT_EQ(activation_name(Activation::GeluTanh), "gelu_tanh");
  EXPECT_EQ(rope_type_name(RopeType::LongRope), "longrope");
  EXPECT_EQ(arch_name(Arch::DebertaV2), "deberta-v2");
  EXPECT_THROW(load_config("/nonexistent/folder"), Error);
}

}  // namespace
}  // namespace tf::hf
