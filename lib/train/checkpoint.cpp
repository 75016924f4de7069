// Training checkpoints: HF model folders, GGUF exports and the zstd-compressed
// training state (tf/checkpoint.h).
#include "tf/checkpoint.h"

#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "formats/strict_json.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/mapped_file.h"
#include "tf/safetensors.h"

namespace fs = std::filesystem;

namespace tf::train {

namespace {

constexpr char kStateMagic[8] = {'T', 'F', 'S', 'T', 'A', 'T', 'E', '1'};
constexpr uint64_t kStateFormatVersion = 1;
// A state larger than this is refused before allocating (a corrupt size
// field); 64 GiB covers the moments of a model far larger than we train.
constexpr uint64_t kMaxPayloadBytes = uint64_t(64) << 30;

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// Typed access to the state header with errors that name the field.
struct Header {
  const nlohmann::json& j;
  const std::string& origin;
  const nlohmann::json& at(const nlohmann::json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object() || !obj.contains(key)) fail(origin, ": ", where, ": missing '", key, "'");
    return obj.at(key);
  }
  int64_t int_at(const nlohmann::json& obj, const char* key, const std::string& where) const {
    const nlohmann::json& v = at(obj, key, where);
    if (!v.is_number_integer()) fail(origin, ": ", where, ": '", key, "' is not an integer");
    return v.get<int64_t>();
  }
  std::string str_at(const nlohmann::json& obj, const char* key, const std::string& where) const {
    const nlohmann::json& v = at(obj, key, where);
    if (!v.is_string()) fail(origin, ": ", where, ": '", key, "' is not a string");
    return v.get<std::string>();
  }
  const nlohmann::json& array_at(const nlohmann::json& obj, const char* key, const std::string& where) const {
    const nlohmann::json& v = at(obj, key, where);
    if (!v.is_array()) fail(origin, ": ", where, ": '", key, "' is not an array");
    return v;
  }
};

}  // namespace

void write_training_state(const std::string& path, const TrainingState& s) {
  // Buffers go to the data section in header order; the header records where.
  std::vector<const std::vector<float>*> buffers;
  uint64_t floats = 0;
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : s.optimizer.groups) {
    nlohmann::json g = nlohmann::json::array();
    for (const OptimizerState::Param& p : group) {
      nlohmann::json bufs = nlohmann::json::array();
      for (const OptimizerState::Buffer& b : p.buffers) {
        bufs.push_back({{"name", b.name}, {"offset", floats}, {"count", b.data.size()}});
        floats += b.data.size();
        buffers.push_back(&b.data);
      }
      g.push_back({{"name", p.name}, {"numel", p.numel}, {"steps", p.steps}, {"buffers", std::move(bufs)}});
    }
    groups.push_back(std::move(g));
  }
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : s.params) params.push_back({{"name", p.name}, {"shape", p.shape}});
  const nlohmann::json header = {
      {"format", "trustformers-training-state"},
      {"version", kStateFormatVersion},
      {"step", s.step},
      {"config", s.config},
      {"data", s.data},
      {"params", std::move(params)},
      {"optimizer", {{"kind", s.optimizer.kind}, {"steps", s.optimizer.steps}, {"lr", s.optimizer.lr}, {"groups", std::move(groups)}}},
      {"extra", s.extra},
  };
  const std::string header_text = header.dump();
  std::vector<uint8_t> payload;
  payload.reserve(8 + header_text.size() + floats * 4);
  put_u64(payload, header_text.size());
  payload.insert(payload.end(), header_text.begin(), header_text.end());
  for (const std::vector<float>* b : buffers) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(b->data());
    payload.insert(payload.end(), bytes, bytes + b->size() * 4);
  }

  std::vector<uint8_t> compressed(ZSTD_compressBound(payload.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) fail(path, ": cannot create a zstd context");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);  // corruption is caught on load
  const size_t n = ZSTD_compress2(cctx, compressed.data(), compressed.size(), payload.data(), payload.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) fail(path, ": zstd compression failed: ", ZSTD_getErrorName(n));

  std::vector<uint8_t> head(kStateMagic, kStateMagic + 8);
  put_u64(head, payload.size());
  put_u64(head, n);
  AtomicFile out(path);
  out.write(head.data(), head.size());
  out.write(compressed.data(), n);
  out.commit();
}

TrainingState read_training_state(const std::string& path) {
  auto file = MappedFile::open(path, LoadMode::Read);
  return parse_training_state({file->data(), file->size()}, path);
}

TrainingState parse_training_state(std::span<const uint8_t> bytes, const std::string& path) {
  const uint8_t* p = bytes.data();
  const size_t size = bytes.size();
  if (size < 24 || std::memcmp(p, kStateMagic, 8) != 0) fail(path, ": not a trustformers training state");
  const uint64_t payload_size = get_u64(p + 8), compressed_size = get_u64(p + 16);
  if (compressed_size != size - 24)
    fail(path, ": truncated or padded: the header promises ", compressed_size, " compressed bytes, the file has ",
         size - 24);
  // zstd expands at most ~32768:1 (a 128 KiB RLE block from a few bytes):
  // a larger claim is a corrupt header, refused before allocating for it.
  if (payload_size < 8 || payload_size > kMaxPayloadBytes || payload_size > compressed_size * 32768 + (1u << 20))
    fail(path, ": implausible payload size ", payload_size, " for ", compressed_size, " compressed bytes");
  const unsigned long long frame_size = ZSTD_getFrameContentSize(p + 24, compressed_size);
  if (frame_size != payload_size) fail(path, ": corrupt: the zstd frame does not hold ", payload_size, " bytes");
  std::vector<uint8_t> payload(payload_size);
  const size_t got = ZSTD_decompress(payload.data(), payload.size(), p + 24, compressed_size);
  if (ZSTD_isError(got)) fail(path, ": corrupt compressed data: ", ZSTD_getErrorName(got));
  if (got != payload_size) fail(path, ": corrupt: decompressed ", got, " bytes, expected ", payload_size);

  const uint64_t header_size = get_u64(payload.data());
  if (header_size > payload_size - 8) fail(path, ": header of ", header_size, " bytes runs past the payload");
  const std::string_view header_text(reinterpret_cast<const char*>(payload.data() + 8), header_size);
  const nlohmann::json j = json::parse_strict(header_text, path + ": header");
  const uint64_t data_bytes = payload_size - 8 - header_size;
  if (data_bytes % 4 != 0) fail(path, ": data section of ", data_bytes, " bytes is not whole floats");
  // the header length is arbitrary, so buffers may be misaligned: memcpy them out
  const uint8_t* data_bytes_ptr = payload.data() + 8 + header_size;
  const uint64_t floats = data_bytes / 4;

  Header h{j, path};
  if (h.str_at(j, "format", "header") != "trustformers-training-state") fail(path, ": not a training state");
  if (h.int_at(j, "version", "header") != int64_t(kStateFormatVersion))
    fail(path, ": training state version ", j["version"].dump(), " (this build reads ", kStateFormatVersion, ")");
  TrainingState s;
  s.step = h.int_at(j, "step", "header");
  if (s.step < 0) fail(path, ": negative step");
  s.config = h.at(j, "config", "header");
  s.data = h.at(j, "data", "header");
  s.extra = h.at(j, "extra", "header");
  for (const nlohmann::json& pj : h.array_at(j, "params", "header")) {
    TrainingState::ParamShape ps;
    ps.name = h.str_at(pj, "name", "params");
    for (const nlohmann::json& d : h.array_at(pj, "shape", "params '" + ps.name + "'")) {
      if (!d.is_number_unsigned()) fail(path, ": params '", ps.name, "': bad shape");
      ps.shape.push_back(d.get<int64_t>());
    }
    s.params.push_back(std::move(ps));
  }
  const nlohmann::json& oj = h.at(j, "optimizer", "header");
  s.optimizer.kind = h.str_at(oj, "kind", "optimizer");
  s.optimizer.steps = h.int_at(oj, "steps", "optimizer");
  const nlohmann::json& lr = h.at(oj, "lr", "optimizer");
  if (!lr.is_number()) fail(path, ": optimizer: 'lr' is not a number");
  s.optimizer.lr = lr.get<float>();
  uint64_t expected_offset = 0;  // buffers must tile the data section in order
  for (const nlohmann::json& gj : h.array_at(oj, "groups", "optimizer")) {
    if (!gj.is_array()) fail(path, ": optimizer: a group is not an array");
    auto& group = s.optimizer.groups.emplace_back();
    for (const nlohmann::json& pj : gj) {
      OptimizerState::Param prm;
      prm.name = h.str_at(pj, "name", "optimizer parameter");
      const std::string where = "optimizer parameter '" + prm.name + "'";
      prm.numel = h.int_at(pj, "numel", where);
      prm.steps = h.int_at(pj, "steps", where);
      for (const nlohmann::json& bj : h.array_at(pj, "buffers", where)) {
        OptimizerState::Buffer b;
        b.name = h.str_at(bj, "name", where);
        const int64_t offset = h.int_at(bj, "offset", where), count = h.int_at(bj, "count", where);
        if (offset < 0 || count < 0 || uint64_t(offset) != expected_offset || uint64_t(count) > floats - expected_offset)
          fail(path, ": ", where, " buffer '", b.name, "' at float ", offset, " (+", count,
               ") does not continue the data section at ", expected_offset, " of ", floats);
        b.data.resize(size_t(count));
        std::memcpy(b.data.data(), data_bytes_ptr + offset * 4, size_t(count) * 4);
        expected_offset += uint64_t(count);
        prm.buffers.push_back(std::move(b));
      }
      group.push_back(std::move(prm));
    }
  }
  if (expected_offset != floats)
    fail(path, ": ", floats - expected_offset, " floats in the data section belong to no buffer");
  return s;
}

void check_state_params(const TrainingState& state, std::span<const NamedParam> params, const std::string& origin) {
  if (state.params.size() != params.size())
    fail(origin, ": saved for a model with ", state.params.size(), " parameters, this model has ", params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& saved = state.params[i];
    if (saved.name != params[i].name || saved.shape != params[i].var.shape())
      fail(origin, ": parameter ", i, " saved as '", saved.name, "' ", shape_string(saved.shape), ", the model has '",
           params[i].name, "' ", params[i].var.value().shape_string());
  }
}

namespace {

// The files of a Hugging Face tokenizer; whichever the source has are copied.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                           "vocab.json",     "merges.txt",            "vocab.txt",
                                           "tokenizer.model", "added_tokens.json"};

bool starts_with_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[4] = {};
  in.read(head, 4);
  return in.gcount() == 4 && std::memcmp(head, "GGUF", 4) == 0;
}

// A copy owned like the files written beside it (a read-only source, such as
// a shared model zoo, must not make the checkpoint's files read-only).
void copy_file_writable(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (!ec)
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                    ec);
  if (ec) fail(from.string(), ": cannot copy to ", to.string(), ": ", ec.message());
}

void copy_tokenizer(const std::string& source, const fs::path& dir) {
  std::error_code ec;
  if (source.empty()) return;
  if (!fs::exists(source)) fail(source, ": tokenizer not found");
  if (fs::is_directory(source)) {
    bool any = false;
    for (const char* name : kTokenizerFiles) {
      const fs::path from = fs::path(source) / name;
      if (!fs::exists(from)) continue;
      copy_file_writable(from, dir / name);
      any = true;
    }
    if (!any) fail(source, ": no tokenizer files (tokenizer.json, tokenizer.model, vocab.txt, ...) to copy");
    return;
  }
  if (starts_with_gguf_magic(source)) {
    // The GGUF → HF converter knows how to write each vocabulary as HF files;
    // convert into a scratch folder and keep only the tokenizer's files.
    const fs::path scratch = dir / ".gguf-tokenizer";
    try {
      convert_gguf_to_hf(source, scratch.string());
    } catch (const Error& e) {
      fs::remove_all(scratch, ec);
      fail(source, ": cannot write its vocabulary as tokenizer files (", e.what(),
           "); give the tokenizer as a Hugging Face folder or tokenizer.json");
    }
    copy_tokenizer(scratch.string(), dir);
    fs::remove_all(scratch, ec);
    return;
  }
  copy_file_writable(source, dir / "tokenizer.json");
}

}  // namespace

io::ModelInfo write_model_folder(const std::string& dir, const nlohmann::json& config_json,
                                 std::span<const NamedParam> params, const std::string& tokenizer_source) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create folder: ", ec.message());
  nlohmann::json config = config_json;
  // the weights are stored as f32 whatever the source had
  bool named = false;
  for (const char* key : {"dtype", "torch_dtype"})
    if (config.contains(key)) {
      config[key] = "float32";
      named = true;
    }
  if (!named) config["dtype"] = "float32";
  write_json_file((fs::path(dir) / "config.json").string(), config);
  safetensors::Writer w;
  w.set_metadata("format", "pt");
  uint64_t count = 0;
  for (const NamedParam& p : params) {
    w.add(p.name, p.var.value());
    count += uint64_t(p.var.numel());
  }
  w.write((fs::path(dir) / "model.safetensors").string());
  copy_tokenizer(tokenizer_source, dir);
  return describe_model_folder(dir, count);
}

io::ModelInfo describe_model_folder(const std::string& dir, uint64_t params) {
  uint64_t folder_bytes = 0;  // the protocol's `bytes` of an hf model: every file of it
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) folder_bytes += entry.file_size();
  const nlohmann::json config = read_json_file((fs::path(dir) / "config.json").string());
  io::ModelInfo info;
  info.path = dir;
  info.format = "hf";
  if (config.contains("model_type") && config["model_type"].is_string()) info.arch = config["model_type"];
  info.quant = "F32";
  info.params = params;
  info.bytes = folder_bytes;
  info.sha256 = sha256_file((fs::path(dir) / "model.safetensors").string());
  return info;
}

SavedCheckpoint save_checkpoint(const std::string& dir, const LanguageModel& model, const TrainingState* state,
                                const CheckpointOptions& options) {
  return save_checkpoint(
      dir,
      [&](const std::string& folder) {
        return write_model_folder(folder, model.config_json(), model.parameters(), options.tokenizer_source);
      },
      state, options);
}

SavedCheckpoint save_checkpoint(const std::string& dir, const ModelWriter& write_model, const TrainingState* state,
                                const CheckpointOptions& options) {
  const fs::path target = fs::absolute(dir).lexically_normal();
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) fail(parent.string(), ": cannot create folder: ", ec.message());
  const fs::path temp = parent / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(temp, ec);
  struct Cleanup {
    fs::path path;
    bool armed = true;
    ~Cleanup() {
      std::error_code e;
      if (armed) fs::remove_all(path, e);
    }
  } cleanup{temp};

  SavedCheckpoint saved;
  saved.model = write_model(temp.string());
  if (!options.gguf_outtype.empty()) {
    const std::string name = "model-" + options.gguf_outtype + ".gguf";
    HfToGgufOptions go;
    go.outtype = options.gguf_outtype;
    saved.gguf = convert_hf_to_gguf(temp.string(), (temp / name).string(), go);
    saved.gguf->path = (fs::path(dir) / name).string();
  }
  if (state) write_training_state((temp / kTrainingStateFile).string(), *state);

  // Swap the finished folder in: an old checkpoint of the same name is moved
  // aside first and removed only once the new one is in place.
  const fs::path old = parent / ("." + target.filename().string() + ".old-" + std::to_string(::getpid()));
  const bool had_old = fs::exists(target);
  if (had_old) {
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    if (ec) fail(target.string(), ": cannot move the previous checkpoint aside: ", ec.message());
  }
  fs::rename(temp, target, ec);
  if (ec) fail(target.string(), ": cannot move the checkpoint into place: ", ec.message());
  cleanup.armed = false;
  if (had_old) fs::remove_all(old, ec);
  saved.dir = dir;  // as the caller named it, like every `path` in records
  saved.model.path = dir;
  return saved;
}

}  // namespace tf::train
