// matmul: argument checks, the choice between the decode and prompt paths,
// threading, the GEMM blocking loops, and the scalar kernels (level 0, and
// the twins of the SIMD kernels in matmul_avx2.cpp / matmul_avx512.cpp).
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/matmul_impl.h"
#include "kernels/cpu/quant_interleave.h"
#include "kernels/cpu/quant_matmul_impl.h"
#include "tf/cpu_features.h"
#include "tf/error.h"
#include "tf/half.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace mm {

namespace scalar {
namespace {

struct F32 {
  using T = float;
  static float get(const float* p, size_t i) { return p[i]; }
};
struct F16 {
  using T = uint16_t;
  static float get(const uint16_t* p, size_t i) { return f16_to_f32(p[i]); }
};
struct BF16 {
  using T = uint16_t;
  static float get(const uint16_t* p, size_t i) { return bf16_to_f32(p[i]); }
};

template <class L>
void dot_rows(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride,
              const float* bias, size_t n0, size_t n1, float* y, size_t ldy) {
  using T = typename L::T;
  const float* x = static_cast<const float*>(xv);
  const size_t ldx = x_stride / sizeof(float), ws = w_stride / sizeof(T);
  const T* w = static_cast<const T*>(wv);
  for (size_t n = n0; n < n1; ++n)
    for (size_t m = 0; m < M; ++m) {
      float s = 0;
      for (size_t k = 0; k < K; ++k) s += x[m * ldx + k] * L::get(w + n * ws, k);
      y[m * ldy + n] = s + (bias ? bias[n] : 0.0f);
    }
}

constexpr size_t kNR = 8, kMR = 4;

template <class L>
void pack_w(const void* wv, size_t w_stride, size_t n_rows, size_t k0, size_t kc, void* dv) {
  using T = typename L::T;
  const T* w = static_cast<const T*>(wv);
  float* dst = static_cast<float*>(dv);
  const size_t ws = w_stride / sizeof(T);
  for (size_t k = 0; k < kc; ++k)
    for (size_t j = 0; j < kNR; ++j) dst[k * kNR + j] = j < n_rows ? L::get(w + j * ws, k0 + k) : 0.0f;
}

template <int MR>
void ukernel(size_t kc, const void* av, const void* bv, float* c, size_t ldc, size_t n_valid, const float* bias,
             bool accumulate) {
  const float* a = static_cast<const float*>(av);
  const float* b = static_cast<const float*>(bv);
  float acc[MR][kNR] = {};
  for (size_t k = 0; k < kc; ++k)
    for (int i = 0; i < MR; ++i)
      for (size_t j = 0; j < kNR; ++j) acc[i][j] += a[k * kMR + size_t(i)] * b[k * kNR + j];
  for (int i = 0; i < MR; ++i)
    for (size_t j = 0; j < n_valid; ++j) {
      float* cij = c + size_t(i) * ldc + j;
      *cij = accumulate ? *cij + acc[i][j] : acc[i][j] + (bias ? bias[j] : 0.0f);
    }
}

template <class L>
constexpr TypeKernels make_type() {
  TypeKernels t;
  t.dot_rows = &dot_rows<L>;
  t.pack_w = &pack_w<L>;
  return t;
}

constexpr GemmKernel make_gemm() {
  GemmKernel g;
  g.mr = kMR;
  g.nr = kNR;
  g.kc = 256;
  g.nc = 128;
  g.pack_a = &pack_a_f32;
  g.ukernel[1] = &ukernel<1>;
  g.ukernel[2] = &ukernel<2>;
  g.ukernel[3] = &ukernel<3>;
  g.ukernel[4] = &ukernel<4>;
  return g;
}

}  // namespace

const IsaTable& table() {
  static const IsaTable t = [] {
    IsaTable t{make_gemm(), GemmKernel{}, make_type<F32>(), make_type<F16>(), make_type<BF16>(), {}};
    add_quant_kernels(t);
    return t;
  }();
  return t;
}

}  // namespace scalar

namespace {
const IsaTable& isa_table(int level) {
  if (level >= 2) return avx512::table();
  if (level == 1) return avx2::table();
  return scalar::table();
}
}  // namespace

const TypeKernels* type_kernels(DType t, int level) {
  const IsaTable& tab = isa_table(level);
  switch (t) {
    case DType::F32: return &tab.f32;
    case DType::F16: return &tab.f16;
    case DType::BF16: return &tab.bf16;
    default: break;
  }
  const size_t id = size_t(t);
  if (id >= kTypeSlots) return nullptr;
  // The level-2 block kernels are AVX512-VNNI code; without it, AVX2's.
  const TypeKernels& k = level >= 2 && !cpu_features().avx512vnni ? avx2::table().quant[id] : tab.quant[id];
  return k.dot_rows ? &k : nullptr;
}

const GemmKernel* gemm_kernel(int level) {
  const GemmKernel& g = isa_table(level).gemm;
  return g.mr ? &g : nullptr;
}

const GemmKernel* gemm_bf16_kernel(int level) {
  if (level < 2 || !cpu_features().avx512bf16) return nullptr;
  const GemmKernel& g = isa_table(level).gemm_bf16;
  return g.mr ? &g : nullptr;
}

void pack_a_f32(const float* x, size_t ldx, size_t rows, size_t K, size_t mr, void* dv) {
  float* dst = static_cast<float*>(dv);
  for (size_t i = rows; i < mr; ++i)
    for (size_t k = 0; k < K; ++k) dst[k * mr + i] = 0.0f;
  // Row-major reads, strided writes: each row streams through once.
  for (size_t i = 0; i < rows; ++i) {
    const float* xi = x + i * ldx;
    for (size_t k = 0; k < K; ++k) dst[k * mr + i] = xi[k];
  }
}

}  // namespace mm

namespace {

// Per-thread, 64-byte aligned, grow-only scratch. Pool threads live as long
// as the pool, so the buffers are reused from call to call.
class Scratch {
 public:
  ~Scratch() { std::free(p_); }
  float* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p_) fail("matmul: out of memory for a ", bytes, "-byte scratch buffer");
      cap_ = n;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

Scratch& a_scratch() {
  thread_local Scratch s;
  return s;
}
Scratch& b_scratch() {
  thread_local Scratch s;
  return s;
}

// Up to this M the GEMV beats the GEMM when W comes from DRAM, as it does in
// a model: the GEMV reads each W row once and reuses it from L1 for every
// 4 rows of x, while the GEMM pays for widening and transposing W into
// panels. Measured (bench matmul_skinny, f16 2048x2048, 1 thread, Zen 5):
// AVX-512 GEMV/GEMM 3.8/4.0 ms at M=64, 6.0/5.5 ms at M=96; AVX2 6.2/11.0
// ms at M=64. The bf16 dot-product engine runs twice as fast and takes over
// earlier: bf16 GEMV/dot-GEMM 1.3/1.7 ms at M=16, 2.1/1.9 ms at M=32.
size_t gemv_max_m(int level, bool bf16_engine) {
  if (level == 0) return 8;
  return bf16_engine ? 24 : 64;
}

// From this M on, types with an int8 GEMM (gemm_rows) use it instead of
// their dot kernels: it unpacks each W panel once per call, which pays once
// a few of its 6-row tiles reuse it. At M = 512 it runs 5.9x faster than the
// dot kernels and 3-5x faster than dequantizing into the f32 GEMM (quant_bench,
// 2048x2048, CPU time on a loaded machine: Q4_0 8.6 / 51 / 46 ms). The
// crossover below 16 was not measured.
constexpr size_t kGemmRowsMinM = 16;

// x's rows converted by `prepare` into the call's scratch, x_stride bytes
// apart, the rows split across the pool (one row runs inline).
using PrepareXFn = void (*)(const float* x, size_t ldx, size_t M, size_t K, void* dst);
char* prepare_rows(const MatmulArgs& a, PrepareXFn prepare, size_t x_stride, ThreadPool& pool) {
  char* xp = reinterpret_cast<char*>(a_scratch().get((a.M * x_stride + 3) / 4));
  pool.parallel_for(a.M, 1, [&](size_t b, size_t e, int) {
    prepare(a.x + b * a.ldx, a.ldx, e - b, a.K, xp + b * x_stride);
  });
  return xp;
}

void run_gemv(const MatmulArgs& a, const mm::TypeKernels& tk, ThreadPool& pool) {
  // Hand out rows in groups of 4 so every chunk but the last runs the 4-row
  // tiles; aim at >= 32 KiB of W per chunk so the dispatch cost is amortised.
  const size_t row_bytes = a.w_stride;
  const size_t quads = (a.N + 3) / 4;
  const size_t grain = std::max<size_t>(1, (32 << 10) / (4 * row_bytes + 1));
  // Types whose dot kernels read converted activations (ggml's vec_dot_type,
  // e.g. Q8_0 blocks against Q4_0 weights) get them converted once here.
  const void* x = a.x;
  size_t x_stride = a.ldx * sizeof(float);
  if (tk.prepare_x) {
    x_stride = tk.x_row_bytes(a.K);
    x = prepare_rows(a, tk.prepare_x, x_stride, pool);
  }
  if (tk.gemm_rows && a.M >= kGemmRowsMinM) {
    const size_t unit = tk.gemm_rows_unit, units = (a.N + unit - 1) / unit;
    pool.parallel_for(units, 1, [&](size_t b, size_t e, int) {
      tk.gemm_rows(x, x_stride, a.M, a.K, a.w, a.w_stride, a.bias, unit * b, std::min(a.N, unit * e), a.y, a.ldy);
    });
    return;
  }
  pool.parallel_for(quads, grain, [&](size_t b, size_t e, int) {
    tk.dot_rows(x, x_stride, a.M, a.K, a.w, a.w_stride, a.bias, 4 * b, std::min(a.N, 4 * e), a.y, a.ldy);
  });
}

void run_gemm(const MatmulArgs& a, mm::PackWFn pack_w, const mm::GemmKernel& gk, ThreadPool& pool) {
  const size_t M = a.M, N = a.N, K = a.K, MR = gk.mr, NR = gk.nr, kp = gk.k_pack, eb = gk.elem_bytes;
  const size_t m_panels = (M + MR - 1) / MR;
  const size_t a_panel = MR * ((K + kp - 1) / kp) * eb;  // bytes of one packed panel of x
  char* ap = reinterpret_cast<char*>(a_scratch().get((m_panels * a_panel + 3) / 4));
  pool.parallel_for(m_panels, 1, [&](size_t b, size_t e, int) {
    for (size_t p = b; p < e; ++p) gk.pack_a(a.x + p * MR * a.ldx, a.ldx, std::min(MR, M - p * MR), K, MR, ap + p * a_panel);
  });

  // Tasks are nc-column blocks of y, split along M as well when there are
  // too few of them to keep every thread busy (e.g. N = 256 for k/v).
  const size_t nc = gk.nc, kc_max = gk.kc;
  const size_t n_blocks = (N + nc - 1) / nc;
  const size_t threads = size_t(pool.size());
  size_t m_split = 1;
  while (n_blocks * m_split < 4 * threads && m_panels >= 8 * m_split) m_split *= 2;
  const size_t panels_per_task = (m_panels + m_split - 1) / m_split;
  const char* w = static_cast<const char*>(a.w);
  const size_t b_panel_max = (kc_max + kp - 1) / kp * NR * eb;

  pool.parallel_for(n_blocks * m_split, 1, [&](size_t tb, size_t te, int) {
    char* bp = reinterpret_cast<char*>(b_scratch().get((b_panel_max * ((nc + NR - 1) / NR) + 3) / 4));
    for (size_t task = tb; task < te; ++task) {
      const size_t n_lo = task / m_split * nc, n_hi = std::min(N, n_lo + nc);
      const size_t p_lo = task % m_split * panels_per_task, p_hi = std::min(m_panels, p_lo + panels_per_task);
      for (size_t k0 = 0; k0 < K; k0 += kc_max) {
        const size_t kc = std::min(kc_max, K - k0);
        const size_t b_panel = (kc + kp - 1) / kp * NR * eb;
        for (size_t n = n_lo, j = 0; n < n_hi; n += NR, ++j)
          pack_w(w + n * a.w_stride, a.w_stride, std::min(NR, n_hi - n), k0, kc, bp + j * b_panel);
        for (size_t p = p_lo; p < p_hi; ++p) {
          const size_t m0 = p * MR, mr = std::min(MR, M - m0);
          const char* apan = ap + p * a_panel + k0 / kp * MR * eb;
          for (size_t n = n_lo, j = 0; n < n_hi; n += NR, ++j)
            gk.ukernel[mr](kc, apan, bp + j * b_panel, a.y + m0 * a.ldy + n, a.ldy, std::min(NR, n_hi - n),
                           a.bias ? a.bias + n : nullptr, k0 > 0);
        }
      }
    }
  });
}

// W in the row-interleaved layout (the N % 16 leftover rows are stored
// plainly after the groups and go through matmul as they are).
//
// Decode: groups of 16 rows split across threads, the interleaved kernels.
void run_interleaved_gemv(const MatmulArgs& a, const mm::TypeKernels& tk, ThreadPool& pool, size_t groups, size_t gb) {
  const size_t x_stride = tk.il_x_row_bytes(a.K);
  const char* xp = prepare_rows(a, tk.il_prepare_x, x_stride, pool);
  // ~32 KiB of W per task amortises the dispatch; for many rows of x (a
  // prompt) single groups already are plenty of work.
  const size_t grain = a.M > 4 ? 1 : std::max<size_t>(1, (32 << 10) / (gb + 1));
  pool.parallel_for(groups, grain, [&](size_t b, size_t e, int) {
    tk.il_rows(xp, x_stride, a.M, a.K, a.w, gb, b, e, a.bias, a.y, a.ldy);
  });
}

// Prompt: each thread turns its share of the groups back into the file's
// rows (a copy as cheap as one pass over them) and runs the int8 GEMM on
// them, which unpacks W once per call into what its microkernel multiplies.
void run_interleaved_gemm(const MatmulArgs& a, const mm::TypeKernels& tk, ThreadPool& pool, size_t groups) {
  const size_t x_stride = tk.x_row_bytes(a.K);
  const char* xp = prepare_rows(a, tk.prepare_x, x_stride, pool);
  const size_t row_bytes = a.K / traits(a.w_type).block_size * traits(a.w_type).type_size;
  const size_t per_unit = std::max<size_t>(1, tk.gemm_rows_unit / mm::kInterleaveRows);  // groups per GEMM panel
  const size_t units = (groups + per_unit - 1) / per_unit;
  pool.parallel_for(units, 1, [&](size_t b, size_t e, int) {
    const size_t g0 = b * per_unit, g1 = std::min(groups, e * per_unit);
    thread_local std::vector<uint8_t> rows;
    rows.resize((g1 - g0) * mm::kInterleaveRows * row_bytes);
    mm::deinterleave_groups(a.w_type, a.w, a.K, g0, g1, rows.data());
    const size_t n0 = g0 * mm::kInterleaveRows, n = (g1 - g0) * mm::kInterleaveRows;
    tk.gemm_rows(xp, x_stride, a.M, a.K, rows.data(), row_bytes, a.bias ? a.bias + n0 : nullptr, 0, n, a.y + n0, a.ldy);
  });
}

void run_interleaved(const MatmulArgs& a, const mm::TypeKernels& tk, ThreadPool& pool) {
  const size_t groups = a.N / mm::kInterleaveRows, gb = mm::interleaved_group_bytes(a.w_type, a.K);
  if (tk.gemm_rows && a.M >= kGemmRowsMinM && groups > 0) {
    run_interleaved_gemm(a, tk, pool, groups);
  } else {
    run_interleaved_gemv(a, tk, pool, groups, gb);
  }
  if (const size_t rest = a.N % mm::kInterleaveRows) {
    MatmulArgs t = a;
    t.w_interleaved = false;
    t.w = static_cast<const char*>(a.w) + groups * gb;
    t.w_stride = 0;
    t.N = rest;
    t.bias = a.bias ? a.bias + groups * mm::kInterleaveRows : nullptr;
    t.y = a.y + groups * mm::kInterleaveRows;
    t.ldy = a.ldy;
    matmul(t, pool);
  }
}

}  // namespace

bool can_interleave(DType w_type) {
  if (!mm::interleavable(w_type)) return false;
  const mm::TypeKernels* tk = mm::type_kernels(w_type, cpu_level());
  return tk && tk->il_rows;
}

size_t interleaved_weight_bytes(DType w_type, size_t N, size_t K) { return mm::interleaved_bytes(w_type, N, K); }

void interleave_weights(DType w_type, const void* w, size_t w_stride, size_t N, size_t K, void* dst,
                        ThreadPool& pool) {
  if (K % traits(w_type).block_size) fail("interleave: K=", K, " is not a multiple of the block size");
  pool.parallel_for(mm::interleave_tasks(N), 1, [&](size_t b, size_t e, int) {
    mm::interleave_groups(w_type, w, w_stride, N, K, b, e, dst);
  });
}

bool matmul_supported(DType w_type) { return mm::type_kernels(w_type, 0) != nullptr; }

void matmul(const MatmulArgs& in, ThreadPool& pool, MatmulPath path, int level) {
  MatmulArgs a = in;
  if (level < 0) level = cpu_level();
  if (level > cpu_features().level())
    fail("matmul: ISA level ", level, " requested but this CPU supports ", cpu_features().level());
  const mm::TypeKernels* tk = mm::type_kernels(a.w_type, level);
  if (!tk) fail("matmul: weights of type ", dtype_name(a.w_type), " are not supported");
  if (a.ldx == 0) a.ldx = a.K;
  if (a.ldy == 0) a.ldy = a.N;
  const DTypeTraits& tr = traits(a.w_type);
  if (a.K % tr.block_size)
    fail("matmul: K=", a.K, " is not a multiple of the ", tr.name, " block size ", tr.block_size);
  const size_t elem = tr.type_size, row = a.K / tr.block_size * elem;
  if (a.w_stride == 0) a.w_stride = row;
  if (a.ldx < a.K || a.ldy < a.N || a.w_stride < row || a.w_stride % elem)
    fail("matmul: bad strides (ldx ", a.ldx, ", ldy ", a.ldy, ", w_stride ", a.w_stride, " bytes) for M=", a.M,
         " N=", a.N, " K=", a.K);
  if (a.M == 0 || a.N == 0) return;
  if (a.K == 0) {
    for (size_t m = 0; m < a.M; ++m)
      for (size_t n = 0; n < a.N; ++n) a.y[m * a.ldy + n] = a.bias ? a.bias[n] : 0.0f;
    return;
  }

  if (a.w_interleaved) {
    if (!tk->il_rows) fail("matmul: interleaved ", dtype_name(a.w_type), " weights need the AVX512-VNNI kernels");
    return run_interleaved(a, *tk, pool);
  }

  const mm::GemmKernel* gk = tk->pack_w ? mm::gemm_kernel(level) : nullptr;
  const mm::GemmKernel* gk16 = tk->pack_w_bf16 ? mm::gemm_bf16_kernel(level) : nullptr;
  if (path == MatmulPath::Auto) {
    const bool bf16_engine = gk16 && a.fast_bf16;
    const size_t max_m = tk->gemv_max_m ? tk->gemv_max_m : gemv_max_m(level, bf16_engine);
    if (a.M <= max_m || !gk)
      path = MatmulPath::Gemv;
    else
      path = bf16_engine ? MatmulPath::GemmBf16 : MatmulPath::Gemm;
  }
  if (path == MatmulPath::GemmBf16 && !gk16) path = MatmulPath::Gemm;
  if (path == MatmulPath::Gemm && !gk) path = MatmulPath::Gemv;
  switch (path) {
    case MatmulPath::Blas:
      return mm::matmul_blas(a.x, a.ldx, a.M, a.K, a.w, a.w_type, a.w_stride, a.bias, a.y, a.ldy, a.N, pool);
    case MatmulPath::GemmBf16: return run_gemm(a, tk->pack_w_bf16, *gk16, pool);
    case MatmulPath::Gemm: return run_gemm(a, tk->pack_w, *gk, pool);
    default: return run_gemv(a, *tk, pool);
  }
}

void matmul(const float* x, const void* w, DType w_type, const float* bias, float* y, size_t M, size_t N, size_t K) {
  MatmulArgs a;
  a.M = M;
  a.N = N;
  a.K = K;
  a.x = x;
  a.w = w;
  a.w_type = w_type;
  a.bias = bias;
  a.y = y;
  matmul(a, default_pool());
}

void matmul_ref(const MatmulArgs& in) {
  MatmulArgs a = in;
  const mm::TypeKernels* tk = mm::type_kernels(a.w_type, 0);
  if (!tk) fail("matmul_ref: weights of type ", dtype_name(a.w_type), " are not supported");
  if (a.ldx == 0) a.ldx = a.K;
  if (a.ldy == 0) a.ldy = a.N;
  if (a.w_stride == 0) a.w_stride = a.K / traits(a.w_type).block_size * traits(a.w_type).type_size;
  const void* x = a.x;
  size_t x_stride = a.ldx * sizeof(float);
  std::vector<uint8_t> xq;
  if (tk->prepare_x) {
    x_stride = tk->x_row_bytes(a.K);
    xq.resize(a.M * x_stride);
    tk->prepare_x(a.x, a.ldx, a.M, a.K, xq.data());
    x = xq.data();
  }
  tk->dot_rows(x, x_stride, a.M, a.K, a.w, a.w_stride, a.bias, 0, a.N, a.y, a.ldy);
}

}  // namespace tf::kernels
