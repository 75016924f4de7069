#include "tf/machine_probe.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tf/cpu_features.h"
#include "tf/thread_pool.h"

namespace tf::bench {
namespace {

std::string read_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// "32K" / "1024K" / "32M" as sysfs writes cache sizes
uint64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  uint64_t v = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + uint64_t(s[i++] - '0');
  if (i < s.size() && s[i] == 'K') v <<= 10;
  if (i < s.size() && s[i] == 'M') v <<= 20;
  if (i < s.size() && s[i] == 'G') v <<= 30;
  return v;
}

// "0-3,8" -> 5
int count_cpu_list(const std::string& s) {
  int n = 0;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t dash = part.find('-');
    if (part.empty()) continue;
    if (dash == std::string::npos) ++n;
    else n += std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
  }
  return n;
}

}  // namespace

Machine probe_machine() {
  Machine m;
  m.simd = cpu_features().summary();
  m.kernel_level = cpu_level();
  cpu_set_t set;
  m.logical_cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : hardware_threads();

  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;
  std::string package;
  while (std::getline(cpuinfo, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = value;
    if (key == "cache size" && !m.cpuinfo_cache_bytes) m.cpuinfo_cache_bytes = parse_size(value.substr(0, value.find(' ')) + "K");
    if (key == "physical id") package = value;
    if (key == "core id") cores.insert({package, value});
  }
  m.physical_cores = int(cores.size());

  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/devices/system/cpu/cpu0/cache", ec)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    CacheLevel c;
    std::string level = read_line(entry.path() / "level");
    c.level = level.empty() ? 0 : std::stoi(level);
    c.type = read_line(entry.path() / "type");
    c.bytes = parse_size(read_line(entry.path() / "size"));
    c.shared_by_cpus = count_cpu_list(read_line(entry.path() / "shared_cpu_list"));
    m.caches.push_back(c);
  }
  std::sort(m.caches.begin(), m.caches.end(),
            [](const CacheLevel& a, const CacheLevel& b) { return std::tie(a.level, a.type) < std::tie(b.level, b.type); });

  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line)) {
    std::istringstream in(line);
    std::string key;
    uint64_t kb = 0;
    in >> key >> kb;
    if (key == "MemTotal:") m.mem_total_bytes = kb << 10;
    if (key == "MemAvailable:") m.mem_available_bytes = kb << 10;
  }
  return m;
}

double measure_read_bandwidth(int threads, uint64_t bytes, double seconds) {
  set_default_threads(threads);
  ThreadPool& pool = default_pool();
  size_t n = size_t(bytes / sizeof(float));
  std::unique_ptr<float[]> buf(new float[n]);
  // Each thread first touches the part it will read, so pages land on its node.
  pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e, int) { std::fill(buf.get() + b, buf.get() + e, 1.0f); });
  std::vector<double> partial(size_t(pool.size()) * 8, 0.0);  // 64-byte apart: no false sharing
  double best = 0;
  auto start = std::chrono::steady_clock::now();
  for (int pass = 0;; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e, int t) {
      // Eight independent sums let the compiler vectorise without -ffast-math.
      float s[8] = {};
      size_t i = b;
      for (; i + 8 <= e; i += 8)
        for (int k = 0; k < 8; ++k) s[k] += buf[i + size_t(k)];
      for (; i < e; ++i) s[0] += buf[i];
      double total = 0;
      for (float x : s) total += x;
      partial[size_t(t) * 8] += total;
    });
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n * sizeof(float)) / dt / 1e9);
    if (pass >= 2 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds) break;
  }
  // The sums must be used, or the reads may be optimised away.
  volatile double sink = 0;
  for (double p : partial) sink = sink + p;
  return best;
}

nlohmann::json machine_record(const Machine& m) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : m.caches)
    caches.push_back({{"level", c.level}, {"type", c.type}, {"bytes", c.bytes}, {"shared_by_cpus", c.shared_by_cpus}});
  return {{"type", "machine"},
          {"cpu_model", m.cpu_model},
          {"simd", m.simd},
          {"kernel_level", m.kernel_level},
          {"logical_cpus", m.logical_cpus},
          {"physical_cores", m.physical_cores},
          {"caches", caches},
          {"cpuinfo_cache_bytes", m.cpuinfo_cache_bytes},
          {"mem_total_bytes", m.mem_total_bytes},
          {"mem_available_bytes", m.mem_available_bytes}};
}

}  // namespace tf::bench
