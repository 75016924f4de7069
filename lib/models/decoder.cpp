#include "models/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/backend.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/model.h"

namespace tf::models {
namespace {

kernels::Activation activation(hf::Activation a) {
  switch (a) {
    case hf::Activation::Silu: return kernels::Activation::Silu;
    case hf::Activation::Gelu: return kernels::Activation::Gelu;
    case hf::Activation::GeluTanh: return kernels::Activation::GeluTanh;
    case hf::Activation::Relu: return kernels::Activation::Relu;
    default: fail("activation ", hf::activation_name(a), " is not supported in decoders yet");
  }
}

}  // namespace

DecoderModel DecoderModel::build(const Weights& w) {
  const hf::Config& c = w.config();
  DecoderModel m;
  m.config = c;
  switch (c.arch) {
    case hf::Arch::Llama: case hf::Arch::Mistral: case hf::Arch::Qwen2: case hf::Arch::Phi3:
    case hf::Arch::Gemma: case hf::Arch::StableLm: case hf::Arch::Gpt2: case hf::Arch::GptNeoX:
    case hf::Arch::Falcon: break;
    default: fail(w.path(), ": ", hf::arch_name(c.arch), " is not a causal language model this build runs");
  }
  if (c.qk_norm) fail(w.path(), ": per-head q/k norms (qk_layernorm) are not supported yet");
  if (c.attn_logit_softcapping != 0 || c.final_logit_softcapping != 0)
    fail(w.path(), ": logit soft-capping (gemma 2) is not supported yet");
  int64_t d = c.hidden_size;
  m.rms = c.norm == hf::Norm::RmsNorm;
  m.norm_one_plus = c.norm_unit_offset && !w.norm_offset_baked();
  m.act = activation(c.activation);
  m.gated = c.gated_mlp;
  m.q_dim = c.num_heads * c.head_dim;
  m.kv_dim = c.num_kv_heads * c.head_dim;
  m.token_embd = &w.get("token_embd.weight");
  if (m.token_embd->ndim() != 2 || m.token_embd->dim(1) != c.embedding_size || c.embedding_size != d)
    fail(w.path(), ": token_embd.weight is ", m.token_embd->shape_string(), ", expected [vocab, ", d, "]");
  m.position_embd = c.learned_positions ? &w.get("position_embd.weight") : nullptr;
  m.output = w.find("output.weight");
  if (!m.output) m.output = m.token_embd;
  m.output_norm = load_norm(w, "output_norm", d);

  if (c.rope.type != hf::RopeType::None) {
    m.rot_dim = c.rope.rotary_dims;
    m.rope_layout = w.rope_permuted() ? kernels::RopeLayout::Normal : kernels::RopeLayout::NeoX;
    m.inv_freq.resize(size_t(m.rot_dim / 2));
    kernels::rope_inv_freq(float(c.rope.theta), size_t(m.rot_dim), m.inv_freq.data());
    if (c.rope.type == hf::RopeType::Linear) {
      for (float& f : m.inv_freq) f = float(f / c.rope.factor);
    } else if (c.rope.type != hf::RopeType::Default) {
      fail(w.path(), ": rope type ", hf::rope_type_name(c.rope.type), " is not supported yet");
    }
  }

  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string b = "blk." + std::to_string(i) + ".";
    DecoderLayer L;
    L.attn_norm = load_norm(w, b + "attn_norm", d);
    L.attn_norm_2 = load_norm(w, b + "attn_norm_2", d);
    L.ffn_norm = load_norm(w, b + "ffn_norm", d);
    if (!L.attn_norm.present()) fail(w.path(), ": missing ", b, "attn_norm.weight");
    if (w.find(b + "attn_qkv.weight")) {
      L.qkv = load_linear(w, b + "attn_qkv");
      if (L.qkv.out() != m.q_dim + 2 * m.kv_dim) fail(w.path(), ": ", b, "attn_qkv has ", L.qkv.out(), " rows");
    } else {
      L.q = load_linear(w, b + "attn_q");
      L.k = load_linear(w, b + "attn_k");
      L.v = load_linear(w, b + "attn_v");
      if (L.q.out() != m.q_dim || L.k.out() != m.kv_dim || L.v.out() != m.kv_dim)
        fail(w.path(), ": ", b, "q/k/v projections do not match the head configuration");
    }
    L.o = load_linear(w, b + "attn_output");
    L.up = load_linear(w, b + "ffn_up");
    L.down = load_linear(w, b + "ffn_down");
    if (m.gated) {
      L.gate = load_linear(w, b + "ffn_gate", false);
      if (!L.gate.w) {
        if (L.up.out() != 2 * c.intermediate_size) fail(w.path(), ": ", b, "ffn_gate is missing");
        m.gate_up_fused = true;  // phi3
      }
    }
    bool sliding = c.layer_types.empty() ? c.sliding_window > 0
                                         : c.layer_types[size_t(i)] == hf::AttentionKind::Sliding;
    L.window = sliding ? int32_t(c.sliding_window) : 0;
    m.layers.push_back(std::move(L));
  }
  m.lm_head.w = m.output;
  Backend& be = cpu_backend();
  for (DecoderLayer& L : m.layers)
    for (Linear* l : {&L.q, &L.k, &L.v, &L.qkv, &L.o, &L.gate, &L.up, &L.down}) prepare(*l, be);
  prepare(m.lm_head, be);
  return m;
}

}  // namespace tf::models

namespace tf {
using models::DecoderLayer;
using models::DecoderModel;
using models::Linear;
using models::NormWeights;

// ---------------------------------------------------------------- CausalLM

std::unique_ptr<CausalLM> CausalLM::load(const std::string& path, LoadMode mode) {
  std::unique_ptr<CausalLM> lm(new CausalLM());
  lm->weights_ = std::make_unique<models::Weights>(models::Weights::open(path, mode));
  lm->impl_ = std::make_unique<DecoderModel>(DecoderModel::build(*lm->weights_));
  return lm;
}

CausalLM::~CausalLM() = default;
const hf::Config& CausalLM::config() const { return impl_->config; }
const std::string& CausalLM::path() const { return weights_->path(); }
const gguf::File* CausalLM::gguf() const { return weights_->gguf(); }
int64_t CausalLM::vocab_size() const { return impl_->output->dim(0); }
int64_t CausalLM::n_layers() const { return impl_->config.num_layers; }
int64_t CausalLM::hidden_size() const { return impl_->config.hidden_size; }
int64_t CausalLM::max_positions() const { return impl_->config.max_position_embeddings; }
uint64_t CausalLM::parameter_count() const { return weights_->parameter_count(); }
uint64_t CausalLM::weight_bytes() const { return weights_->bytes(); }
std::string CausalLM::arch_name() const { return std::string(hf::arch_name(impl_->config.arch)); }

// ---------------------------------------------------------------- Session

struct Session::State {
  int64_t n_batch = 0;
  DType k_type = DType::F16, v_type = DType::F16;
  size_t k_row = 0, v_row = 0;  // bytes of one cached row of head_dim elements
  std::vector<std::vector<uint8_t>> k_cache, v_cache;  // per layer [n_kv_heads][n_ctx][head_dim]
  // scratch, sized for n_batch tokens
  std::vector<float> x, h, h2, qkv, attn, o, mlp, ff, logits;
  std::vector<int32_t> pos;
  MatmulObserver* observer = nullptr;
};

Session::Session(const CausalLM& model, const SessionOptions& options) : model_(model), state_(std::make_unique<State>()) {
  const DecoderModel& m = model.impl();
  const hf::Config& c = m.config;
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096, 4096);
  if (m.position_embd && n_ctx_ > m.position_embd->dim(0))
    fail("context ", n_ctx_, " is longer than the model's ", m.position_embd->dim(0), " learned positions");
  State& s = *state_;
  s.k_type = options.k_type.value_or(options.kv_type);
  s.v_type = options.v_type.value_or(options.kv_type);
  auto row_bytes = [&](DType t, const char* which) {
    switch (t) {
      case DType::F16: case DType::F32: case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0:
      case DType::Q5_1: case DType::IQ4_NL: break;
      default: fail("the ", which, " cache type must be f16, f32, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl, not ", dtype_name(t));
    }
    const auto& tr = traits(t);
    if (c.head_dim % int64_t(tr.block_size))
      fail("a ", dtype_name(t), " ", which, " cache needs head_dim (", c.head_dim, ") to be a multiple of ", tr.block_size);
    return size_t(c.head_dim) / tr.block_size * tr.type_size;
  };
  s.k_row = row_bytes(s.k_type, "K");
  s.v_row = row_bytes(s.v_type, "V");
  s.observer = options.observer;
  s.n_batch = std::max<int64_t>(1, options.n_batch);
  const size_t rows = size_t(c.num_kv_heads * n_ctx_);
  s.k_cache.assign(size_t(c.num_layers), std::vector<uint8_t>(rows * s.k_row));
  s.v_cache.assign(size_t(c.num_layers), std::vector<uint8_t>(rows * s.v_row));
  size_t B = size_t(s.n_batch), d = size_t(c.hidden_size);
  s.x.resize(B * d);
  s.h.resize(B * d);
  s.h2.resize(B * d);
  s.qkv.resize(B * size_t(m.q_dim + 2 * m.kv_dim));
  s.attn.resize(B * size_t(m.q_dim));
  s.o.resize(B * d);
  s.mlp.resize(B * d);
  s.ff.resize(B * size_t(2 * c.intermediate_size));
  s.pos.resize(B);
}

Session::~Session() = default;

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail("cannot truncate a context of ", n_past_, " tokens to ", n);
  n_past_ = n;
}

void Session::copy_from(const Session& other) {
  if (this == &other) return;
  const State& o = *other.state_;
  State& s = *state_;
  if (&other.model_ != &model_ || other.n_ctx_ != n_ctx_ || o.k_type != s.k_type || o.v_type != s.v_type)
    fail("copy_from: the sessions differ in model, context size or cache type");
  const hf::Config& c = model_.impl().config;
  // The cache is [n_kv_heads][n_ctx][row] per layer: one contiguous run of
  // n_past rows per head.
  for (size_t l = 0; l < s.k_cache.size(); ++l)
    for (int64_t h = 0; h < c.num_kv_heads; ++h) {
      const size_t k_head = size_t(n_ctx_) * s.k_row * size_t(h), v_head = size_t(n_ctx_) * s.v_row * size_t(h);
      std::memcpy(s.k_cache[l].data() + k_head, o.k_cache[l].data() + k_head, size_t(other.n_past_) * s.k_row);
      std::memcpy(s.v_cache[l].data() + v_head, o.v_cache[l].data() + v_head, size_t(other.n_past_) * s.v_row);
    }
  n_past_ = other.n_past_;
}

namespace {

void apply_norm(Backend& be, const DecoderModel& m, const NormWeights& n, const float* x, float* y, size_t rows) {
  size_t d = size_t(m.config.hidden_size);
  float eps = float(m.config.norm_eps);
  if (m.rms)
    be.rms_norm(x, n.w.data(), y, rows, d, eps, m.norm_one_plus);
  else
    be.layer_norm(x, n.w.data(), n.b.empty() ? nullptr : n.b.data(), y, rows, d, eps);
}

void apply_linear(Backend& be, MatmulObserver* observer, const Linear& l, const float* x, size_t rows, float* y,
                  size_t ldy) {
  if (observer) observer->observe(*l.w, x, rows);
  be.linear(x, rows, l.weight(), l.b.empty() ? nullptr : l.b.data(), y, ldy);
}

}  // namespace

const float* Session::eval(const int32_t* tokens, size_t n_tokens, ForwardOutputs* out) {
  const DecoderModel& m = model_.impl();
  const hf::Config& c = m.config;
  State& s = *state_;
  Backend& be = cpu_backend();
  if (n_tokens == 0) fail("eval: no tokens");
  if (n_past_ + int64_t(n_tokens) > n_ctx_)
    fail("the context is full: ", n_past_, " + ", n_tokens, " tokens exceed the context size ", n_ctx_,
         " (raise -c)");
  const size_t d = size_t(c.hidden_size), V = size_t(m.output->dim(0)), L = m.layers.size();
  const size_t qkv_w = size_t(m.q_dim + 2 * m.kv_dim);
  if (out) {
    if (out->want_all_logits) out->logits.assign(n_tokens * V, 0.0f);
    if (out->want_last_hidden) out->last_hidden.assign(n_tokens * d, 0.0f);
    if (out->want_hidden_states) out->hidden_states.assign((L + 1) * n_tokens * d, 0.0f);
  }
  s.logits.resize(V);

  for (size_t start = 0; start < n_tokens; start += size_t(s.n_batch)) {
    size_t n = std::min(size_t(s.n_batch), n_tokens - start);
    int64_t pos0 = n_past_;
    float* x = s.x.data();
    for (size_t t = 0; t < n; ++t) {
      s.pos[t] = int32_t(pos0 + int64_t(t));
      be.embedding(*m.token_embd, tokens[start + t], x + t * d);
      if (c.embedding_multiplier != 1.0) be.scale(x + t * d, float(c.embedding_multiplier), x + t * d, d);
      if (m.position_embd) {
        be.embedding(*m.position_embd, pos0 + int64_t(t), s.h.data());
        be.add(x + t * d, s.h.data(), x + t * d, d);
      }
    }
    auto record_hidden = [&](size_t layer_slot, const float* src) {
      if (!out || !out->want_hidden_states) return;
      for (size_t t = 0; t < n; ++t)
        std::memcpy(&out->hidden_states[(layer_slot * n_tokens + start + t) * d], src + t * d, d * 4);
    };
    record_hidden(0, x);

    for (size_t li = 0; li < L; ++li) {
      const DecoderLayer& layer = m.layers[li];
      float* h = s.h.data();
      apply_norm(be, m, layer.attn_norm, x, h, n);
      float* qkv = s.qkv.data();
      if (layer.qkv.w) {
        apply_linear(be, s.observer, layer.qkv, h, n, qkv, qkv_w);
      } else {
        apply_linear(be, s.observer, layer.q, h, n, qkv, qkv_w);
        apply_linear(be, s.observer, layer.k, h, n, qkv + m.q_dim, qkv_w);
        apply_linear(be, s.observer, layer.v, h, n, qkv + m.q_dim + m.kv_dim, qkv_w);
      }
      float* q = qkv;
      float* k = qkv + m.q_dim;
      float* v = qkv + m.q_dim + m.kv_dim;
      if (m.rot_dim > 0) {
        be.rope(q, n, size_t(c.num_heads), size_t(c.head_dim), size_t(m.rot_dim), s.pos.data(), m.inv_freq.data(),
                m.rope_layout, qkv_w);
        be.rope(k, n, size_t(c.num_kv_heads), size_t(c.head_dim), size_t(m.rot_dim), s.pos.data(), m.inv_freq.data(),
                m.rope_layout, qkv_w);
      }
      be.store_kv(k, qkv_w, n, size_t(pos0), size_t(c.num_kv_heads), size_t(c.head_dim), size_t(n_ctx_), s.k_type,
                  s.k_cache[li].data());
      be.store_kv(v, qkv_w, n, size_t(pos0), size_t(c.num_kv_heads), size_t(c.head_dim), size_t(n_ctx_), s.v_type,
                  s.v_cache[li].data());

      kernels::AttentionArgs a;
      a.n_q = n;
      a.n_heads = size_t(c.num_heads);
      a.n_kv_heads = size_t(c.num_kv_heads);
      a.head_dim = size_t(c.head_dim);
      a.q = q;
      a.q_stride = qkv_w;
      a.k = s.k_cache[li].data();
      a.v = s.v_cache[li].data();
      a.kv_type = s.k_type;
      a.v_type = s.v_type;
      a.kv_head_stride = size_t(n_ctx_ * c.head_dim);
      a.n_kv = size_t(pos0) + n;
      a.q_pos = s.pos.data();
      a.causal = true;
      a.window = layer.window;
      a.scale = c.attn_scale > 0 ? float(c.attn_scale) : 0.0f;
      a.out = s.attn.data();
      be.attention(a);
      apply_linear(be, s.observer, layer.o, s.attn.data(), n, s.o.data(), d);

      auto mlp = [&](const float* in, float* result) {
        size_t ff = size_t(c.intermediate_size);
        float* f = s.ff.data();
        if (m.gated && m.gate_up_fused) {
          apply_linear(be, s.observer, layer.up, in, n, f, 2 * ff);  // rows [gate | up]
          for (size_t t = 0; t < n; ++t) be.glu(m.act, f + t * 2 * ff, f + t * 2 * ff + ff, f + t * ff, ff);
        } else if (m.gated) {
          apply_linear(be, s.observer, layer.gate, in, n, f, ff);
          apply_linear(be, s.observer, layer.up, in, n, f + n * ff, ff);
          be.glu(m.act, f, f + n * ff, f, n * ff);
        } else {
          apply_linear(be, s.observer, layer.up, in, n, f, ff);
          be.activation(m.act, f, f, n * ff);
        }
        apply_linear(be, s.observer, layer.down, f, n, result, d);
      };
      if (c.parallel_residual) {
        // x + attn(norm(x)) + mlp(norm'(x)); norm' is falcon's second norm,
        // gpt-neox's post-attention norm, or the same norm (falcon-7b)
        const float* in2 = h;
        if (layer.attn_norm_2.present()) {
          apply_norm(be, m, layer.attn_norm_2, x, s.h2.data(), n);
          in2 = s.h2.data();
        } else if (layer.ffn_norm.present()) {
          apply_norm(be, m, layer.ffn_norm, x, s.h2.data(), n);
          in2 = s.h2.data();
        }
        mlp(in2, s.mlp.data());
        be.add(s.o.data(), s.mlp.data(), s.o.data(), n * d);
        be.add(x, s.o.data(), x, n * d);
      } else {
        be.add(x, s.o.data(), x, n * d);
        apply_norm(be, m, layer.ffn_norm, x, h, n);
        mlp(h, s.mlp.data());
        be.add(x, s.mlp.data(), x, n * d);
      }
      // HF's last hidden state is after the final norm; record that one below
      if (li + 1 < L) record_hidden(li + 1, x);
    }
    float* hn = s.h.data();
    apply_norm(be, m, m.output_norm, x, hn, n);
    record_hidden(L, hn);
    if (out && out->want_last_hidden)
      std::memcpy(&out->last_hidden[start * d], hn, n * d * 4);
    if (out && out->want_all_logits) {
      apply_linear(be, s.observer, m.lm_head, hn, n, &out->logits[start * V], V);
      if (start + n == n_tokens) std::memcpy(s.logits.data(), &out->logits[(n_tokens - 1) * V], V * 4);
    } else if (start + n == n_tokens) {
      apply_linear(be, s.observer, m.lm_head, hn + (n - 1) * d, 1, s.logits.data(), V);
    }
    n_past_ += int64_t(n);
  }
  return s.logits.data();
}

}  // namespace tf
