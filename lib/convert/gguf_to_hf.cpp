#include <filesystem>
#include <cstring>
#include <fstream>
#include <sstream>

#include "convert/hf_family.h"
#include "convert/sentencepiece_model.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/json_file.h"
#include "tf/log.h"
#include "tf/safetensors.h"

namespace tf {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string token_text(const std::vector<std::string>& tokens, const gguf::File& f, const char* key) {
  const gguf::Value* v = f.find(std::string("tokenizer.ggml.") + key);
  if (!v) return "";
  uint64_t id = v->as_u64();
  if (id >= tokens.size()) fail(f.path(), ": tokenizer.ggml.", key, " = ", id, " is not a token id");
  return tokens[id];
}

json arch_config(const gguf::File& f, const std::string& arch, uint64_t n_vocab, bool tied) {
  auto u = [&](const std::string& key) { return f.get(arch + "." + key).as_u64(); };
  auto opt_u = [&](const std::string& key, uint64_t fallback) { return f.get_u64(arch + "." + key, fallback); };
  json c;
  if (arch == "llama") {
    uint64_t heads = u("attention.head_count");
    c = {{"architectures", {"LlamaForCausalLM"}},
         {"model_type", "llama"},
         {"hidden_size", u("embedding_length")},
         {"intermediate_size", u("feed_forward_length")},
         {"num_hidden_layers", u("block_count")},
         {"num_attention_heads", heads},
         {"num_key_value_heads", opt_u("attention.head_count_kv", heads)},
         {"head_dim", opt_u("attention.key_length", u("embedding_length") / heads)},
         {"max_position_embeddings", u("context_length")},
         {"rms_norm_eps", f.get_f64(arch + ".attention.layer_norm_rms_epsilon", 1e-5)},
         {"rope_theta", f.get_f64(arch + ".rope.freq_base", 10000.0)},
         {"hidden_act", "silu"},
         {"attention_bias", false},
         {"mlp_bias", false}};
    if (f.find(arch + ".rope.scaling.type") && f.get(arch + ".rope.scaling.type").as_string() == "linear")
      c["rope_scaling"] = {{"type", "linear"}, {"factor", f.get_f64(arch + ".rope.scaling.factor", 1.0)}};
  } else if (arch == "gpt2") {
    c = {{"architectures", {"GPT2LMHeadModel"}},
         {"model_type", "gpt2"},
         {"n_embd", u("embedding_length")},
         {"n_layer", u("block_count")},
         {"n_head", u("attention.head_count")},
         {"n_ctx", u("context_length")},
         {"n_positions", u("context_length")},
         {"n_inner", u("feed_forward_length")},
         {"layer_norm_epsilon", f.get_f64(arch + ".attention.layer_norm_epsilon", 1e-5)},
         {"activation_function", "gelu_new"}};
  } else if (arch == "qwen2" || arch == "phi3" || arch == "gemma" || arch == "stablelm") {
    uint64_t heads = u("attention.head_count"), hidden = u("embedding_length");
    uint64_t head_dim = opt_u("attention.key_length", hidden / heads);
    c = {{"hidden_size", hidden},
         {"intermediate_size", u("feed_forward_length")},
         {"num_hidden_layers", u("block_count")},
         {"num_attention_heads", heads},
         {"num_key_value_heads", opt_u("attention.head_count_kv", heads)},
         {"max_position_embeddings", u("context_length")},
         {"rope_theta", f.get_f64(arch + ".rope.freq_base", 10000.0)},
         {"hidden_act", arch == "gemma" ? "gelu_pytorch_tanh" : "silu"}};
    if (arch != "stablelm") c["rms_norm_eps"] = f.get_f64(arch + ".attention.layer_norm_rms_epsilon", 1e-6);
    if (arch == "qwen2") {
      c["architectures"] = {"Qwen2ForCausalLM"};
      c["use_sliding_window"] = false;
    } else if (arch == "phi3") {
      c["architectures"] = {"Phi3ForCausalLM"};
      c["original_max_position_embeddings"] = opt_u("rope.scaling.original_context_length", u("context_length"));
      uint64_t sw = opt_u("attention.sliding_window", 0);
      c["sliding_window"] = sw ? json(sw) : json(nullptr);
      double partial = double(opt_u("rope.dimension_count", head_dim)) / double(head_dim);
      if (partial != 1.0) c["partial_rotary_factor"] = partial;
    } else if (arch == "gemma") {
      c["architectures"] = {"GemmaForCausalLM"};
      c["head_dim"] = head_dim;
    } else {
      c["architectures"] = {"StableLmForCausalLM"};
      c["layer_norm_eps"] = f.get_f64(arch + ".attention.layer_norm_epsilon", 1e-5);
      c["partial_rotary_factor"] = double(opt_u("rope.dimension_count", head_dim)) / double(head_dim);
      // as llama.cpp's graph: parallel exactly when the blocks have no ffn_norm
      c["use_parallel_residual"] = f.find_tensor("blk.0.ffn_norm.weight") == nullptr;
      c["use_qkv_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
      c["qk_layernorm"] = false;
    }
    c["model_type"] = arch;
  } else if (arch == "gptneox") {
    uint64_t heads = u("attention.head_count"), hidden = u("embedding_length");
    c = {{"architectures", {"GPTNeoXForCausalLM"}},
         {"model_type", "gpt_neox"},
         {"hidden_size", hidden},
         {"intermediate_size", u("feed_forward_length")},
         {"num_hidden_layers", u("block_count")},
         {"num_attention_heads", heads},
         {"max_position_embeddings", u("context_length")},
         {"rotary_pct", double(opt_u("rope.dimension_count", hidden / heads)) / double(hidden / heads)},
         {"rope_theta", f.get_f64(arch + ".rope.freq_base", 10000.0)},
         {"use_parallel_residual", f.get_bool(arch + ".use_parallel_residual", true)},
         {"layer_norm_eps", f.get_f64(arch + ".attention.layer_norm_epsilon", 1e-5)},
         {"attention_bias", f.find_tensor("blk.0.attn_qkv.bias") != nullptr},
         {"hidden_act", "gelu"}};
  } else if (arch == "falcon") {
    uint64_t heads = u("attention.head_count"), kv = opt_u("attention.head_count_kv", 1);
    bool two_norms = f.find_tensor("blk.0.attn_norm_2.weight") != nullptr;
    // the transformers flags that give this kv count and norm count
    bool new_arch = two_norms || (kv != 1 && kv != heads);
    c = {{"architectures", {"FalconForCausalLM"}},
         {"model_type", "falcon"},
         {"hidden_size", u("embedding_length")},
         {"ffn_hidden_size", u("feed_forward_length")},
         {"num_hidden_layers", u("block_count")},
         {"num_attention_heads", heads},
         {"num_kv_heads", kv},
         {"new_decoder_architecture", new_arch},
         {"multi_query", kv == 1},
         {"parallel_attn", true},
         {"alibi", false},
         {"bias", f.find_tensor("blk.0.attn_qkv.bias") != nullptr},
         {"max_position_embeddings", u("context_length")},
         {"rope_theta", f.get_f64(arch + ".rope.freq_base", 10000.0)},
         {"layer_norm_epsilon", f.get_f64(arch + ".attention.layer_norm_epsilon", 1e-5)},
         {"activation", "gelu"}};
    if (new_arch) c["num_ln_in_parallel_attn"] = two_norms ? 2 : 1;
  } else {
    c = {{"architectures", {"BertModel"}},
         {"model_type", "bert"},
         {"hidden_size", u("embedding_length")},
         {"num_hidden_layers", u("block_count")},
         {"num_attention_heads", u("attention.head_count")},
         {"intermediate_size", u("feed_forward_length")},
         {"max_position_embeddings", u("context_length")},
         {"layer_norm_eps", f.get_f64(arch + ".attention.layer_norm_epsilon", 1e-12)},
         {"type_vocab_size", f.get_u64("tokenizer.ggml.token_type_count", 2)},
         {"hidden_act", "gelu"}};
  }
  c["vocab_size"] = n_vocab;
  c["tie_word_embeddings"] = tied;
  for (const char* type : {"bos", "eos", "padding"}) {
    std::string key = std::string("tokenizer.ggml.") + type + "_token_id";
    if (f.find(key)) c[std::string(type == std::string("padding") ? "pad" : type) + "_token_id"] = f.get(key).as_u64();
  }
  return c;
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

// The tokenizer files a GGUF's vocabulary supports; returns what was written.
std::vector<std::string> write_tokenizer(const gguf::File& f, const fs::path& dir) {
  if (!f.find("tokenizer.ggml.model")) return {};
  std::string model = f.get("tokenizer.ggml.model").as_string();
  std::vector<std::string> tokens = f.get("tokenizer.ggml.tokens").as_strings();
  std::vector<int64_t> types64 = f.find("tokenizer.ggml.token_type") ? f.get("tokenizer.ggml.token_type").as_i64s()
                                                                     : std::vector<int64_t>(tokens.size(), 1);
  if (types64.size() != tokens.size()) fail(f.path(), ": token_type and tokens differ in length");
  json tc = {{"model_max_length", f.get_u64(f.architecture() + ".context_length", 2048)}};
  for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
           {"bos", "bos_token"}, {"eos", "eos_token"}, {"unknown", "unk_token"}, {"seperator", "sep_token"},
           {"padding", "pad_token"}, {"cls", "cls_token"}, {"mask", "mask_token"}}) {
    std::string t = token_text(tokens, f, (std::string(key) + "_token_id").c_str());
    if (!t.empty()) tc[name] = t;
  }
  std::vector<std::string> written;
  if (model == "llama") {
    convert::SentencePieceVocab v;
    v.pieces = tokens;
    v.scores = f.find("tokenizer.ggml.scores") ? f.get("tokenizer.ggml.scores").as_f32s()
                                               : std::vector<float>(tokens.size(), 0.0f);
    if (v.scores.size() != tokens.size()) fail(f.path(), ": scores and tokens differ in length");
    v.types.assign(types64.begin(), types64.end());
    v.unk_id = int32_t(f.get_u64("tokenizer.ggml.unknown_token_id", 0));
    v.bos_id = int32_t(f.get_u64("tokenizer.ggml.bos_token_id", 1));
    v.eos_id = int32_t(f.get_u64("tokenizer.ggml.eos_token_id", 2));
    v.add_dummy_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
    write_text_file((dir / "tokenizer.model").string(), convert::encode_sentencepiece_model(v));
    tc["tokenizer_class"] = "LlamaTokenizer";
    tc["add_prefix_space"] = v.add_dummy_prefix;
    if (f.find("tokenizer.ggml.add_bos_token")) tc["add_bos_token"] = f.get("tokenizer.ggml.add_bos_token").as_bool();
    if (f.find("tokenizer.ggml.add_eos_token")) tc["add_eos_token"] = f.get("tokenizer.ggml.add_eos_token").as_bool();
    written.push_back("tokenizer.model");
  } else if (model == "gpt2") {
    std::string pre = f.get_string("tokenizer.ggml.pre", "");
    // other pre-tokenizers need their split regex in tokenizer.json
    if (pre != "gpt-2" && !pre.empty())
      fail(f.path(), ": pre-tokenizer '", pre, "' has no tokenizer.json export yet (only gpt-2)");
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
    std::vector<std::string> merges = f.find("tokenizer.ggml.merges") ? f.get("tokenizer.ggml.merges").as_strings()
                                                                      : std::vector<std::string>{};
    std::string merges_txt = "#version: 0.2\n";
    for (const auto& m : merges) merges_txt += m + "\n";
    write_json_file((dir / "vocab.json").string(), vocab);
    write_text_file((dir / "merges.txt").string(), merges_txt);
    json added = json::array();
    for (size_t i = 0; i < tokens.size(); ++i)
      if (types64[i] == 3 || types64[i] == 4)
        added.push_back({{"id", i}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", types64[i] == 4}, {"special", types64[i] == 3}});
    json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    json tj = {{"version", "1.0"},
               {"truncation", nullptr},
               {"padding", nullptr},
               {"added_tokens", added},
               {"normalizer", nullptr},
               {"pre_tokenizer", byte_level},
               {"post_processor", byte_level},
               {"decoder", byte_level},
               {"model",
                {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                 {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                 {"vocab", vocab}, {"merges", merges}}}};
    write_json_file((dir / "tokenizer.json").string(), tj);
    tc["tokenizer_class"] = "GPT2Tokenizer";
    tc["add_prefix_space"] = false;
    written.insert(written.end(), {"vocab.json", "merges.txt", "tokenizer.json"});
  } else if (model == "bert") {
    // undo llama.cpp's phantom-space spelling
    std::string text;
    bool has_upper = false;
    for (const auto& t : tokens) {
      std::string w;
      if (t.size() >= 2 && t.front() == '[' && t.back() == ']')
        w = t;
      else if (t.rfind("\xe2\x96\x81", 0) == 0)
        w = t.substr(3);
      else
        w = "##" + t;
      for (char ch : w) has_upper = has_upper || (ch >= 'A' && ch <= 'Z');
      text += w + "\n";
    }
    write_text_file((dir / "vocab.txt").string(), text);
    bool lower = !has_upper;  // an uncased vocabulary has no capitals outside [SPECIAL] tokens
    json vocab = json::object(), added = json::array();
    std::istringstream lines(text);
    std::string word;
    for (size_t i = 0; std::getline(lines, word); ++i) {
      vocab[word] = i;
      if (types64[i] == 3)
        added.push_back({{"id", i}, {"content", word}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", true}});
    }
    std::string cls = tc.value("cls_token", "[CLS]"), sep = tc.value("sep_token", "[SEP]");
    auto id_of = [&](const std::string& t) { return vocab.contains(t) ? vocab[t].get<uint64_t>() : 0; };
    json tj = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer",
         {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
          {"strip_accents", nullptr}, {"lowercase", lower}}},
        {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
        {"post_processor",
         {{"type", "TemplateProcessing"},
          {"single", {{{"SpecialToken", {{"id", cls}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"SpecialToken", {{"id", sep}, {"type_id", 0}}}}}},
          {"pair", {{{"SpecialToken", {{"id", cls}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                    {{"SpecialToken", {{"id", sep}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
                    {{"SpecialToken", {{"id", sep}, {"type_id", 1}}}}}},
          {"special_tokens",
           {{cls, {{"id", cls}, {"ids", {id_of(cls)}}, {"tokens", {cls}}}},
            {sep, {{"id", sep}, {"ids", {id_of(sep)}}, {"tokens", {sep}}}}}}}},
        {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
        {"model",
         {{"type", "WordPiece"}, {"unk_token", tc.value("unk_token", "[UNK]")}, {"continuing_subword_prefix", "##"},
          {"max_input_chars_per_word", 100}, {"vocab", vocab}}}};
    write_json_file((dir / "tokenizer.json").string(), tj);
    tc["tokenizer_class"] = "BertTokenizer";
    tc["do_lower_case"] = lower;
    written.insert(written.end(), {"vocab.txt", "tokenizer.json"});
  } else {
    log("warning: tokenizer model '", model, "' is not exported; the folder has no tokenizer");
    return written;
  }
  write_json_file((dir / "tokenizer_config.json").string(), tc);
  written.push_back("tokenizer_config.json");
  return written;
}

}  // namespace

io::ModelInfo convert_gguf_to_hf(const std::string& gguf_path, const std::string& out_dir) {
  gguf::File f = gguf::File::open(gguf_path);
  std::string arch = f.architecture();
  auto family = convert::family_for_arch(arch);
  const convert::NameTable& names = family->names();

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(gguf_path, ": no token_embd.weight");
  const gguf::TensorInfo* output = f.find_tensor("output.weight");
  bool tied = !output || (output->nbytes == embd->nbytes && output->type == embd->type &&
                          std::memcmp(f.tensor_data(*output), f.tensor_data(*embd), embd->nbytes) == 0);
  uint64_t n_vocab = embd->shape()[0];
  json config = arch_config(f, arch, n_vocab, tied);
  int64_t n_head = int64_t(f.get(arch + ".attention.head_count").as_u64());
  int64_t n_head_kv = int64_t(f.get_u64(arch + ".attention.head_count_kv", uint64_t(n_head)));

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail(out_dir, ": cannot create folder: ", ec.message());

  safetensors::Writer st;
  st.set_metadata("format", "pt");
  uint64_t params = 0;
  std::string dtype_name = "float32";
  for (const auto& info : f.tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // derived from config.json's rope_scaling
    if (info.name == "output.weight" && tied) continue;
    if (info.type != DType::F32 && info.type != DType::F16 && info.type != DType::BF16)
      fail(gguf_path, ": tensor ", info.name, " is ", tf::dtype_name(info.type),
           "; only f32 / f16 / bf16 tensors can be exported");
    std::string hf = names.to_hf(info.name);
    // Falcon's two-norm blocks call their first norm ln_attn, not input_layernorm
    if (arch == "falcon" && f.find_tensor("blk.0.attn_norm_2.weight") && hf.find(".input_layernorm.") != std::string::npos)
      hf.replace(hf.find(".input_layernorm."), 17, ".ln_attn.");
    if (hf.empty()) fail(gguf_path, ": tensor ", info.name, " has no Hugging Face name in the ", arch, " layout");
    if (arch == "bert" && hf.rfind("cls.", 0) == 0) continue;
    if (info.type == DType::F16 && info.ne.size() > 1) dtype_name = "float16";
    if (info.type == DType::BF16 && info.ne.size() > 1) dtype_name = "bfloat16";
    Shape shape = info.shape();
    params += info.numel();
    bool q = info.name.find(".attn_q.") != std::string::npos, k = info.name.find(".attn_k.") != std::string::npos;
    bool conv1d = arch == "gpt2" && info.name.rfind("blk.", 0) == 0 && info.name.ends_with(".weight") &&
                  info.name.find("_norm.") == std::string::npos;
    const uint8_t* src = f.tensor_data(info);
    size_t esize = element_size(info.type);
    if (arch == "llama" && (q || k)) {
      // inverse of the converter's permutation: GGUF row h*hd + 2i + j -> HF row h*hd + j*hd/2 + i
      int64_t heads = q ? n_head : n_head_kv, rows = shape[0], cols = info.numel() / uint64_t(rows), hd = rows / heads;
      st.add(hf, info.type, shape, [=](AtomicFile& out) {
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t j = 0; j < 2; ++j)
            for (int64_t i = 0; i < hd / 2; ++i)
              out.write(src + size_t((h * hd + 2 * i + j) * cols) * esize, size_t(cols) * esize);
      });
    } else if ((arch == "gptneox" || arch == "falcon") && info.name.find(".attn_qkv.") != std::string::npos) {
      // inverse of the converter's regrouping: [all q | all k | all v] ->
      // [group][q_per_group q heads, k, v]
      int64_t groups = arch == "gptneox" ? n_head : n_head_kv, qpg = n_head / groups;
      int64_t rows = shape[0], cols = int64_t(info.numel()) / rows, hd = rows / (n_head + 2 * groups);
      size_t block = size_t(hd * cols) * esize;
      st.add(hf, info.type, shape, [=](AtomicFile& out) {
        for (int64_t g = 0; g < groups; ++g) {
          for (int64_t q = 0; q < qpg; ++q) out.write(src + size_t(g * qpg + q) * block, block);
          out.write(src + size_t(n_head + g) * block, block);
          out.write(src + size_t(n_head + groups + g) * block, block);
        }
      });
    } else if (arch == "gemma" && info.name.ends_with("_norm.weight")) {
      // the converter baked Gemma's (1 + w) into the weight
      int64_t n = int64_t(info.numel());
      DType type = info.type;
      st.add(hf, type, shape, [=](AtomicFile& out) {
        std::vector<float> v(static_cast<size_t>(n));
        if (type == DType::F32) std::memcpy(v.data(), src, size_t(n) * 4);
        else if (type == DType::F16) f16_to_f32(reinterpret_cast<const uint16_t*>(src), v.data(), size_t(n));
        else bf16_to_f32(reinterpret_cast<const uint16_t*>(src), v.data(), size_t(n));
        for (float& x : v) x -= 1.0f;
        if (type == DType::F32) return out.write(v.data(), v.size() * 4);
        std::vector<uint16_t> h(v.size());
        if (type == DType::F16) f32_to_f16(v.data(), h.data(), v.size());
        else f32_to_bf16(v.data(), h.data(), v.size());
        out.write(h.data(), h.size() * 2);
      });
    } else if (conv1d) {
      int64_t rows = shape[0], cols = shape[1];  // GGUF [out, in] -> HF Conv1D [in, out]
      st.add(hf, info.type, {cols, rows}, [=](AtomicFile& out) {
        std::vector<uint8_t> row(size_t(rows) * esize);
        for (int64_t c = 0; c < cols; ++c) {
          for (int64_t r = 0; r < rows; ++r) std::memcpy(&row[size_t(r) * esize], src + size_t(r * cols + c) * esize, esize);
          out.write(row.data(), row.size());
        }
      });
    } else {
      uint64_t nbytes = info.nbytes;
      st.add(hf, info.type, shape, [=](AtomicFile& out) { out.write(src, size_t(nbytes)); });
    }
  }
  config["torch_dtype"] = dtype_name;
  std::vector<std::string> files = write_tokenizer(f, out_dir);
  write_json_file((fs::path(out_dir) / "config.json").string(), config);
  auto result = st.write((fs::path(out_dir) / "model.safetensors").string());
  uint64_t bytes = result.bytes + fs::file_size(fs::path(out_dir) / "config.json");
  for (const auto& name : files) bytes += fs::file_size(fs::path(out_dir) / name);
  log("wrote ", out_dir, ": config.json, model.safetensors", files.empty() ? "" : " and tokenizer files");
  io::ModelInfo info;
  info.path = out_dir;
  info.format = "hf";
  info.arch = arch;
  info.quant = dtype_name == "float32" ? "F32" : dtype_name == "float16" ? "F16" : "BF16";
  info.params = params;
  info.bytes = bytes;
  return info;
}

}  // namespace tf
