// Rules of GGUF that the reader and the writer must agree on, so that
// everything the writer accepts reads back and vice versa.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tf/dtype.h"
#include "tf/gguf.h"

namespace tf::gguf::layout {

constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr size_t kMaxNameBytes = 64;  // GGML_MAX_NAME, which counts the NUL
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";

inline uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

inline bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Byte size of a tensor with dims `ne` (innermost first): every dim > 0, the
// element count within int64 (ggml's int64_t ne), ne[0] a multiple of the
// block size. A tf::Error starting with `what` otherwise.
uint64_t tensor_nbytes(std::string_view what, DType type, const std::vector<uint64_t>& ne);

// The value of general.alignment: a uint32 power of two.
uint64_t checked_alignment(std::string_view what, const Value& value);

// A key or tensor name for an error message: quoted, control bytes escaped
// and long names cut, so that a hostile name keeps the message on one line.
std::string quoted(std::string_view name);

// A tensor name ggml can load: shorter than kMaxNameBytes.
void check_tensor_name(std::string_view what, std::string_view name);

}  // namespace tf::gguf::layout
