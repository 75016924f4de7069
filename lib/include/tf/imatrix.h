// Importance matrices in llama.cpp's two file formats: the GGUF-based one
// that current llama-imatrix writes (per weight `<name>.in_sum2` and
// `<name>.counts` F32 tensors, imatrix.* metadata) and the legacy binary
// .dat (int32 entry count; per entry name, ncall, nval, nval floats; then the
// chunk count and the dataset name). Both read back in llama-quantize, and
// llama.cpp's files read here, with the same numbers.
//
// An entry holds, per input column of a weight, the sum of squared
// activations seen, and per matrix (expert) the number of rows that fed it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tf::quant {

struct ImatrixEntry {
  std::vector<float> sums;      // n_mat * n_cols sums of x^2
  std::vector<int64_t> counts;  // n_mat token counts
};

class Imatrix {
 public:
  // Reads either format (a GGUF magic says which). tf::Error on a bad file.
  static Imatrix load(const std::string& path);
  // Writes atomically: GGUF when `legacy` is false, else the .dat format.
  void save(const std::string& path, bool legacy) const;

  // Adds x^2 of `rows` activation rows of `n_cols` floats (ld apart) to the
  // entry `name` (one matrix).
  void accumulate(const std::string& name, const float* x, size_t rows, size_t n_cols, size_t ld);

  // The per-column importance llama-quantize uses: sums / count per matrix
  // (1 where a matrix saw nothing); n_mat * n_cols values.
  std::vector<float> importance(const std::string& name) const;
  bool contains(const std::string& name) const { return entries.count(name) != 0; }

  std::map<std::string, ImatrixEntry> entries;
  std::vector<std::string> datasets;  // text files the statistics came from
  int32_t chunk_count = 0;            // chunks of chunk_size tokens processed
  int32_t chunk_size = 0;             // tokens per chunk (0: unknown, legacy files)
  bool legacy = false;                // read from a .dat file: sums are (sum / count) * ncall, counts {ncall}
};

struct ImatrixRun {
  int64_t n_ctx = 512;          // tokens per chunk (llama-imatrix -c)
  int chunks = 0;               // at most this many chunks (0: all the text gives)
  bool process_output = false;  // also collect output.weight (llama-imatrix --process-output)
};

// llama-imatrix's collection: the text (a file; its path is recorded as the
// dataset) is tokenized with BOS and cut into chunks of n_ctx tokens, each
// opened with BOS and run through the model; every product of a block's weight
// with a batch of at least 16 rows adds the rows' squares to that weight's
// entry. Needs at least 2 chunks of text, as llama-imatrix does.
Imatrix collect_imatrix(const std::string& model_path, const std::string& text_file, const ImatrixRun& run);

// Which format llama-imatrix writes for `--output-format` ("gguf", "dat" or
// "" for its default, GGUF): true for the legacy .dat format.
bool imatrix_format_is_legacy(const std::string& output_format);

}  // namespace tf::quant
