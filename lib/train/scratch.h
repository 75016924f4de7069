// Large float scratch buffers reused across training steps. Buffers above
// glibc's mmap threshold (32 MiB at most) are otherwise mapped fresh and
// page-faulted in on every step — for a GPT-2 vocabulary the head's gradient
// and logits buffers made that ~40% of a step's time.
#pragma once
#include <cstddef>
#include <memory>

namespace tf::train::detail {

// An uninitialised buffer of at least n floats (64-byte aligned). It returns
// to a small process-wide pool when the last owner lets go, and a later call
// of a size it fits takes it again.
std::shared_ptr<float[]> scratch(size_t n);

}  // namespace tf::train::detail
