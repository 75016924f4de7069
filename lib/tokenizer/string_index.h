// string -> token id lookup, open addressing over a flat array. Tokenizers
// look up every candidate piece of every word; std::unordered_map<std::string>
// would allocate a key per lookup and chase a node pointer per probe.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tf::tok {

inline uint64_t hash_bytes(const char* p, size_t n) {
  // 64-bit multiply-xorshift over 8-byte words; quality is ample for vocab keys.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

class StringIndex {
 public:
  StringIndex() = default;
  // keys[i] -> i (or values[i] when given). Later duplicates do not replace
  // earlier keys (the lowest index wins). The index owns a copy of the keys.
  void build(std::vector<std::string> keys, std::vector<int32_t> values = {}) {
    bytes_.clear();
    size_t total = 0;
    for (const std::string& k : keys) total += k.size();
    bytes_.reserve(total);
    size_t cap = 16;
    while (cap < keys.size() * 2 + 16) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (size_t i = 0; i < keys.size(); ++i) insert(keys[i], values.empty() ? int32_t(i) : values[i]);
  }

  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash_bytes(key.data(), key.size());
    uint32_t tag = uint32_t(h >> 32) | 1;
    uint64_t head = head_of(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return -1;
      // The first eight bytes live in the slot: short keys (most tokens)
      // compare without touching the key bytes elsewhere in memory.
      if (s.tag == tag && s.length == key.size() && s.head == head &&
          (key.size() <= 8 || std::memcmp(bytes_.data() + s.offset + 8, key.data() + 8, key.size() - 8) == 0))
        return s.value;
    }
  }
  bool empty() const { return slots_.empty(); }

 private:
  struct Slot {
    uint32_t tag = 0;
    int32_t value = -1;
    uint32_t length = 0, offset = 0;  // key bytes: bytes_[offset, offset + length)
    uint64_t head = 0;                // first eight bytes of the key, zero padded
  };
  static uint64_t head_of(std::string_view key) {
    uint64_t head = 0;
    if (!key.empty()) std::memcpy(&head, key.data(), key.size() < 8 ? key.size() : 8);
    return head;
  }
  void insert(std::string_view key, int32_t value) {
    uint64_t h = hash_bytes(key.data(), key.size());
    uint32_t tag = uint32_t(h >> 32) | 1;
    uint64_t head = head_of(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.tag == 0) {
        s = {tag, value, uint32_t(key.size()), uint32_t(bytes_.size()), head};
        bytes_.append(key);
        return;
      }
      if (s.tag == tag && s.length == key.size() && s.head == head &&
          std::memcmp(bytes_.data() + s.offset, key.data(), key.size()) == 0)
        return;
    }
  }
  std::string bytes_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// (left id, right id) -> (rank, merged id), for BPE merges.
class PairIndex {
 public:
  struct Merge {
    int32_t rank = -1;
    int32_t id = -1;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2 + 16) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // Keeps the first (lowest-rank) entry for a pair.
  void insert(int32_t a, int32_t b, Merge m) {
    uint64_t key = pack(a, b);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == kEmpty) {
        s = {key, m};
        return;
      }
      if (s.key == key) return;
    }
  }
  Merge find(int32_t a, int32_t b) const {
    uint64_t key = pack(a, b);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.merge;
      if (s.key == kEmpty) return {};
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t pack(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace tf::tok
