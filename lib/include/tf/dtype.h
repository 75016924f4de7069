// Element types. The numbering is GGUF's (ggml_type), so a type id read from a
// file is a DType as is; the traits table is the one place that knows block
// sizes and byte sizes (cf. ggml's type_traits).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tf {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
  // 4 and 5 were Q4_2 / Q4_3, removed from ggml
  Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30,
  // 31-33 were Q4_0_4_4 / Q4_0_4_8 / Q4_0_8_8, removed from ggml
  TQ1_0 = 34, TQ2_0 = 35,
  // 36-38 were IQ4_NL_4_4 / _4_8 / _8_8, removed from ggml
};

struct DTypeTraits {
  std::string_view name;   // llama.cpp's spelling: "f32", "q4_K", ...
  uint32_t block_size;     // elements per block (1 for plain types)
  uint32_t type_size;      // bytes per block
  bool is_quantized;
};

// Traits of a known type; nullptr for an id that is not a (current) ggml type.
const DTypeTraits* dtype_traits(uint32_t id);
const DTypeTraits& traits(DType t);  // t must be known

inline std::string_view dtype_name(DType t) { return traits(t).name; }
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes taken by a row of n elements; nullopt when n is not a multiple of the
// block size or the size overflows.
std::optional<uint64_t> row_bytes(DType t, uint64_t n);

size_t element_size(DType t);  // plain types only (block_size == 1)

}  // namespace tf
