#include "tf/dtype.h"

#include <array>
#include <cctype>

#include "tf/error.h"

namespace tf {
namespace {

struct Entry {
  uint32_t id;
  DTypeTraits traits;
};

// Block and byte sizes as ggml defines the block structs (ggml-common.h).
constexpr Entry kTable[] = {
    {0, {"f32", 1, 4, false}},        {1, {"f16", 1, 2, false}},
    {2, {"q4_0", 32, 18, true}},      {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},      {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},      {9, {"q8_1", 32, 36, true}},
    {10, {"q2_K", 256, 84, true}},    {11, {"q3_K", 256, 110, true}},
    {12, {"q4_K", 256, 144, true}},   {13, {"q5_K", 256, 176, true}},
    {14, {"q6_K", 256, 210, true}},   {15, {"q8_K", 256, 292, true}},
    {16, {"iq2_xxs", 256, 66, true}}, {17, {"iq2_xs", 256, 74, true}},
    {18, {"iq3_xxs", 256, 98, true}}, {19, {"iq1_s", 256, 50, true}},
    {20, {"iq4_nl", 32, 18, true}},   {21, {"iq3_s", 256, 110, true}},
    {22, {"iq2_s", 256, 82, true}},   {23, {"iq4_xs", 256, 136, true}},
    {24, {"i8", 1, 1, false}},        {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},       {27, {"i64", 1, 8, false}},
    {28, {"f64", 1, 8, false}},       {29, {"iq1_m", 256, 56, true}},
    {30, {"bf16", 1, 2, false}},      {34, {"tq1_0", 256, 54, true}},
    {35, {"tq2_0", 256, 66, true}},
};

constexpr auto kById = [] {
  std::array<const DTypeTraits*, 40> by_id{};
  for (const Entry& e : kTable) by_id[e.id] = &e.traits;
  return by_id;
}();

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

const DTypeTraits* dtype_traits(uint32_t id) { return id < kById.size() ? kById[id] : nullptr; }

const DTypeTraits& traits(DType t) {
  const DTypeTraits* tr = dtype_traits(uint32_t(t));
  if (!tr) fail("unknown tensor type id ", uint32_t(t));
  return *tr;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const Entry& e : kTable)
    if (iequal(e.traits.name, name)) return DType(e.id);
  return std::nullopt;
}

std::optional<uint64_t> row_bytes(DType t, uint64_t n) {
  const DTypeTraits& tr = traits(t);
  if (n % tr.block_size != 0) return std::nullopt;
  uint64_t blocks = n / tr.block_size;
  if (blocks > UINT64_MAX / tr.type_size) return std::nullopt;
  return blocks * tr.type_size;
}

size_t element_size(DType t) {
  const DTypeTraits& tr = traits(t);
  if (tr.block_size != 1) fail("type ", tr.name, " has no per-element size (block type)");
  return tr.type_size;
}

}  // namespace tf
