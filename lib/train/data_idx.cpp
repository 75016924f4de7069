// IDX image sets, plain or gzip'd (tf/train_data.h).
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "tf/byte_reader.h"
#include "tf/error.h"
#include "tf/mapped_file.h"
#include "tf/train_data.h"

namespace tf::train {

namespace {
// A gunzipped data set larger than this is refused rather than exhausting
// memory (a gzip bomb); Fashion-MNIST's largest file is 47 MB.
constexpr uint64_t kMaxGunzippedBytes = uint64_t(4) << 30;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::vector<uint8_t> read_gzip(const std::string& path) {
  auto file = MappedFile::open(path, LoadMode::Read);
  const uint8_t* in = file->data();
  const size_t in_size = file->size();
  if (in_size < 18 || in[0] != 0x1f || in[1] != 0x8b) fail(path, ": not a gzip file");
  std::vector<uint8_t> out;
  // The last member's trailer holds its size mod 2^32: a good first guess,
  // trusted only as far as deflate's best ratio (~1032:1) allows.
  uint32_t isize;
  std::memcpy(&isize, in + in_size - 4, 4);
  out.reserve(size_t(std::min<uint64_t>({isize, uint64_t(in_size) * 1032, kMaxGunzippedBytes})));

  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(path, ": zlib initialisation failed");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  size_t consumed = 0;
  uint8_t chunk[1 << 16];
  while (true) {
    zs.next_in = const_cast<Bytef*>(in + consumed);
    const size_t avail = std::min<size_t>(in_size - consumed, 1u << 30);
    zs.avail_in = uInt(avail);
    zs.next_out = chunk;
    zs.avail_out = sizeof(chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += avail - zs.avail_in;
    const size_t produced = sizeof(chunk) - zs.avail_out;
    if (out.size() + produced > kMaxGunzippedBytes)
      fail(path, ": decompresses to more than ", kMaxGunzippedBytes, " bytes");
    out.insert(out.end(), chunk, chunk + produced);
    if (rc == Z_STREAM_END) {
      if (consumed == in_size) break;
      // another gzip member follows (concatenated .gz files are one stream)
      if (in_size - consumed < 2 || in[consumed] != 0x1f || in[consumed + 1] != 0x8b)
        fail(path, ": ", in_size - consumed, " bytes of garbage after the gzip data at offset ", consumed);
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_BUF_ERROR && consumed == in_size) fail(path, ": truncated gzip data (", in_size, " bytes)");
    if (rc != Z_OK)
      fail(path, ": corrupt gzip data at offset ", consumed, ": ", zs.msg ? zs.msg : "zlib error ", zs.msg ? "" : std::to_string(rc));
    if (consumed == in_size && produced == 0 && zs.avail_out == sizeof(chunk))
      fail(path, ": truncated gzip data (", in_size, " bytes)");
  }
  return out;
}

IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name) {
  ByteReader r(bytes.data(), bytes.size(), name);
  const uint8_t* magic = r.take(4, "IDX magic");
  if (magic[0] != 0 || magic[1] != 0) fail(name, ": not an IDX file (magic ", int(magic[0]), " ", int(magic[1]), ")");
  if (magic[2] != 0x08)
    fail(name, ": IDX element type 0x", "0123456789abcdef"[magic[2] >> 4], "0123456789abcdef"[magic[2] & 15],
         " is not supported (only unsigned bytes, 0x08)");
  const int ndim = magic[3];
  if (ndim < 1 || ndim > 8) fail(name, ": IDX file with ", ndim, " dimensions");
  IdxArray a;
  uint64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    const uint8_t* d = r.take(4, "IDX dimension");
    const uint64_t n = uint64_t(d[0]) << 24 | uint64_t(d[1]) << 16 | uint64_t(d[2]) << 8 | d[3];
    a.dims.push_back(int64_t(n));
    if (__builtin_mul_overflow(count, n, &count) || count > r.size())
      fail(name, ": IDX dimensions ask for more bytes than the file has (", r.size(), ")");
  }
  if (count != r.remaining())
    fail(name, ": IDX dimensions need ", count, " bytes of data, the file has ", r.remaining());
  const uint8_t* data = r.take(count, "IDX data");
  a.data.assign(data, data + count);
  return a;
}

IdxArray read_idx(const std::string& path) {
  if (ends_with(path, ".gz")) {
    std::vector<uint8_t> bytes = read_gzip(path);
    return parse_idx(bytes, path);
  }
  auto file = MappedFile::open(path, LoadMode::Read);
  return parse_idx({file->data(), file->size()}, path);
}

ImageClassificationData load_idx_images(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = read_idx(images_path), labels = read_idx(labels_path);
  if (images.dims.size() != 3) fail(images_path, ": expected [count, rows, cols] images, got ", images.dims.size(), " dimensions");
  if (labels.dims.size() != 1) fail(labels_path, ": expected [count] labels, got ", labels.dims.size(), " dimensions");
  if (images.dims[0] != labels.dims[0])
    fail(images_path, ": ", images.dims[0], " images but ", labels_path, " has ", labels.dims[0], " labels");
  if (images.dims[0] == 0) fail(images_path, ": no images");
  ImageClassificationData d;
  d.count = images.dims[0];
  d.rows = images.dims[1];
  d.cols = images.dims[2];
  d.pixels = std::move(images.data);
  d.labels.assign(labels.data.begin(), labels.data.end());
  d.num_classes = *std::max_element(d.labels.begin(), d.labels.end()) + 1;
  return d;
}

std::vector<float> ImageClassificationData::batch_pixels(std::span<const size_t> indices) const {
  const size_t n = size_t(rows * cols);
  std::vector<float> out(indices.size() * n);
  for (size_t b = 0; b < indices.size(); ++b) {
    if (indices[b] >= size_t(count)) fail("image index ", indices[b], " out of range (", count, " images)");
    const uint8_t* src = pixels.data() + indices[b] * n;
    for (size_t i = 0; i < n; ++i) out[b * n + i] = float(src[i]) * (1.0f / 255.0f);
  }
  return out;
}

}  // namespace tf::train
