// GGUF metadata values: construction, checked access, equality.
#include <bit>
#include <cstring>
#include <iterator>
#include <limits>

#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::gguf {
namespace {

// Packed arrays and scalar payloads are kept in file byte order.
static_assert(std::endian::native == std::endian::little, "GGUF values assume a little-endian host");

bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

// Widens one stored element to the 64-bit payload a scalar Value keeps
// (integers sign- or zero-extended, floats as their bit pattern).
uint64_t load_bits(ValueType t, const char* p) {
  size_t width = value_type_size(t);
  uint64_t v = 0;
  std::memcpy(&v, p, width);
  if (is_signed(t) && width < 8) {
    unsigned shift = unsigned(64 - 8 * width);
    v = uint64_t(int64_t(v << shift) >> shift);
  }
  return v;
}

}  // namespace

// Indexed by ValueType.
constexpr std::string_view kTypeNames[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                           "bool",  "string", "array",  "uint64", "int64",  "float64"};
constexpr size_t kTypeSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

std::string_view value_type_name(ValueType t) {
  return uint32_t(t) < std::size(kTypeNames) ? kTypeNames[uint32_t(t)] : "unknown";
}

size_t value_type_size(ValueType t) { return uint32_t(t) < std::size(kTypeSizes) ? kTypeSizes[uint32_t(t)] : 0; }

#define TF_SCALAR(fn, T, VT, expr) \
  Value Value::fn(T v) {           \
    Value out;                     \
    out.type_ = ValueType::VT;     \
    out.bits_ = (expr);            \
    return out;                    \
  }
TF_SCALAR(u8, uint8_t, UINT8, v)
TF_SCALAR(i8, int8_t, INT8, uint64_t(int64_t(v)))
TF_SCALAR(u16, uint16_t, UINT16, v)
TF_SCALAR(i16, int16_t, INT16, uint64_t(int64_t(v)))
TF_SCALAR(u32, uint32_t, UINT32, v)
TF_SCALAR(i32, int32_t, INT32, uint64_t(int64_t(v)))
TF_SCALAR(u64, uint64_t, UINT64, v)
TF_SCALAR(i64, int64_t, INT64, uint64_t(v))
TF_SCALAR(f32, float, FLOAT32, std::bit_cast<uint32_t>(v))
TF_SCALAR(f64, double, FLOAT64, std::bit_cast<uint64_t>(v))
TF_SCALAR(boolean, bool, BOOL, v ? 1 : 0)
#undef TF_SCALAR

Value Value::string(std::string v) {
  Value out;
  out.type_ = ValueType::STRING;
  out.str_ = std::move(v);
  return out;
}

Value Value::packed_array(ValueType element_type, std::string bytes) {
  size_t width = value_type_size(element_type);
  if (width == 0) fail("packed GGUF array of ", value_type_name(element_type), " (only numbers and bools pack)");
  if (bytes.size() % width != 0)
    fail("packed GGUF array of ", value_type_name(element_type), ": ", bytes.size(),
         " bytes is not a whole number of elements");
  Value out;
  out.type_ = ValueType::ARRAY;
  out.element_type_ = element_type;
  out.count_ = bytes.size() / width;
  out.str_ = std::move(bytes);
  return out;
}

Value Value::array(ValueType element_type, std::vector<Value> items) {
  for (const Value& v : items)
    if (v.type_ != element_type)
      fail("GGUF array of ", value_type_name(element_type), " given an element of type ", value_type_name(v.type_));
  Value out;
  out.type_ = ValueType::ARRAY;
  out.element_type_ = element_type;
  out.count_ = items.size();
  if (element_type == ValueType::STRING) {
    out.strings_.reserve(items.size());
    for (Value& v : items) out.strings_.push_back(std::move(v.str_));
  } else if (element_type == ValueType::ARRAY) {
    out.items_ = std::move(items);
  } else {
    size_t width = value_type_size(element_type);
    if (width == 0) fail("GGUF array of unknown element type ", uint32_t(element_type));
    out.str_.resize(items.size() * width);
    for (size_t i = 0; i < items.size(); ++i) std::memcpy(out.str_.data() + i * width, &items[i].bits_, width);
  }
  return out;
}

Value Value::string_array(std::vector<std::string> items) {
  Value out;
  out.type_ = ValueType::ARRAY;
  out.element_type_ = ValueType::STRING;
  out.count_ = items.size();
  out.strings_ = std::move(items);
  return out;
}

Value Value::f32_array(const std::vector<float>& items) {
  return packed_array(ValueType::FLOAT32, std::string(reinterpret_cast<const char*>(items.data()), items.size() * 4));
}

Value Value::i32_array(const std::vector<int32_t>& items) {
  return packed_array(ValueType::INT32, std::string(reinterpret_cast<const char*>(items.data()), items.size() * 4));
}

bool Value::is_integer() const { return is_integer_type(type_); }

uint64_t Value::as_u64() const {
  if (!is_integer()) fail("expected an integer, got ", value_type_name(type_));
  if (is_signed(type_) && int64_t(bits_) < 0) fail("expected a non-negative integer, got ", int64_t(bits_));
  return bits_;
}

int64_t Value::as_i64() const {
  if (!is_integer()) fail("expected an integer, got ", value_type_name(type_));
  if (type_ == ValueType::UINT64 && bits_ > uint64_t(std::numeric_limits<int64_t>::max()))
    fail("integer ", bits_, " does not fit in int64");
  return int64_t(bits_);
}

double Value::as_f64() const {
  if (type_ == ValueType::FLOAT32) return std::bit_cast<float>(uint32_t(bits_));
  if (type_ == ValueType::FLOAT64) return std::bit_cast<double>(bits_);
  if (type_ == ValueType::UINT64) return double(bits_);
  if (is_integer()) return double(int64_t(bits_));
  fail("expected a number, got ", value_type_name(type_));
}

bool Value::as_bool() const {
  if (type_ != ValueType::BOOL) fail("expected a bool, got ", value_type_name(type_));
  return bits_ != 0;
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::STRING) fail("expected a string, got ", value_type_name(type_));
  return str_;
}

size_t Value::size() const {
  if (!is_array()) fail("expected an array, got ", value_type_name(type_));
  return size_t(count_);
}

Value Value::at(size_t i) const {
  if (i >= size()) fail("array index ", i, " out of range (size ", count_, ")");
  if (element_type_ == ValueType::STRING) return string(strings_[i]);
  if (element_type_ == ValueType::ARRAY) return items_[i];
  size_t width = value_type_size(element_type_);
  Value out;
  out.type_ = element_type_;
  out.bits_ = load_bits(element_type_, str_.data() + i * width);
  return out;
}

std::vector<Value> Value::items() const {
  std::vector<Value> out;
  out.reserve(size());
  for (size_t i = 0; i < size_t(count_); ++i) out.push_back(at(i));
  return out;
}

const std::string& Value::packed() const {
  if (!is_array() || value_type_size(element_type_) == 0)
    fail("expected an array of numbers or bools, got ", is_array() ? "an array of " : "",
         value_type_name(is_array() ? element_type_ : type_));
  return str_;
}

const std::vector<std::string>& Value::as_strings() const {
  if (!is_array() || element_type_ != ValueType::STRING)
    fail("expected an array of strings, got ", is_array() ? "an array of " : "",
         value_type_name(is_array() ? element_type_ : type_));
  return strings_;
}

std::vector<float> Value::as_f32s() const {
  const std::string& raw = packed();
  if (element_type_ == ValueType::BOOL) fail("expected an array of numbers, got an array of bool");
  std::vector<float> out(static_cast<size_t>(count_));
  if (element_type_ == ValueType::FLOAT32) {
    std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  size_t width = value_type_size(element_type_);
  Value one;
  one.type_ = element_type_;
  for (size_t i = 0; i < out.size(); ++i) {
    one.bits_ = load_bits(element_type_, raw.data() + i * width);
    out[i] = float(one.as_f64());
  }
  return out;
}

std::vector<int64_t> Value::as_i64s() const {
  const std::string& raw = packed();
  if (!is_integer_type(element_type_))
    fail("expected an array of integers, got an array of ", value_type_name(element_type_));
  size_t width = value_type_size(element_type_);
  std::vector<int64_t> out(static_cast<size_t>(count_));
  Value one;
  one.type_ = element_type_;
  for (size_t i = 0; i < out.size(); ++i) {
    one.bits_ = load_bits(element_type_, raw.data() + i * width);
    out[i] = one.as_i64();
  }
  return out;
}

void Value::encode(std::string& out) const {
  auto put_u64 = [&](uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); };
  auto put_string = [&](const std::string& s) {
    put_u64(s.size());
    out += s;
  };
  if (type_ == ValueType::STRING) return put_string(str_);
  if (type_ != ValueType::ARRAY) {
    // little-endian host: the low bytes of the payload are the stored element
    out.append(reinterpret_cast<const char*>(&bits_), value_type_size(type_));
    return;
  }
  uint32_t et = uint32_t(element_type_);
  out.append(reinterpret_cast<const char*>(&et), 4);
  put_u64(count_);
  if (element_type_ == ValueType::STRING) {
    for (const std::string& s : strings_) put_string(s);
  } else if (element_type_ == ValueType::ARRAY) {
    for (const Value& v : items_) v.encode(out);
  } else {
    out += str_;
  }
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  if (type_ == ValueType::STRING) return str_ == o.str_;
  if (type_ != ValueType::ARRAY) return bits_ == o.bits_;
  return element_type_ == o.element_type_ && count_ == o.count_ && str_ == o.str_ && strings_ == o.strings_ &&
         items_ == o.items_;
}

}  // namespace tf::gguf
