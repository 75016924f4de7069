// Bounds-checked little-endian reading from a byte range. Every read checks
// the remaining length first; a short read is a tf::Error naming the file,
// the field and the offset, so parsers never touch memory past the end.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "tf/error.h"

namespace tf {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string name)
      : data_(data), size_(size), name_(std::move(name)) {}

  size_t offset() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& name() const { return name_; }
  const uint8_t* data() const { return data_; }

  template <class T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // Returns a pointer to n bytes in place and advances past them.
  const uint8_t* take(uint64_t n, std::string_view field) {
    need(n, field);
    const uint8_t* p = data_ + pos_;
    pos_ += size_t(n);
    return p;
  }

  std::string_view read_view(uint64_t n, std::string_view field) {
    return {reinterpret_cast<const char*>(take(n, field)), size_t(n)};
  }

  void seek(size_t pos, std::string_view field) {
    if (pos > size_) fail(name_, ": ", field, ": offset ", pos, " is past the end (size ", size_, ")");
    pos_ = pos;
  }

  void need(uint64_t n, std::string_view field) const {
    if (n > size_ - pos_)
      fail(name_, ": truncated at offset ", pos_, " reading ", field, " (", n, " bytes needed, ", size_ - pos_,
           " left)");
  }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string name_;
  size_t pos_ = 0;
};

}  // namespace tf
