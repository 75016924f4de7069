// What the running CPU can do, read once with CPUID/XGETBV (OS support for the
// wide registers included). Kernels pick their implementation from this.
#pragma once
#include <string>

namespace tf {

struct CpuFeatures {
  bool sse3 = false, ssse3 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  // The best level every kernel family may assume: 0 scalar, 1 AVX2+FMA+F16C,
  // 2 AVX-512 (F/BW/VL/DQ) on top of that.
  int level() const;
  std::string summary() const;  // "avx2 fma f16c avx512f ..."
};

const CpuFeatures& cpu_features();

// TF_CPU_LEVEL=0|1|2 caps the level (tests run every path the CPU can).
int cpu_level();

}  // namespace tf
