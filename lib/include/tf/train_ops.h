// Differentiable ops on tf::train::Var (see tf/autograd.h). Each op computes
// its value; inside a Tape scope it also records its backward function. The
// forward and backward of each op family sit side by side in
// lib/train/ops_<family>.cpp.
//
// Shapes are written outermost first; "rows" means all dimensions but the
// last. Binary elementwise ops broadcast as NumPy / PyTorch do.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "tf/autograd.h"
#include "tf/rng.h"

namespace tf::train {

// ---- linear algebra (ops_matmul.cpp)
// a [..., M, K] (or [..., K, M] with trans_a) · b [..., K, N] (or [..., N, K]
// with trans_b). Batch dimensions must match, or b may be 2-D and shared.
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);
// x [..., K] · w[N, K]ᵀ + bias[N] (bias may be undefined): a PyTorch Linear.
Var linear(const Var& x, const Var& w, const Var& bias = Var());
// x [..., K] · w[K, N] + bias[N]: the same product with the weight stored
// [in, out] (GPT-2's Conv1D layout).
Var linear_kn(const Var& x, const Var& w, const Var& bias = Var());

// ---- elementwise (ops_elementwise.cpp)
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var scale(const Var& x, float s);       // x·s
Var add_scalar(const Var& x, float s);  // x + s
Var neg(const Var& x);
Var square(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var relu(const Var& x);
Var gelu(const Var& x);       // 0.5·x·(1 + erf(x/√2))
Var gelu_tanh(const Var& x);  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
Var silu(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
// Zeroes each element with probability p and scales the rest by 1/(1-p);
// identity when !training or p == 0. The mask comes from rng.
Var dropout(const Var& x, float p, Rng& rng, bool training = true);

// ---- reductions (ops_reduce.cpp)
Var sum(const Var& x);                                 // all elements -> []
Var mean(const Var& x);                                // all elements -> []
Var sum(const Var& x, int dim, bool keepdim = false);
Var mean(const Var& x, int dim, bool keepdim = false);
Var max(const Var& x, int dim, bool keepdim = false);  // gradient goes to the first maximum

// ---- shape (ops_shape.cpp)
Var reshape(const Var& x, Shape shape);  // one -1 allowed
Var transpose(const Var& x, int d0, int d1);
Var slice(const Var& x, int dim, int64_t begin, int64_t end);  // [begin, end)
Var concat(const std::vector<Var>& xs, int dim);
// table [V, D], ids (each in [0, V)) -> [ids.size(), D].
Var embedding(const Var& table, const std::vector<int32_t>& ids);

// ---- normalization (ops_norm.cpp), over the last dimension
Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);
Var rms_norm(const Var& x, const Var& weight, float eps = 1e-6f);
// BatchNorm over dim 1 of x [N, C, ...] (PyTorch's BatchNorm1d/2d). Training:
// batch statistics (biased variance), and running_mean / running_var [C]
// (constants, updated in place) move by `momentum` towards the batch's mean and
// unbiased variance. Eval: the running statistics normalise. weight, bias [C]
// may be undefined.
Var batch_norm(const Var& x, const Var& weight, const Var& bias, Var running_mean, Var running_var, bool training,
               float momentum = 0.1f, float eps = 1e-5f);

// ---- softmax and losses (ops_loss.cpp), over the last dimension
Var softmax(const Var& x);
Var log_softmax(const Var& x);
// logits [N, C], targets[N]; mean over targets != ignore_index. With label
// smoothing ε the target distribution is (1-ε)·onehot + ε/C (PyTorch's).
Var cross_entropy(const Var& logits, const std::vector<int32_t>& targets, int32_t ignore_index = -100,
                  float label_smoothing = 0.0f);
Var mse_loss(const Var& a, const Var& b);  // mean of (a-b)²
// Distillation loss: T² · mean over rows of KL(softmax(teacher/T) ‖ softmax(student/T)),
// PyTorch's kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean")·T².
// Both gradients are computed (the teacher's is usually unused).
Var kl_div(const Var& student_logits, const Var& teacher_logits, float temperature = 1.0f);
// cross_entropy(linear(h, w), targets) for h [N, K], w [classes, K] (a
// language-model head), fused so the [N, classes] logits are never stored
// whole. Inside a Tape the forward pass also forms the gradients (see
// ops_loss.cpp), so backward is cheap.
Var linear_cross_entropy(const Var& h, const Var& w, std::span<const int32_t> targets, int32_t ignore_index = -100);

// Cosine similarity over the last dimension: a·b / max(‖a‖·‖b‖, eps), shape
// without the last dimension (PyTorch's F.cosine_similarity).
Var cosine_similarity(const Var& a, const Var& b, float eps = 1e-8f);
// mean(1 − cosine_similarity(a, b)): embedding distillation / contrastive targets.
Var cosine_loss(const Var& a, const Var& b);

// ---- convolution and pooling (ops_conv.cpp), NCHW
// x [N, C, H, W], w [O, C, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo],
// Ho = (H + 2·padding − kh)/stride + 1 (PyTorch's Conv2d, no groups/dilation).
Var conv2d(const Var& x, const Var& w, const Var& bias, int64_t stride = 1, int64_t padding = 0);
// kernel×kernel windows, stride 0 = kernel. Padding (≤ kernel/2) is skipped by
// max and counted as zeros by avg (PyTorch's count_include_pad=True).
Var max_pool2d(const Var& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);

// ---- attention (ops_attention.cpp)
// q, k, v [B, H, T, D] -> [B, H, T, D]: softmax(q·kᵀ/√D + causal mask)·v,
// composed from the ops above.
Var causal_attention(const Var& q, const Var& k, const Var& v);
// The fused form the models use, on token-major rows as the projections
// produce them: q [B·T, Hq·D], k and v [B·T, Hkv·D] (Hq a multiple of Hkv:
// grouped-query attention; query head h reads key/value head h / (Hq/Hkv)).
// Returns [B·T, Hq·D]: per sequence and head softmax(scale·q·kᵀ + causal
// mask)·v. Stores only each row's log-sum-exp; backward recomputes the rest.
Var causal_self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                          float scale);
// The general form: causal or bidirectional (encoders), and with `lengths`
// (one per sequence, right padding) keys at or past a sequence's length are
// masked and its padding rows output 0 (and get no gradient).
Var self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                   float scale, bool causal, std::span<const int32_t> lengths = {});
// ... with a sliding window (> 0): query t sees only keys j > t − window
// (Mistral's layers; as the inference attention kernel), and dropout on the
// attention probabilities (transformers' attn_pdrop / attention_dropout; the
// mask is a hash of (seed, position), regenerated by backward).
struct AttentionDropout {
  float p = 0.0f;
  uint64_t seed = 0;
};
Var self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                   float scale, bool causal, std::span<const int32_t> lengths, int64_t window,
                   AttentionDropout dropout = {});

// ---- rotary position embedding (ops_rope.cpp)
// x [B·T, H·D] token-major; token t of each sequence has position t. In each
// head the first 2·inv_freq.size() dims rotate in the rotate-half layout
// (pairs i, i + half) by position·inv_freq[i]; the rest pass through.
Var rope(const Var& x, int64_t batch, int64_t n_heads, std::span<const float> inv_freq);

}  // namespace tf::train
