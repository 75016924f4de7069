// Per-operation time profile of model execution: wall time spent in each
// backend operation kind (linear, attention, norms, ...), for `tf-bench
// --profile`. Off by default; while off, the backend is called directly and
// costs nothing extra.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tf::profile {

// Turns collection on or off for the whole process. Takes effect for backend
// operations started afterwards.
void enable(bool on);
bool enabled();
void reset();

struct OpTime {
  std::string op;  // the backend operation: "linear", "attention", "rms_norm", ...
  uint64_t calls = 0;
  double ms = 0;
};

// Operations called since the last reset, most time first.
std::vector<OpTime> snapshot();

}  // namespace tf::profile
