#include "models/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"
#include "tf/model_format.h"

namespace tf::models {
namespace {

kernels::Activation kernel_activation(const std::string& where, hf::Activation a) {
  switch (a) {
    case hf::Activation::Gelu: return kernels::Activation::Gelu;
    case hf::Activation::GeluTanh: return kernels::Activation::GeluTanh;
    case hf::Activation::Relu: return kernels::Activation::Relu;
    case hf::Activation::Silu: return kernels::Activation::Silu;
    default: fail(where, ": activation ", hf::activation_name(a), " is not supported in encoders yet");
  }
}

HeadAct head_activation(const std::string& where, hf::Activation a) {
  switch (a) {
    case hf::Activation::Gelu: return HeadAct::Gelu;
    case hf::Activation::GeluTanh: return HeadAct::GeluTanh;
    case hf::Activation::Relu: return HeadAct::Relu;
    case hf::Activation::Tanh: return HeadAct::Tanh;
    default: fail(where, ": head activation ", hf::activation_name(a), " is not supported yet");
  }
}

EncoderHead head_from_architectures(const std::vector<std::string>& archs) {
  for (const std::string& a : archs) {
    if (a.ends_with("ForMaskedLM") || a.ends_with("ForPreTraining")) return EncoderHead::MaskedLm;
    if (a.ends_with("ForSequenceClassification")) return EncoderHead::SequenceClassification;
    if (a.ends_with("ForTokenClassification")) return EncoderHead::TokenClassification;
    if (a.ends_with("ForQuestionAnswering")) return EncoderHead::QuestionAnswering;
  }
  return EncoderHead::None;
}

// A Linear that is the tied embedding matrix when `name`.weight is absent.
Linear tied_or(const Weights& w, const std::string& name, const Tensor* tied, const std::string& bias_name) {
  Linear l = load_linear(w, name, false);
  if (!l.w) l.w = tied;
  if (l.b.empty()) l.b = to_f32(w.find(bias_name));
  if (!l.b.empty() && int64_t(l.b.size()) != l.out()) fail(w.path(), ": ", bias_name, " has the wrong size");
  return l;
}

std::vector<HeadStep> mlm_head(const Weights& w, const hf::Config& c, int64_t d) {
  struct Names {
    std::string dense, norm, decoder, bias;
    hf::Activation act;
  };
  Names n;
  switch (c.arch) {
    case hf::Arch::Bert:
    case hf::Arch::DebertaV2:
      if (c.arch == hf::Arch::DebertaV2 && !c.deberta.legacy_mlm_head)
        fail(w.path(), ": DeBERTa's non-legacy MLM head (lm_predictions) is not supported yet");
      n = {"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
           "cls.predictions.bias", c.activation};
      break;
    case hf::Arch::Roberta:  // RobertaLMHead always uses erf GELU
      n = {"lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias", hf::Activation::Gelu};
      break;
    case hf::Arch::DistilBert:
      n = {"vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias", c.activation};
      break;
    case hf::Arch::Electra:  // ElectraGeneratorPredictions: get_activation("gelu")
      n = {"generator_predictions.dense", "generator_predictions.LayerNorm", "generator_lm_head",
           "generator_lm_head.bias", hf::Activation::Gelu};
      break;
    case hf::Arch::Albert:
      n = {"predictions.dense", "predictions.LayerNorm", "predictions.decoder", "predictions.bias", c.activation};
      break;
    default: fail(w.path(), ": no masked-LM head for ", hf::arch_name(c.arch));
  }
  HeadStep transform;
  transform.lin = load_linear(w, n.dense);
  transform.act = head_activation(w.path(), n.act);
  const Tensor* embd = &w.get("token_embd.weight");
  transform.norm = load_norm(w, n.norm, embd->dim(1));
  if (!transform.norm.present()) fail(w.path(), ": the masked-LM head has no ", n.norm, ".weight");
  if (transform.lin.in() != d) fail(w.path(), ": ", n.dense, " does not take the hidden size ", d);
  HeadStep decoder;
  decoder.lin = tied_or(w, n.decoder, embd, n.bias);
  return {std::move(transform), std::move(decoder)};
}

std::vector<HeadStep> sequence_head(const Weights& w, const hf::Config& c) {
  HeadStep pre, out;
  switch (c.arch) {
    case hf::Arch::Bert:
      pre = {load_linear(w, "pooler.dense"), HeadAct::Tanh, {}};
      out.lin = load_linear(w, "classifier");
      break;
    case hf::Arch::Albert:
      pre = {load_linear(w, "pooler"), HeadAct::Tanh, {}};
      out.lin = load_linear(w, "classifier");
      break;
    case hf::Arch::DebertaV2:
      pre = {load_linear(w, "pooler.dense"), head_activation(w.path(), c.pooler_activation.value_or(hf::Activation::Gelu)), {}};
      out.lin = load_linear(w, "classifier");
      break;
    case hf::Arch::Roberta:
      pre = {load_linear(w, "classifier.dense"), HeadAct::Tanh, {}};
      out.lin = load_linear(w, "classifier.out_proj");
      break;
    case hf::Arch::Electra:  // ElectraClassificationHead: get_activation("gelu")
      pre = {load_linear(w, "classifier.dense"), HeadAct::Gelu, {}};
      out.lin = load_linear(w, "classifier.out_proj");
      break;
    case hf::Arch::DistilBert:
      pre = {load_linear(w, "pre_classifier"), HeadAct::Relu, {}};
      out.lin = load_linear(w, "classifier");
      break;
    default: fail(w.path(), ": no sequence-classification head for ", hf::arch_name(c.arch));
  }
  return {std::move(pre), std::move(out)};
}

void check_chain(const Weights& w, const std::vector<HeadStep>& steps, int64_t in, const char* what) {
  for (const HeadStep& s : steps) {
    if (s.lin.in() != in) fail(w.path(), ": the ", what, " head expects width ", s.lin.in(), " where ", in, " arrives");
    in = s.lin.out();
  }
}

// A sentence-transformers folder names its pooling in modules.json ->
// the Pooling module's config.json; "" when there is none.
std::string sentence_transformers_pooling(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path modules = fs::path(dir) / "modules.json";
  if (!fs::exists(modules)) return "";
  nlohmann::json list = read_json_file(modules.string());
  if (!list.is_array()) fail(modules.string(), ": expected a JSON array");
  for (const auto& mod : list) {
    if (!mod.is_object() || mod.value("type", "") != "sentence_transformers.models.Pooling") continue;
    nlohmann::json cfg = read_json_file((fs::path(dir) / mod.value("path", "") / "config.json").string());
    if (cfg.value("pooling_mode_cls_token", false)) return "cls";
    if (cfg.value("pooling_mode_mean_tokens", false)) return "mean";
    fail(modules.string(), ": only mean and CLS pooling are supported");
  }
  return "";
}

}  // namespace

EncoderModel EncoderModel::build(const Weights& w) {
  const hf::Config& c = w.config();
  EncoderModel m;
  m.config = c;
  switch (c.arch) {
    case hf::Arch::Bert: case hf::Arch::Roberta: case hf::Arch::DistilBert: case hf::Arch::Electra:
    case hf::Arch::Albert: case hf::Arch::DebertaV2: break;
    default: fail(w.path(), ": ", hf::arch_name(c.arch), " is not an encoder this build runs");
  }
  const int64_t d = c.hidden_size;
  m.act = kernel_activation(w.path(), c.activation);
  m.q_dim = c.num_heads * c.head_dim;
  m.token_embd = &w.get("token_embd.weight");
  const int64_t E = m.token_embd->dim(1);
  if (m.token_embd->ndim() != 2) fail(w.path(), ": token_embd.weight is not a matrix");
  m.position_embd = w.find("position_embd.weight");
  if (c.learned_positions && !m.position_embd) fail(w.path(), ": the model has no tensor position_embd.weight");
  m.token_types = c.type_vocab_size > 0 ? w.find("token_types.weight") : nullptr;
  for (const Tensor* t : {m.position_embd, m.token_types})
    if (t && (t->ndim() != 2 || t->dim(1) != E))
      fail(w.path(), ": position / token-type embeddings are ", t->shape_string(), ", expected width ", E);
  m.norm_before_proj = c.arch != hf::Arch::DebertaV2;
  m.embd_norm = load_norm(w, "token_embd_norm", m.norm_before_proj ? E : d);
  if (!m.embd_norm.present()) fail(w.path(), ": the model has no tensor token_embd_norm.weight");
  m.embd_proj = load_linear(w, "token_embd_proj", E != d);
  if (m.embd_proj.w && (m.embd_proj.in() != E || m.embd_proj.out() != d))
    fail(w.path(), ": token_embd_proj is ", m.embd_proj.w->shape_string(), ", expected [", d, ", ", E, "]");
  if (const gguf::File* g = w.gguf()) {
    uint64_t p = g->get_u64("bert.pooling_type", 0);  // llama.cpp: 1 mean, 2 cls
    m.pooling = p == 1 ? "mean" : p == 2 ? "cls" : "";
  } else {
    m.pooling = sentence_transformers_pooling(w.path());
  }

  int64_t distinct = c.num_layers;
  if (c.arch == hf::Arch::Albert) {
    if (c.inner_group_num != 1) fail(w.path(), ": ALBERT with inner_group_num ", c.inner_group_num, " is not supported");
    distinct = c.num_hidden_groups;
  }
  for (int64_t i = 0; i < distinct; ++i) {
    std::string b = "blk." + std::to_string(i) + ".";
    EncoderLayer L;
    L.q = load_linear(w, b + "attn_q");
    L.k = load_linear(w, b + "attn_k");
    L.v = load_linear(w, b + "attn_v");
    L.o = load_linear(w, b + "attn_output");
    L.up = load_linear(w, b + "ffn_up");
    L.down = load_linear(w, b + "ffn_down");
    L.pos_q = load_linear(w, b + "attn_pos_q", false);
    L.pos_k = load_linear(w, b + "attn_pos_k", false);
    L.attn_norm = load_norm(w, b + "attn_output_norm", d);
    L.out_norm = load_norm(w, b + "layer_output_norm", d);
    if (!L.attn_norm.present() || !L.out_norm.present()) fail(w.path(), ": ", b, " lacks its LayerNorms");
    if (L.q.out() != m.q_dim || L.k.out() != m.q_dim || L.v.out() != m.q_dim || L.q.in() != d || L.o.out() != d ||
        L.o.in() != m.q_dim || L.up.out() != c.intermediate_size || L.down.in() != c.intermediate_size)
      fail(w.path(), ": ", b, " projections do not match the configuration");
    m.layers.push_back(std::move(L));
  }
  // AlbertTransformer: group int(i / (num_hidden_layers / num_hidden_groups)), a float division
  for (int64_t i = 0; i < c.num_layers; ++i)
    m.layer_of.push_back(c.arch == hf::Arch::Albert
                             ? size_t(double(i) / (double(c.num_layers) / double(c.num_hidden_groups)))
                             : size_t(i));

  if (c.relative == hf::RelativeAttention::Deberta) {
    const auto& r = c.deberta;
    m.att_span = r.position_buckets > 0 ? r.position_buckets : r.max_relative_positions;
    const Tensor& rel = w.get("rel_embd.weight");
    if (rel.ndim() != 2 || rel.dim(1) != d || rel.dim(0) < 2 * m.att_span)
      fail(w.path(), ": rel_embd.weight is ", rel.shape_string(), ", expected at least [", 2 * m.att_span, ", ", d, "]");
    std::vector<float> all = to_f32(&rel);
    m.rel_embd.assign(all.begin(), all.begin() + 2 * m.att_span * d);
    if (r.norm_rel_ebd) {
      NormWeights n = load_norm(w, "rel_embd_norm", d);
      if (!n.present()) fail(w.path(), ": norm_rel_ebd asks for the missing rel_embd_norm.weight");
      cpu_backend().layer_norm(m.rel_embd.data(), n.w.data(), n.b.empty() ? nullptr : n.b.data(), m.rel_embd.data(),
                               size_t(2 * m.att_span), size_t(d), float(c.norm_eps));
    }
    for (const EncoderLayer& L : m.layers)
      if (!r.share_att_key && ((r.c2p && !L.pos_k.w) || (r.p2c && !L.pos_q.w)))
        fail(w.path(), ": DeBERTa without share_att_key needs pos_key_proj / pos_query_proj");
  }

  m.head = head_from_architectures(c.architectures);
  switch (m.head) {
    case EncoderHead::MaskedLm: m.mlm = mlm_head(w, c, d); check_chain(w, m.mlm, d, "masked-LM"); break;
    case EncoderHead::SequenceClassification:
      m.sequence = sequence_head(w, c);
      check_chain(w, m.sequence, d, "classification");
      break;
    case EncoderHead::TokenClassification:
      m.token = {HeadStep{load_linear(w, "classifier"), HeadAct::None, {}}};
      check_chain(w, m.token, d, "token-classification");
      break;
    case EncoderHead::QuestionAnswering:
      m.qa = {HeadStep{load_linear(w, "qa_outputs"), HeadAct::None, {}}};
      check_chain(w, m.qa, d, "question-answering");
      if (m.qa[0].lin.out() != 2) fail(w.path(), ": qa_outputs must have 2 outputs (start, end)");
      break;
    case EncoderHead::None: break;
  }
  return m;
}

}  // namespace tf::models

namespace tf {
using models::EncoderLayer;
using models::EncoderModel;
using models::HeadAct;
using models::HeadStep;
using models::Linear;
using models::NormWeights;

std::string_view encoder_head_name(EncoderHead h) {
  switch (h) {
    case EncoderHead::None: return "none";
    case EncoderHead::MaskedLm: return "masked-lm";
    case EncoderHead::SequenceClassification: return "sequence-classification";
    case EncoderHead::TokenClassification: return "token-classification";
    case EncoderHead::QuestionAnswering: return "question-answering";
  }
  return "?";
}

bool is_encoder_model(const std::string& path) {
  if (detect_model_format(path) == ModelFormat::Gguf)
    return gguf::File::open(path).get_string("general.architecture", "") == "bert";
  switch (hf::load_config(path).arch) {
    case hf::Arch::Bert: case hf::Arch::Roberta: case hf::Arch::DistilBert: case hf::Arch::Electra:
    case hf::Arch::Albert: case hf::Arch::DebertaV2: return true;
    default: return false;
  }
}

std::unique_ptr<Encoder> Encoder::load(const std::string& path, LoadMode mode) {
  std::unique_ptr<Encoder> e(new Encoder());
  e->weights_ = std::make_unique<models::Weights>(models::Weights::open(path, mode));
  e->impl_ = std::make_unique<EncoderModel>(EncoderModel::build(*e->weights_));
  return e;
}

Encoder::~Encoder() = default;
const hf::Config& Encoder::config() const { return impl_->config; }
const std::string& Encoder::path() const { return weights_->path(); }
const gguf::File* Encoder::gguf() const { return weights_->gguf(); }
std::string Encoder::arch_name() const { return std::string(hf::arch_name(impl_->config.arch)); }
int64_t Encoder::hidden_size() const { return impl_->config.hidden_size; }
int64_t Encoder::n_layers() const { return impl_->config.num_layers; }
uint64_t Encoder::parameter_count() const { return weights_->parameter_count(); }
uint64_t Encoder::weight_bytes() const { return weights_->bytes(); }
EncoderHead Encoder::head() const { return impl_->head; }
std::string Encoder::default_pooling() const { return impl_->pooling; }

int64_t Encoder::max_tokens() const {
  const EncoderModel& m = *impl_;
  return m.position_embd ? m.position_embd->dim(0) - m.config.position_offset : 0;
}

namespace {

void apply_linear(Backend& be, const Linear& l, const float* x, size_t rows, float* y, size_t ldy) {
  be.linear(x, rows, *l.w, l.b.empty() ? nullptr : l.b.data(), y, ldy);
}

void apply_norm(Backend& be, const NormWeights& n, float* x, size_t rows, size_t dim, float eps) {
  be.layer_norm(x, n.w.data(), n.b.empty() ? nullptr : n.b.data(), x, rows, dim, eps);
}

// x [rows, width of the first step's input] through the steps into out.
void apply_head(const std::vector<HeadStep>& steps, const float* x, size_t rows, float eps, float* out,
                const char* what) {
  if (steps.empty()) fail("the model has no ", what, " head");
  Backend& be = cpu_backend();
  std::vector<float> a, b;
  const float* in = x;
  for (size_t i = 0; i < steps.size(); ++i) {
    const HeadStep& s = steps[i];
    const size_t n = size_t(s.lin.out());
    float* y;
    if (i + 1 == steps.size()) {
      y = out;
    } else {
      std::vector<float>& buf = in == a.data() ? b : a;
      buf.resize(rows * n);
      y = buf.data();
    }
    apply_linear(be, s.lin, in, rows, y, n);
    switch (s.act) {
      case HeadAct::None: break;
      case HeadAct::Tanh:
        for (size_t j = 0; j < rows * n; ++j) y[j] = std::tanh(y[j]);
        break;
      case HeadAct::Gelu: be.activation(kernels::Activation::Gelu, y, y, rows * n); break;
      case HeadAct::GeluTanh: be.activation(kernels::Activation::GeluTanh, y, y, rows * n); break;
      case HeadAct::Relu: be.activation(kernels::Activation::Relu, y, y, rows * n); break;
    }
    if (s.norm.present()) apply_norm(be, s.norm, y, rows, n, eps);
    in = y;
  }
}

// DeBERTa's log-bucketed relative position (make_log_bucket_position), in
// float32 as torch computes it.
int64_t log_bucket(int64_t rel, int64_t buckets, int64_t max_position) {
  if (buckets <= 0 || max_position <= 0) return rel;
  const int64_t mid = buckets / 2;
  const int64_t abs_pos = rel < mid && rel > -mid ? mid - 1 : std::llabs(rel);
  if (abs_pos <= mid) return rel;
  const float num = std::log(float(abs_pos) / float(mid));
  const float den = std::log(float(double(max_position - 1) / double(mid)));
  const float log_pos = std::ceil(num / den * float(mid - 1)) + float(mid);
  return int64_t(log_pos) * (rel > 0 ? 1 : -1);
}

// DeBERTa's relative terms of one sequence (DisentangledSelfAttention.
// disentangled_attention_bias), already divided by the attention scale:
//   bias[h][i][j] = (q_i·pos_k[c2p(i, j)] + k_j·pos_q[p2c(j, i)]) / scale
// with c2p(i, j) = clamp(rel(i, j) + span), p2c(j, i) = clamp(-rel(j, i) + span).
// qkv: T rows of [q | k | v] (3·n_heads·head_dim); pos_q / pos_k: the
// layer's projections of the 2·span relative embeddings; rel: bucketed
// i - j for a T_max square.
void disentangled_bias(const hf::Config& c, const float* qkv, size_t T, const std::vector<float>& pos_q,
                       const std::vector<float>& pos_k, const std::vector<int64_t>& rel, size_t T_max, size_t span,
                       std::vector<float>& bias) {
  Backend& be = cpu_backend();
  const size_t H = size_t(c.num_heads), hd = size_t(c.head_dim), qd = H * hd, rows = 2 * span;
  const float scale = std::sqrt(float(hd) * float(1 + c.deberta.c2p + c.deberta.p2c));
  std::vector<float> qh(T * hd), kh(T * hd), c2p(T * rows), p2c(T * rows);
  auto clamp_idx = [&](int64_t r) { return size_t(std::clamp<int64_t>(r + int64_t(span), 0, int64_t(rows) - 1)); };
  auto head_of = [&](const std::vector<float>& m, size_t h) {
    return Tensor::borrow(DType::F32, {int64_t(rows), int64_t(qd)}, m.data(), nullptr)
        .slice(1, int64_t(h * hd), int64_t((h + 1) * hd));
  };
  bias.assign(H * T * T, 0.0f);
  for (size_t h = 0; h < H; ++h) {
    for (size_t t = 0; t < T; ++t) {
      std::memcpy(&qh[t * hd], qkv + t * 3 * qd + h * hd, hd * 4);
      std::memcpy(&kh[t * hd], qkv + t * 3 * qd + qd + h * hd, hd * 4);
    }
    float* b = &bias[h * T * T];
    if (c.deberta.c2p) {
      be.linear(qh.data(), T, head_of(pos_k, h), nullptr, c2p.data(), rows);
      for (size_t i = 0; i < T; ++i)
        for (size_t j = 0; j < T; ++j) b[i * T + j] += c2p[i * rows + clamp_idx(rel[i * T_max + j])] / scale;
    }
    if (c.deberta.p2c) {
      be.linear(kh.data(), T, head_of(pos_q, h), nullptr, p2c.data(), rows);
      for (size_t i = 0; i < T; ++i)
        for (size_t j = 0; j < T; ++j) b[i * T + j] += p2c[j * rows + clamp_idx(-rel[j * T_max + i])] / scale;
    }
  }
}

// The embedding output [N, hidden] of a packed batch: token + position +
// segment embeddings, LayerNorm and the projection of factorised embeddings
// (in DeBERTa's order when norm_before_proj is false).
std::vector<float> embeddings(const EncoderModel& m, const std::vector<EncoderSequence>& batch,
                              const std::vector<size_t>& offsets) {
  const hf::Config& c = m.config;
  Backend& be = cpu_backend();
  const size_t d = size_t(c.hidden_size), E = size_t(m.token_embd->dim(1)), N = offsets.back();
  const float eps = float(c.norm_eps);
  std::vector<float> e(N * E), tmp(E), x(N * d);
  const int64_t pad = c.position_offset > 0 ? c.position_offset - 1 : -1;  // roberta numbering
  for (size_t s = 0; s < batch.size(); ++s) {
    const EncoderSequence& seq = batch[s];
    int64_t seen = 0;
    for (size_t t = 0; t < seq.ids.size(); ++t) {
      float* row = &e[(offsets[s] + t) * E];
      be.embedding(*m.token_embd, seq.ids[t], row);
      if (m.position_embd) {
        // RobertaEmbeddings: non-pad tokens count up from pad + 1, pads sit at pad
        int64_t pos = int64_t(t);
        if (pad >= 0) pos = seq.ids[t] == pad ? pad : pad + ++seen;
        be.embedding(*m.position_embd, pos, tmp.data());
        be.add(row, tmp.data(), row, E);
      }
      if (m.token_types) {
        be.embedding(*m.token_types, seq.token_types.empty() ? 0 : seq.token_types[t], tmp.data());
        be.add(row, tmp.data(), row, E);
      }
    }
  }
  if (m.norm_before_proj) apply_norm(be, m.embd_norm, e.data(), N, E, eps);
  if (m.embd_proj.w)
    apply_linear(be, m.embd_proj, e.data(), N, x.data(), d);
  else
    x = e;
  if (!m.norm_before_proj) {
    apply_norm(be, m.embd_norm, x.data(), N, d, eps);
    // DebertaV2Embeddings zeroes the rows of masked tokens
    for (size_t s = 0; s < batch.size(); ++s)
      for (size_t t = 0; t < batch[s].mask.size(); ++t)
        if (!batch[s].mask[t]) std::fill_n(&x[(offsets[s] + t) * d], d, 0.0f);
  }
  return x;
}

}  // namespace

EncoderOutput Encoder::forward(const std::vector<EncoderSequence>& batch, bool want_hidden_states) const {
  const EncoderModel& m = *impl_;
  const hf::Config& c = m.config;
  Backend& be = cpu_backend();
  const size_t d = size_t(c.hidden_size), qd = size_t(m.q_dim);
  const size_t H = size_t(c.num_heads), hd = size_t(c.head_dim), ff = size_t(c.intermediate_size);
  const float eps = float(c.norm_eps);
  const int64_t limit = max_tokens();

  EncoderOutput out;
  out.hidden = c.hidden_size;
  out.offsets.push_back(0);
  size_t T_max = 0;
  for (const EncoderSequence& s : batch) {
    if (s.ids.empty()) fail("encoder: an empty sequence");
    if (!s.token_types.empty() && s.token_types.size() != s.ids.size())
      fail("encoder: ", s.token_types.size(), " token types for ", s.ids.size(), " tokens");
    if (!s.mask.empty() && s.mask.size() != s.ids.size())
      fail("encoder: an attention mask of ", s.mask.size(), " for ", s.ids.size(), " tokens");
    if (limit > 0 && int64_t(s.ids.size()) > limit)
      fail("encoder: a sequence of ", s.ids.size(), " tokens is longer than the model's ", limit, " positions");
    out.offsets.push_back(out.offsets.back() + s.ids.size());
    T_max = std::max(T_max, s.ids.size());
  }
  const size_t N = out.offsets.back(), L = m.layer_of.size();
  if (N == 0) return out;

  std::vector<float> x = embeddings(m, batch, out.offsets);
  if (want_hidden_states) out.hidden_states.assign((L + 1) * N * d, 0.0f);
  auto record = [&](size_t slot) {
    if (want_hidden_states) std::copy(x.begin(), x.end(), out.hidden_states.begin() + ptrdiff_t(slot * N * d));
  };
  record(0);

  // DeBERTa: relative positions of a T_max square, bucketed once
  const bool deberta = c.relative == hf::RelativeAttention::Deberta;
  const size_t span = size_t(m.att_span);
  std::vector<int64_t> rel;
  if (deberta) {
    rel.resize(T_max * T_max);
    for (size_t i = 0; i < T_max; ++i)
      for (size_t j = 0; j < T_max; ++j)
        rel[i * T_max + j] = log_bucket(int64_t(i) - int64_t(j), c.deberta.position_buckets,
                                         c.deberta.max_relative_positions);
  }

  std::vector<float> qkv(N * 3 * qd), attn(N * qd), o(N * d), f(N * ff);
  std::vector<float> kc(H * T_max * hd), vc(H * T_max * hd);
  std::vector<float> pos_q, pos_k, bias;
  std::vector<uint8_t> mask;
  for (size_t li = 0; li < L; ++li) {
    const EncoderLayer& layer = m.layers[m.layer_of[li]];
    apply_linear(be, layer.q, x.data(), N, qkv.data(), 3 * qd);
    apply_linear(be, layer.k, x.data(), N, qkv.data() + qd, 3 * qd);
    apply_linear(be, layer.v, x.data(), N, qkv.data() + 2 * qd, 3 * qd);
    const size_t rows = 2 * span;
    if (deberta) {
      // projections of the relative embeddings, shared by all sequences
      const bool share = c.deberta.share_att_key;
      if (c.deberta.p2c) {
        pos_q.resize(rows * qd);
        apply_linear(be, share ? layer.q : layer.pos_q, m.rel_embd.data(), rows, pos_q.data(), qd);
      }
      if (c.deberta.c2p) {
        pos_k.resize(rows * qd);
        apply_linear(be, share ? layer.k : layer.pos_k, m.rel_embd.data(), rows, pos_k.data(), qd);
      }
    }
    for (size_t s = 0; s < batch.size(); ++s) {
      const size_t off = out.offsets[s], T = batch[s].ids.size();
      be.store_kv(qkv.data() + off * 3 * qd + qd, 3 * qd, T, 0, H, hd, T, DType::F32, kc.data());
      be.store_kv(qkv.data() + off * 3 * qd + 2 * qd, 3 * qd, T, 0, H, hd, T, DType::F32, vc.data());
      kernels::AttentionArgs a;
      a.n_q = T;
      a.n_heads = a.n_kv_heads = H;
      a.head_dim = hd;
      a.q = qkv.data() + off * 3 * qd;
      a.q_stride = 3 * qd;
      a.k = kc.data();
      a.v = vc.data();
      a.kv_type = DType::F32;
      a.kv_head_stride = T * hd;
      a.n_kv = T;
      a.causal = false;
      a.scale = c.attn_scale > 0 ? float(c.attn_scale) : 0.0f;
      a.out = attn.data() + off * qd;
      const std::vector<uint8_t>& sm = batch[s].mask;
      if (std::find(sm.begin(), sm.end(), 0) != sm.end()) a.key_mask = sm.data();
      if (deberta) {
        disentangled_bias(c, qkv.data() + off * 3 * qd, T, pos_q, pos_k, rel, T_max, span, bias);
        a.score_bias = bias.data();
        a.bias_head_stride = T * T;
        a.bias_row_stride = T;
      }
      be.attention(a);
    }
    // post-norm block: x = LN(x + O·attn); x = LN(x + down(act(up(x))))
    apply_linear(be, layer.o, attn.data(), N, o.data(), d);
    be.add(x.data(), o.data(), x.data(), N * d);
    apply_norm(be, layer.attn_norm, x.data(), N, d, eps);
    apply_linear(be, layer.up, x.data(), N, f.data(), ff);
    be.activation(m.act, f.data(), f.data(), N * ff);
    apply_linear(be, layer.down, f.data(), N, o.data(), d);
    be.add(x.data(), o.data(), x.data(), N * d);
    apply_norm(be, layer.out_norm, x.data(), N, d, eps);
    record(li + 1);
  }
  out.last_hidden = std::move(x);
  return out;
}

int64_t Encoder::mlm_vocab() const {
  if (impl_->mlm.empty()) fail(path(), ": the model has no masked-LM head");
  return impl_->mlm.back().lin.out();
}

void Encoder::mlm_logits(const float* hidden, size_t rows, float* logits) const {
  apply_head(impl_->mlm, hidden, rows, float(impl_->config.norm_eps), logits, "masked-LM");
}

int64_t Encoder::num_labels() const {
  const EncoderModel& m = *impl_;
  if (!m.sequence.empty()) return m.sequence.back().lin.out();
  if (!m.token.empty()) return m.token.back().lin.out();
  fail(path(), ": the model has no classification head");
}

void Encoder::sequence_logits(const float* seq_rows, size_t n_rows, float* logits) const {
  if (n_rows == 0) fail("sequence_logits: an empty sequence");
  // every supported head pools the first token ([CLS] / <s>)
  apply_head(impl_->sequence, seq_rows, 1, float(impl_->config.norm_eps), logits, "sequence-classification");
}

void Encoder::token_logits(const float* hidden, size_t rows, float* logits) const {
  apply_head(impl_->token, hidden, rows, float(impl_->config.norm_eps), logits, "token-classification");
}

void Encoder::qa_logits(const float* hidden, size_t rows, float* start, float* end) const {
  std::vector<float> both(rows * 2);
  apply_head(impl_->qa, hidden, rows, float(impl_->config.norm_eps), both.data(), "question-answering");
  for (size_t i = 0; i < rows; ++i) {
    start[i] = both[2 * i];
    end[i] = both[2 * i + 1];
  }
}

}  // namespace tf
