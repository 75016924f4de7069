#include "formats/gguf_layout.h"

#include <limits>

#include "tf/error.h"

namespace tf::gguf::layout {

uint64_t tensor_nbytes(std::string_view what, DType type, const std::vector<uint64_t>& ne) {
  const DTypeTraits* traits = dtype_traits(uint32_t(type));
  if (!traits) fail(what, ": unknown ggml type id ", uint32_t(type));
  if (ne.size() > kMaxDims) fail(what, ": ", ne.size(), " dimensions (at most ", kMaxDims, ")");
  uint64_t numel = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] == 0) fail(what, ": dimension ", d, " is zero");
    if (ne[d] > uint64_t(std::numeric_limits<int64_t>::max()) / numel)
      fail(what, ": element count overflows int64 (dimension ", d, " is ", ne[d], ")");
    numel *= ne[d];
  }
  uint64_t row = ne.empty() ? 1 : ne[0];
  if (row % traits->block_size != 0)
    fail(what, ": row length ", row, " is not a multiple of the ", traits->name, " block size ", traits->block_size);
  std::optional<uint64_t> row_size = row_bytes(type, row);
  uint64_t rows = numel / row;
  if (!row_size || rows > std::numeric_limits<uint64_t>::max() / *row_size) fail(what, ": byte size overflows");
  return *row_size * rows;
}

uint64_t checked_alignment(std::string_view what, const Value& value) {
  if (value.type() != ValueType::UINT32)
    fail(what, ": ", kAlignmentKey, " has type ", value_type_name(value.type()), ", expected uint32");
  uint64_t a = value.as_u64();
  if (!is_power_of_two(a)) fail(what, ": ", kAlignmentKey, " ", a, " is not a power of two");
  return a;
}

std::string quoted(std::string_view name) {
  constexpr size_t kShown = 80;
  std::string out = "'";
  for (unsigned char c : name.substr(0, kShown)) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      static const char* digits = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += char(c);
    }
  }
  out += name.size() > kShown ? "'..." : "'";
  return out;
}

void check_tensor_name(std::string_view what, std::string_view name) {
  if (name.size() >= kMaxNameBytes)
    fail(what, ": tensor name ", quoted(name), " is ", name.size(), " bytes long (ggml allows at most ",
         kMaxNameBytes - 1, ")");
}

}  // namespace tf::gguf::layout
