// A description of the machine a benchmark ran on: CPU model, the SIMD level
// the kernels use, cores, caches, memory, and a measured memory read
// bandwidth (a short stream-read benchmark) for `tf-bench --probe`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tf::bench {

struct CacheLevel {
  int level = 0;
  std::string type;       // "Data", "Instruction", "Unified"
  uint64_t bytes = 0;
  int shared_by_cpus = 0;  // logical CPUs sharing one instance
};

struct Machine {
  std::string cpu_model;   // /proc/cpuinfo "model name"
  std::string simd;        // tf::cpu_features().summary()
  int kernel_level = 0;    // tf::cpu_level(): 0 scalar, 1 AVX2, 2 AVX-512
  int logical_cpus = 0;    // CPUs this process may run on
  int physical_cores = 0;  // distinct (package, core) pairs; 0 if unknown
  std::vector<CacheLevel> caches;  // sysfs; empty where the VM hides it
  uint64_t cpuinfo_cache_bytes = 0;  // /proc/cpuinfo "cache size" (level not stated: L2 on AMD, L3 on Intel)
  uint64_t mem_total_bytes = 0, mem_available_bytes = 0;
};

// Reads /proc and sysfs; fields it cannot read stay empty or zero.
Machine probe_machine();

// Sums a buffer of `bytes` floats split over `threads` threads (the default
// pool), repeated for about `seconds`; returns the best pass in GB/s (1e9).
double measure_read_bandwidth(int threads, uint64_t bytes = uint64_t(256) << 20, double seconds = 0.5);

// {"type":"machine", cpu_model, simd, kernel_level, logical_cpus,
//  physical_cores, caches:[{level,type,bytes,shared_by_cpus}], cpuinfo_cache_bytes,
//  mem_total_bytes, mem_available_bytes}
nlohmann::json machine_record(const Machine& m);

}  // namespace tf::bench
