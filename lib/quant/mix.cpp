// llama.cpp's quantization mixes, rule for rule (src/llama-quant.cpp:
// tensor_allows_quantization, llama_tensor_get_type_impl, tensor_type_fallback,
// tensor_requires_imatrix). The branch order below is llama.cpp's: several
// rules overlap and the first that matches wins, and the attn_v / ffn_down
// counters advance only in the branches where llama.cpp advances them.
#include "tf/quant_mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::quant {
namespace {

using FT = FileType;

const std::vector<FileTypeSpec> kFileTypes = {
    {FT::MOSTLY_Q4_0, "Q4_0", DType::Q4_0},         {FT::MOSTLY_Q4_1, "Q4_1", DType::Q4_1},
    {FT::MOSTLY_Q5_0, "Q5_0", DType::Q5_0},         {FT::MOSTLY_Q5_1, "Q5_1", DType::Q5_1},
    {FT::MOSTLY_IQ2_XXS, "IQ2_XXS", DType::IQ2_XXS}, {FT::MOSTLY_IQ2_XS, "IQ2_XS", DType::IQ2_XS},
    {FT::MOSTLY_IQ2_S, "IQ2_S", DType::IQ2_XS},     {FT::MOSTLY_IQ2_M, "IQ2_M", DType::IQ2_S},
    {FT::MOSTLY_IQ1_S, "IQ1_S", DType::IQ1_S},      {FT::MOSTLY_IQ1_M, "IQ1_M", DType::IQ1_M},
    {FT::MOSTLY_TQ1_0, "TQ1_0", DType::TQ1_0},      {FT::MOSTLY_TQ2_0, "TQ2_0", DType::TQ2_0},
    {FT::MOSTLY_Q2_K, "Q2_K", DType::Q2_K},         {FT::MOSTLY_Q2_K_S, "Q2_K_S", DType::Q2_K},
    {FT::MOSTLY_IQ3_XXS, "IQ3_XXS", DType::IQ3_XXS}, {FT::MOSTLY_IQ3_S, "IQ3_S", DType::IQ3_S},
    {FT::MOSTLY_IQ3_M, "IQ3_M", DType::IQ3_S},      {FT::MOSTLY_Q3_K_M, "Q3_K", DType::Q3_K},
    {FT::MOSTLY_IQ3_XS, "IQ3_XS", DType::IQ3_S},    {FT::MOSTLY_Q3_K_S, "Q3_K_S", DType::Q3_K},
    {FT::MOSTLY_Q3_K_M, "Q3_K_M", DType::Q3_K},     {FT::MOSTLY_Q3_K_L, "Q3_K_L", DType::Q3_K},
    {FT::MOSTLY_IQ4_NL, "IQ4_NL", DType::IQ4_NL},   {FT::MOSTLY_IQ4_XS, "IQ4_XS", DType::IQ4_XS},
    {FT::MOSTLY_Q4_K_M, "Q4_K", DType::Q4_K},       {FT::MOSTLY_Q4_K_S, "Q4_K_S", DType::Q4_K},
    {FT::MOSTLY_Q4_K_M, "Q4_K_M", DType::Q4_K},     {FT::MOSTLY_Q5_K_M, "Q5_K", DType::Q5_K},
    {FT::MOSTLY_Q5_K_S, "Q5_K_S", DType::Q5_K},     {FT::MOSTLY_Q5_K_M, "Q5_K_M", DType::Q5_K},
    {FT::MOSTLY_Q6_K, "Q6_K", DType::Q6_K},         {FT::MOSTLY_Q8_0, "Q8_0", DType::Q8_0},
    {FT::MOSTLY_F16, "F16", DType::F16},            {FT::MOSTLY_BF16, "BF16", DType::BF16},
    {FT::ALL_F32, "F32", DType::F32},               {FT::ALL_F32, "COPY", DType::F32, true},
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::string type_name(DType t) { return std::string(dtype_name(t)); }

// Dimensions as ggml counts them: trailing 1s do not count, at least 1.
int n_dims(const std::vector<uint64_t>& ne) {
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) n = int(i) + 1;
  return n;
}

enum class Category { TokenEmbd, AttnQ, AttnV, AttnK, AttnQkv, AttnKvB, AttnOutput, FfnUp, FfnGate, FfnDown, Output, Other };

bool is_token_embd(const std::string& n) { return n == "token_embd.weight" || n == "per_layer_token_embd.weight"; }

Category category(const std::string& n) {
  if (n == "output.weight") return Category::Output;
  if (is_token_embd(n)) return Category::TokenEmbd;
  if (contains(n, "attn_qkv.weight")) return Category::AttnQkv;
  if (contains(n, "attn_kv_b.weight")) return Category::AttnKvB;
  if (contains(n, "attn_v.weight")) return Category::AttnV;
  if (contains(n, "attn_k.weight")) return Category::AttnK;
  if (contains(n, "attn_q.weight")) return Category::AttnQ;
  if (contains(n, "attn_output.weight")) return Category::AttnOutput;
  if (contains(n, "ffn_up")) return Category::FfnUp;
  if (contains(n, "ffn_gate")) return Category::FfnGate;
  if (contains(n, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool is_attn_v_like(Category c) { return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB; }

// Why llama.cpp keeps a tensor as it is, or "" when it may be quantized.
std::string keep_reason(const TensorDesc& t, const MixOptions& o) {
  const std::string& n = t.name;
  if (o.file_type.copy_only) return "COPY keeps every tensor";
  if (n_dims(t.ne) < 2) return "1-D tensor (never quantized)";
  if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return "not a weight (never quantized)";
  if (contains(n, "_norm.weight")) return "norm (never quantized)";
  if (!o.quantize_output && n == "output.weight") return "--leave-output-tensor";
  static const char* const kKept[] = {
      "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
      "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight", "time_mix_first.weight",
      "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
      "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
      "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
      "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
      ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};
  for (const char* k : kKept)
    if (contains(n, k)) return std::string("kept as llama.cpp keeps '") + k + "' tensors";
  if (n == "position_embd.weight" || n == "token_types.weight") return "position / token-type embedding (never quantized)";
  return "";
}

bool needs_imatrix(const std::string& name, DType t, FileType ft) {
  if (is_token_embd(name) || name == "output.weight") return false;
  switch (t) {
    case DType::IQ3_XXS: case DType::IQ2_XXS: case DType::IQ2_XS: case DType::IQ2_S: case DType::IQ1_M:
    case DType::IQ1_S: return true;
    case DType::Q2_K: return ft == FT::MOSTLY_Q2_K_S;  // only Q2_K_S's Q2_K tensors
    default: return false;
  }
}

struct Counters {
  int n_attention_wv = 0, n_ffn_down = 0, n_ffn_gate = 0, n_ffn_up = 0;
  int i_attention_wv = 0, i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
  bool tied_embeddings = true;  // until an output.weight is seen
};

struct Choice {
  DType type;
  std::string reason;
  void set(DType t, std::string why) {
    type = t;
    reason = std::move(why);
  }
};

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

std::string layer_str(int i, int n) { return " (layer " + std::to_string(i) + " of " + std::to_string(n) + ")"; }

// llama_tensor_get_type_impl: the mix's rule for one quantizable tensor.
void apply_mix(const ModelShape& m, Counters& qs, const TensorDesc& t, const MixOptions& o, Category cat, Choice& c) {
  const FT ft = o.file_type.type;
  const std::string mix(o.file_type.name);
  const bool falcon = m.arch == "falcon";
  const int n_expert = std::max(1, m.n_expert);
  auto layer_info = [&](int i_layer, int n_layer) {
    if (n_expert > 1) {
      // experts are not stored in layer order, so the name says the layer
      if (std::sscanf(t.name.c_str(), "blk.%d.", &i_layer) != 1) fail("cannot tell the layer of tensor ", t.name);
      if (i_layer < 0 || i_layer >= n_layer) fail("tensor ", t.name, ": layer ", i_layer, " outside [0, ", n_layer, ")");
    }
    return std::make_pair(i_layer, n_layer);
  };
  auto is = [ft](std::initializer_list<FT> set) { return std::find(set.begin(), set.end(), ft) != set.end(); };
  const bool iq2_family = is({FT::MOSTLY_IQ2_XXS, FT::MOSTLY_IQ2_XS, FT::MOSTLY_IQ1_S, FT::MOSTLY_IQ2_S,
                              FT::MOSTLY_IQ2_M, FT::MOSTLY_IQ1_M});

  if (cat == Category::Output || (qs.tied_embeddings && cat == Category::TokenEmbd)) {
    std::string what = cat == Category::Output ? "output tensor" : "token embeddings tied to the output";
    if (o.output_tensor_type) {
      c.set(*o.output_tensor_type, what + ": --output-tensor-type");
    } else {
      const uint64_t nx = t.ne[0];
      const uint64_t qk = traits(c.type).block_size;
      if (falcon || nx % qk != 0) {
        c.set(DType::Q8_0, what + (falcon ? ": q8_0 for falcon" : ": q8_0 (row length not a multiple of the block)"));
      } else if (is({FT::MOSTLY_IQ2_XXS, FT::MOSTLY_IQ2_XS, FT::MOSTLY_IQ3_XXS, FT::MOSTLY_IQ1_S, FT::MOSTLY_IQ2_S,
                     FT::MOSTLY_IQ2_M, FT::MOSTLY_IQ1_M})) {
        c.set(DType::Q5_K, what + ": q5_K in " + mix);
      } else if (c.type != DType::Q8_0) {
        c.set(DType::Q6_K, what + ": q6_K in " + mix);
      } else {
        c.reason = what + ": q8_0 stays";
      }
    }
  } else if (cat == Category::TokenEmbd) {
    if (o.token_embedding_type) {
      c.set(*o.token_embedding_type, "token embeddings: --token-embedding-type");
    } else if (is({FT::MOSTLY_IQ2_XXS, FT::MOSTLY_IQ2_XS, FT::MOSTLY_IQ1_S, FT::MOSTLY_IQ1_M})) {
      c.set(DType::Q2_K, "token embeddings: q2_K in " + mix);
    } else if (is({FT::MOSTLY_IQ2_S, FT::MOSTLY_IQ2_M, FT::MOSTLY_IQ3_XXS})) {
      c.set(DType::IQ3_S, "token embeddings: iq3_s in " + mix);
    } else if (is({FT::MOSTLY_TQ1_0, FT::MOSTLY_TQ2_0})) {
      c.set(DType::Q4_K, "token embeddings: q4_K in " + mix);
    }
  } else if (iq2_family) {
    const bool s_or_m = is({FT::MOSTLY_IQ2_S, FT::MOSTLY_IQ2_M});
    if (is_attn_v_like(cat)) {
      if (m.n_gqa() >= 4 || m.n_expert >= 4)
        c.set(DType::Q4_K, "attn_v: q4_K with grouped-query attention (gqa >= 4) or >= 4 experts in " + mix);
      else
        c.set(s_or_m ? DType::IQ3_S : DType::Q2_K, "attn_v: more bits in " + mix);
      ++qs.i_attention_wv;
    } else if (m.n_expert == 8 && cat == Category::AttnK) {
      c.set(DType::Q4_K, "attn_k: q4_K for 8 experts in " + mix);
    } else if (cat == Category::FfnDown) {
      if (qs.i_ffn_down < qs.n_ffn_down / 8)
        c.set(s_or_m ? DType::IQ3_S : DType::Q2_K,
              "ffn_down: more bits in the first eighth of the layers" + layer_str(qs.i_ffn_down, qs.n_ffn_down));
      ++qs.i_ffn_down;
    } else if (cat == Category::AttnOutput) {
      if (m.n_expert == 8) {
        c.set(DType::Q5_K, "attn_output: q5_K for 8 experts in " + mix);
      } else if (is({FT::MOSTLY_IQ1_S, FT::MOSTLY_IQ1_M})) {
        c.set(DType::IQ2_XXS, "attn_output: iq2_xxs in " + mix);
      } else if (s_or_m) {
        c.set(DType::IQ3_S, "attn_output: iq3_s in " + mix);
      }
    }
  } else if (is_attn_v_like(cat)) {
    const int gqa = m.n_gqa();
    const std::string where = layer_str(qs.i_attention_wv, qs.n_attention_wv);
    if (ft == FT::MOSTLY_Q2_K) {
      c.set(gqa >= 4 ? DType::Q4_K : DType::Q3_K, gqa >= 4 ? "attn_v: q4_K with gqa >= 4 in Q2_K" : "attn_v: q3_K in Q2_K");
    } else if (ft == FT::MOSTLY_Q2_K_S && gqa >= 4) {
      c.set(DType::Q4_K, "attn_v: q4_K with gqa >= 4 in Q2_K_S");
    } else if (ft == FT::MOSTLY_IQ3_XXS) {
      if (gqa >= 4)
        c.set(DType::Q4_K, "attn_v: q4_K with gqa >= 4 in IQ3_XXS");
      else if (!o.has_imatrix)
        c.set(DType::IQ3_S, "attn_v: iq3_s without an imatrix in IQ3_XXS");
      else
        c.set(DType::IQ3_XXS, "attn_v: iq3_xxs with an imatrix in IQ3_XXS");
    } else if (is({FT::MOSTLY_IQ3_XS, FT::MOSTLY_IQ3_S}) && gqa >= 4) {
      c.set(DType::Q4_K, "attn_v: q4_K with gqa >= 4 in " + mix);
    } else if (ft == FT::MOSTLY_IQ3_M) {
      c.set(DType::Q4_K, "attn_v: q4_K in IQ3_M");
    } else if (ft == FT::MOSTLY_Q3_K_M) {
      c.set(qs.i_attention_wv < 2 ? DType::Q5_K : DType::Q4_K,
            std::string("attn_v: ") + (qs.i_attention_wv < 2 ? "q5_K in the first 2 layers" : "q4_K") + " in Q3_K_M" + where);
    } else if (ft == FT::MOSTLY_Q3_K_L) {
      c.set(DType::Q5_K, "attn_v: q5_K in Q3_K_L");
    } else if (is({FT::MOSTLY_IQ4_NL, FT::MOSTLY_IQ4_XS}) && gqa >= 4) {
      c.set(DType::Q5_K, "attn_v: q5_K with gqa >= 4 in " + mix);
    } else if (is({FT::MOSTLY_Q4_K_M, FT::MOSTLY_Q5_K_M}) && use_more_bits(qs.i_attention_wv, qs.n_attention_wv)) {
      c.set(DType::Q6_K, "attn_v: q6_K in a more-bits layer of " + mix + where);
    } else if (ft == FT::MOSTLY_Q4_K_S && qs.i_attention_wv < 4) {
      c.set(DType::Q5_K, "attn_v: q5_K in the first 4 layers of Q4_K_S" + where);
    }
    if (m.is_70b && (c.type == DType::Q3_K || c.type == DType::Q4_K))
      c.set(DType::Q5_K, "attn_v: q5_K in a 70B model (8 heads share attn_v)");
    if (m.n_expert == 8) c.set(DType::Q8_0, "attn_v: q8_0 for 8 experts");
    ++qs.i_attention_wv;
  } else if (cat == Category::AttnK) {
    if (m.n_expert == 8)
      c.set(DType::Q8_0, "attn_k: q8_0 for 8 experts");
    else if (ft == FT::MOSTLY_IQ3_XS)
      c.set(DType::IQ3_XXS, "attn_k: iq3_xxs in IQ3_XS");
    else if (ft == FT::MOSTLY_IQ3_XXS)
      c.set(DType::IQ2_S, "attn_k: iq2_s in IQ3_XXS");
  } else if (cat == Category::AttnQ) {
    if (ft == FT::MOSTLY_IQ3_XS)
      c.set(DType::IQ3_XXS, "attn_q: iq3_xxs in IQ3_XS");
    else if (ft == FT::MOSTLY_IQ3_XXS)
      c.set(DType::IQ2_S, "attn_q: iq2_s in IQ3_XXS");
  } else if (cat == Category::FfnDown) {
    auto [i_layer, n_layer] = layer_info(qs.i_ffn_down, qs.n_ffn_down);
    const std::string where = layer_str(i_layer, n_layer);
    const bool more = use_more_bits(i_layer, n_layer);
    if (ft == FT::MOSTLY_Q2_K) {
      c.set(DType::Q3_K, "ffn_down: q3_K in Q2_K");
    } else if (ft == FT::MOSTLY_Q2_K_S) {
      if (i_layer < n_layer / 8) c.set(DType::Q4_K, "ffn_down: q4_K in the first eighth of Q2_K_S" + where);
    } else if (ft == FT::MOSTLY_IQ3_XXS && !o.has_imatrix) {
      c.set(i_layer < n_layer / 8 ? DType::Q4_K : DType::Q3_K, "ffn_down: k-quant without an imatrix in IQ3_XXS" + where);
    } else if (ft == FT::MOSTLY_Q3_K_M) {
      if (i_layer < n_layer / 16)
        c.set(DType::Q5_K, "ffn_down: q5_K in the first sixteenth of Q3_K_M" + where);
      else if (!falcon || more)
        c.set(DType::Q4_K, "ffn_down: q4_K in Q3_K_M" + where);
      else
        c.set(DType::Q3_K, "ffn_down: q3_K in Q3_K_M (falcon)" + where);
    } else if (ft == FT::MOSTLY_IQ3_M && (i_layer < n_layer / 8 || (m.n_expert == 8 && more))) {
      c.set(DType::Q4_K, "ffn_down: q4_K in IQ3_M" + where);
    } else if (ft == FT::MOSTLY_Q3_K_L) {
      c.set(falcon ? DType::Q4_K : DType::Q5_K, "ffn_down: more bits in Q3_K_L");
    } else if (ft == FT::MOSTLY_Q4_K_M) {
      if (falcon) {
        if (i_layer < n_layer / 16)
          c.set(DType::Q6_K, "ffn_down: q6_K in the first sixteenth of Q4_K_M (falcon)" + where);
        else
          c.set(more ? DType::Q5_K : DType::Q4_K, "ffn_down: falcon's Q4_K_M rule" + where);
      } else if (more) {
        c.set(DType::Q6_K, "ffn_down: q6_K in a more-bits layer of Q4_K_M" + where);
      }
    } else if (i_layer < n_layer / 8 && is({FT::MOSTLY_IQ4_NL, FT::MOSTLY_IQ4_XS}) && !o.has_imatrix) {
      c.set(DType::Q5_K, "ffn_down: q5_K in the first eighth of " + mix + " without an imatrix" + where);
    } else if (ft == FT::MOSTLY_Q5_K_M && more) {
      c.set(DType::Q6_K, "ffn_down: q6_K in a more-bits layer of Q5_K_M" + where);
    } else if (ft == FT::MOSTLY_Q4_K_S && !falcon && i_layer < n_layer / 8) {
      c.set(DType::Q5_K, "ffn_down: q5_K in the first eighth of Q4_K_S" + where);
    } else if (is({FT::MOSTLY_Q4_0, FT::MOSTLY_Q5_0}) && o.has_imatrix && i_layer < n_layer / 8) {
      c.set(ft == FT::MOSTLY_Q4_0 ? DType::Q4_1 : DType::Q5_1,
            "ffn_down: with an imatrix, q4_1/q5_1 in the first eighth of " + mix + where);
    }
    ++qs.i_ffn_down;
  } else if (cat == Category::AttnOutput) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (is({FT::MOSTLY_Q2_K, FT::MOSTLY_IQ3_XS, FT::MOSTLY_IQ3_XXS, FT::MOSTLY_Q3_K_S, FT::MOSTLY_Q3_K_M,
                FT::MOSTLY_IQ4_NL, FT::MOSTLY_Q4_K_S, FT::MOSTLY_Q4_K_M, FT::MOSTLY_IQ3_S, FT::MOSTLY_IQ3_M,
                FT::MOSTLY_IQ4_XS}))
          c.set(DType::Q5_K, "attn_output: q5_K for 8 experts in " + mix);
      } else if (ft == FT::MOSTLY_Q2_K) {
        c.set(DType::Q3_K, "attn_output: q3_K in Q2_K");
      } else if (ft == FT::MOSTLY_IQ3_XXS) {
        c.set(DType::IQ3_S, "attn_output: iq3_s in IQ3_XXS");
      } else if (ft == FT::MOSTLY_Q3_K_M) {
        c.set(DType::Q4_K, "attn_output: q4_K in Q3_K_M");
      } else if (ft == FT::MOSTLY_Q3_K_L) {
        c.set(DType::Q5_K, "attn_output: q5_K in Q3_K_L");
      } else if (ft == FT::MOSTLY_IQ3_M) {
        c.set(DType::Q4_K, "attn_output: q4_K in IQ3_M");
      }
    } else if (ft == FT::MOSTLY_Q3_K_L) {
      c.set(DType::Q4_K, "attn_output: q4_K in Q3_K_L (falcon)");
    }
  } else if (cat == Category::AttnQkv) {
    // unreachable: attn_qkv is attn_v-like above (as in llama.cpp)
  } else if (cat == Category::FfnGate || cat == Category::FfnUp) {
    int& i = cat == Category::FfnGate ? qs.i_ffn_gate : qs.i_ffn_up;
    int n = cat == Category::FfnGate ? qs.n_ffn_gate : qs.n_ffn_up;
    auto [i_layer, n_layer] = layer_info(i, n);
    if (ft == FT::MOSTLY_IQ3_XS && i_layer >= n_layer / 8 && i_layer < 7 * n_layer / 8)
      c.set(DType::IQ3_XXS, std::string(cat == Category::FfnGate ? "ffn_gate" : "ffn_up") +
                                ": iq3_xxs in the middle layers of IQ3_XS" + layer_str(i_layer, n_layer));
    ++i;
  }
}

// tensor_type_fallback: a type whose block does not divide the row length.
void apply_fallback(const TensorDesc& t, Choice& c, bool& fell_back) {
  const uint64_t ncols = t.ne[0];
  const uint64_t qk = traits(c.type).block_size;
  if (ncols % qk == 0) return;
  DType to = c.type;
  switch (c.type) {
    case DType::IQ1_S: case DType::IQ1_M: case DType::IQ2_XXS: case DType::IQ2_XS: case DType::IQ2_S:
    case DType::IQ3_XXS: case DType::IQ3_S: case DType::IQ4_XS: to = DType::IQ4_NL; break;
    case DType::Q2_K: case DType::Q3_K: case DType::TQ1_0: case DType::TQ2_0: to = DType::Q4_0; break;
    case DType::Q4_K: to = DType::Q5_0; break;
    case DType::Q5_K: to = DType::Q5_1; break;
    case DType::Q6_K: to = DType::Q8_0; break;
    default:
      if (qk > 32) fail("no fallback type for ", dtype_name(c.type), " (tensor ", t.name, ")");
  }
  if (ncols % traits(to).block_size != 0) to = DType::F16;  // not even a multiple of 32: rare
  c.reason += "; fallback " + type_name(c.type) + " -> " + type_name(to) + ": row length " + std::to_string(ncols) +
              " is not a multiple of " + std::to_string(qk);
  c.type = to;
  fell_back = true;
}

}  // namespace

const std::vector<FileTypeSpec>& file_types() { return kFileTypes; }

std::optional<FileTypeSpec> parse_file_type(std::string_view name) {
  for (const FileTypeSpec& s : kFileTypes)
    if (iequal(s.name, name)) return s;
  if (!name.empty() && std::all_of(name.begin(), name.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
    unsigned long n = std::stoul(std::string(name));
    for (const FileTypeSpec& s : kFileTypes)
      if (uint32_t(s.type) == n && !s.copy_only) return s;
  }
  return std::nullopt;
}

std::string_view file_type_name(FileType t) {
  // the full name (Q4_K_M), not an alias (Q4_K), comes later in the table
  std::string_view found;
  for (const FileTypeSpec& s : kFileTypes)
    if (s.type == t && !s.copy_only) found = s.name;
  return found;
}

ModelShape ModelShape::from_gguf(const gguf::File& f) {
  ModelShape m;
  m.arch = f.architecture();
  auto first = [&](const std::string& key, int fallback) -> int {
    const gguf::Value* v = f.find(key);
    if (!v) return fallback;
    if (v->is_array()) return v->size() ? int(v->at(0).as_i64()) : fallback;
    return int(v->as_i64());
  };
  m.n_layer = first(m.arch + ".block_count", 0);
  m.n_head = first(m.arch + ".attention.head_count", 0);
  m.n_head_kv = first(m.arch + ".attention.head_count_kv", m.n_head);
  m.n_expert = first(m.arch + ".expert_count", 0);
  // llama.cpp's LLM_TYPE_70B, per architecture (src/models/*.cpp)
  if (m.arch == "llama") m.is_70b = m.n_expert != 8 && m.n_layer == 80 && m.n_head != m.n_head_kv;
  if (m.arch == "qwen2" || m.arch == "deci" || m.arch == "olmo") m.is_70b = m.n_layer == 80;
  if (m.arch == "jais2") m.is_70b = m.n_layer == 68;
  return m;
}

TensorOverride parse_tensor_override(std::string_view arg) {
  size_t eq = arg.rfind('=');
  if (eq == std::string_view::npos) fail("--tensor-type '", arg, "': expected REGEX=TYPE");
  if (eq == 0) fail("--tensor-type '", arg, "': missing tensor name pattern");
  std::string pattern(arg.substr(0, eq));
  std::transform(pattern.begin(), pattern.end(), pattern.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  std::string_view tname = arg.substr(eq + 1);
  auto t = dtype_from_name(tname);
  if (!t) fail("--tensor-type '", arg, "': unknown type '", tname, "'");
  TensorOverride o;
  o.pattern = pattern;
  o.type = *t;
  try {
    o.re = std::regex(pattern);
  } catch (const std::regex_error& e) {
    fail("--tensor-type '", arg, "': bad regular expression: ", e.what());
  }
  return o;
}

void apply_rules_file(const std::string& path, MixOptions& o) {
  nlohmann::json j = read_json_file(path);
  auto type_of = [&](const char* key) {
    const auto& v = j.at(key);
    if (!v.is_string()) fail(path, ": ", key, " must be a type name");
    auto t = dtype_from_name(v.get<std::string>());
    if (!t) fail(path, ": ", key, ": unknown type '", v.get<std::string>(), "'");
    return *t;
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "type") {
      if (!value.is_string()) fail(path, ": type must be a mix name such as Q4_K_M");
      auto ft = parse_file_type(value.get<std::string>());
      if (!ft) fail(path, ": unknown mix '", value.get<std::string>(), "'");
      o.file_type = *ft;
    } else if (key == "pure") {
      if (!value.is_boolean()) fail(path, ": pure must be true or false");
      o.pure = value.get<bool>();
    } else if (key == "output_tensor_type") {
      o.output_tensor_type = type_of("output_tensor_type");
    } else if (key == "token_embedding_type") {
      o.token_embedding_type = type_of("token_embedding_type");
    } else if (key == "tensor_types") {
      if (!value.is_array()) fail(path, ": tensor_types must be an array of {\"pattern\", \"type\"}");
      for (const auto& r : value) {
        if (!r.is_object() || !r.contains("pattern") || !r.contains("type") || !r["pattern"].is_string() ||
            !r["type"].is_string())
          fail(path, ": every tensor_types entry needs string fields \"pattern\" and \"type\"");
        o.overrides.push_back(parse_tensor_override(r["pattern"].get<std::string>() + "=" + r["type"].get<std::string>()));
      }
    } else {
      fail(path, ": unknown field '", key, "' (type, pure, output_tensor_type, token_embedding_type, tensor_types)");
    }
  }
}

std::vector<size_t> llama_tensor_order(const std::vector<std::string>& names) {
  auto layer = [](const std::string& n) {
    int l = -1;
    std::sscanf(n.c_str(), "blk.%d.", &l);
    return l;
  };
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int la = layer(names[a]), lb = layer(names[b]);
    if (la != lb) return la < lb;
    return names[a] < names[b];
  });
  return order;
}

std::vector<TensorDesc> ordered_tensors(const gguf::File& file) {
  std::vector<std::string> names;
  for (const gguf::TensorInfo& t : file.tensors()) names.push_back(t.name);
  std::vector<TensorDesc> out;
  for (size_t i : llama_tensor_order(names)) {
    const gguf::TensorInfo& t = file.tensors()[i];
    out.push_back({t.name, t.ne, t.type});
  }
  return out;
}

std::vector<TensorChoice> choose_types(const ModelShape& m, const std::vector<TensorDesc>& tensors, const MixOptions& o) {
  Counters qs;
  for (const TensorDesc& t : tensors) {
    Category c = category(t.name);
    if (is_attn_v_like(c)) ++qs.n_attention_wv;
    if (c == Category::Output) qs.tied_embeddings = false;
  }
  qs.n_ffn_down = qs.n_ffn_gate = qs.n_ffn_up = m.n_layer;

  const DType base = o.file_type.base;
  const bool base_quantized = traits(base).is_quantized;
  const std::string mix(o.file_type.name);
  std::vector<TensorChoice> out;
  out.reserve(tensors.size());
  for (const TensorDesc& t : tensors) {
    TensorChoice r;
    std::string keep = keep_reason(t, o);
    if (!keep.empty()) {
      r.type = t.type;
      r.reason = keep;
      out.push_back(r);
      continue;
    }
    r.quantizable = true;
    Category cat = category(t.name);
    Choice c{base, "base type " + type_name(base) + " of " + mix};
    const TensorOverride* manual = nullptr;
    for (const TensorOverride& ov : o.overrides)
      if (std::regex_search(t.name, ov.re)) {
        manual = &ov;
        break;
      }
    bool fell_back = false;
    if (manual) {
      // Unlike llama.cpp, an override wins over everything: the mix, --pure,
      // --output-tensor-type / --token-embedding-type and non-quantized mixes.
      c.set(manual->type, "--tensor-type " + manual->pattern + "=" + type_name(manual->type));
      apply_fallback(t, c, fell_back);
    } else if (o.token_embedding_type && cat == Category::TokenEmbd) {
      c.set(*o.token_embedding_type, "--token-embedding-type");
    } else if (o.output_tensor_type && cat == Category::Output) {
      c.set(*o.output_tensor_type, "--output-tensor-type");
    } else if (base_quantized) {
      if (o.pure)
        c.reason = "--pure: base type " + type_name(base);
      else
        apply_mix(m, qs, t, o, cat, c);
      apply_fallback(t, c, fell_back);
    }
    r.type = c.type;
    r.reason = std::move(c.reason);
    r.fallback = fell_back;
    r.requires_imatrix = needs_imatrix(t.name, r.type, o.file_type.type);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tf::quant
