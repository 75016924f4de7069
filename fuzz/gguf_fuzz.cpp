// libFuzzer target for the GGUF reader and writer. Any input must parse or
// throw tf::Error; what parses must survive a copy through the writer, and
// the copy must be a fixed point (writing what was read back gives the same
// bytes) with the same metadata and tensor data.
//
//   python3 fuzz/make_gguf_seeds.py /tmp/gguf-seeds
//   build-fuzz/fuzz/gguf_fuzz -max_total_time=300 -rss_limit_mb=2048 -max_len=65536 \
//       -dict=fuzz/gguf.dict /tmp/gguf-corpus /tmp/gguf-seeds
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "tf/error.h"
#include "tf/gguf.h"

namespace {

using namespace tf::gguf;

// Output files, removed after every input (libFuzzer ends with _Exit, which
// skips destructors). tmpfs when there is one: AtomicFile fsyncs, which would
// dominate on a disk.
std::string scratch_file(const char* name) {
  static const std::string prefix = [] {
    std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (base / ("tf-gguf-fuzz-" + std::to_string(::getpid()) + "-")).string();
  }();
  return prefix + name;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "gguf_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

uint64_t touch(const File& f) {
  uint64_t h = 0;
  for (const KeyValue& kv : f.metadata()) {
    std::string enc;
    kv.value.encode(enc);
    h += enc.size() + kv.key.size();
    if (kv.value.is_array() && kv.value.size() > 0) h += uint64_t(kv.value.at(kv.value.size() - 1).type());
  }
  for (const TensorInfo& t : f.tensors()) {
    const uint8_t* p = f.tensor_data(t);
    h += p[0] + p[t.nbytes - 1] + t.shape().size();
    check(f.find_tensor(t.name) == &t, "tensor index");
  }
  try {
    h += f.architecture().size();  // a tf::Error when the key is not a string
  } catch (const tf::Error&) {
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  File in;
  try {
    in = File::parse_bytes(data, size, "fuzz.gguf");
  } catch (const tf::Error& e) {
    check(std::strchr(e.what(), '\n') == nullptr, "an error is one line");
    check(std::strlen(e.what()) < 1024, "an error is a short line");
    return 0;
  }
  touch(in);

  const std::string a = scratch_file("a.gguf"), b = scratch_file("b.gguf");
  Writer::Result ra;
  try {
    ra = writer_from(in).write(a);
  } catch (const tf::Error& e) {
    std::fprintf(stderr, "gguf_fuzz: parsed but could not be copied: %s\n", e.what());
    std::abort();
  }
  File copy = File::open(a);
  check(copy.metadata().size() == in.metadata().size(), "metadata count");
  for (size_t i = 0; i < in.metadata().size(); ++i) {
    check(copy.metadata()[i].key == in.metadata()[i].key, "metadata key");
    check(copy.metadata()[i].value == in.metadata()[i].value, "metadata value");
  }
  check(copy.tensors().size() == in.tensors().size(), "tensor count");
  for (size_t i = 0; i < in.tensors().size(); ++i) {
    const TensorInfo& x = in.tensors()[i];
    const TensorInfo& y = copy.tensors()[i];
    check(x.name == y.name && x.ne == y.ne && x.type == y.type && x.nbytes == y.nbytes, "tensor info");
    check(std::memcmp(in.tensor_data(x), copy.tensor_data(y), x.nbytes) == 0, "tensor data");
  }
  Writer::Result rb = writer_from(copy).write(b);
  check(ra.sha256 == rb.sha256 && ra.bytes == rb.bytes, "write(read(write(x))) == write(x)");
  std::filesystem::remove(a);
  std::filesystem::remove(b);
  return 0;
}
