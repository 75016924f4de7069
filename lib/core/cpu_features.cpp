#include "tf/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>

namespace tf {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse3 = c & bit_SSE3;
  f.ssse3 = c & bit_SSSE3;
  f.fma = c & bit_FMA;
  f.f16c = c & bit_F16C;
  bool osxsave = c & bit_OSXSAVE;
  bool avx_hw = c & bit_AVX;
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  bool os_ymm = (xcr0 & 0x6) == 0x6;
  bool os_zmm = (xcr0 & 0xe6) == 0xe6;
  f.avx = avx_hw && os_ymm;
  if (!f.avx) f.fma = f.f16c = false;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = f.avx && (b & bit_AVX2);
    if (os_zmm) {
      f.avx512f = b & bit_AVX512F;
      f.avx512bw = b & bit_AVX512BW;
      f.avx512vl = b & bit_AVX512VL;
      f.avx512dq = b & bit_AVX512DQ;
      f.avx512vnni = c & bit_AVX512VNNI;
    }
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.avxvnni = f.avx && (a & bit_AVXVNNI);
    f.avx512bf16 = os_zmm && (a & bit_AVX512BF16);
  }
  return f;
}

}  // namespace

int CpuFeatures::level() const {
  if (!(avx2 && fma && f16c)) return 0;
  if (avx512f && avx512bw && avx512vl && avx512dq) return 2;
  return 1;
}

std::string CpuFeatures::summary() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(sse3, "sse3");
  add(ssse3, "ssse3");
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avxvnni, "avxvnni");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  return s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

int cpu_level() {
  static const int level = [] {
    int l = cpu_features().level();
    if (const char* cap = std::getenv("TF_CPU_LEVEL")) {
      int c = std::atoi(cap);
      if (c >= 0 && c < l) l = c;
    }
    return l;
  }();
  return level;
}

}  // namespace tf
