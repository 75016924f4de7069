// tf-convert: Hugging Face folder <-> GGUF <-> safetensors, model info, and
// synthetic models of real shapes. Every subcommand is one library call.
#include <iostream>

#include "common/tool.h"
#include "tf/convert.h"
#include "tf/model_info.h"
#include "tf/records.h"
#include "tf/thread_pool.h"

namespace {

void add_hf(CLI::App& app) {
  auto* cmd = app.add_subcommand("hf", "Hugging Face folder -> GGUF (llama.cpp tensor names and metadata)");
  static std::string dir, out;
  static tf::HfToGgufOptions opts;
  cmd->add_option("DIR", dir, "model folder (config.json, *.safetensors, tokenizer files)")->required();
  cmd->add_option("-o,--output", out, "output GGUF file")->required();
  cmd->add_option("--outtype", opts.outtype, "f32 | f16 | bf16 | auto")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "auto"}))
      ->capture_default_str();
  cmd->add_option("--name", opts.name, "general.name (default: from the folder name, as llama.cpp)");
  cmd->callback([] { tf::io::emit(tf::io::model_record(tf::convert_hf_to_gguf(dir, out, opts))); });
}

void add_gguf(CLI::App& app) {
  auto* cmd = app.add_subcommand("gguf", "GGUF -> Hugging Face folder (config.json, model.safetensors, tokenizer)");
  static std::string in, out;
  cmd->add_option("GGUF", in, "input GGUF file ('-': the last model record on stdin)")->required();
  cmd->add_option("-o,--output", out, "output folder")->required();
  cmd->callback([] {
    tf::io::emit(tf::io::model_record(tf::convert_gguf_to_hf(tf::io::resolve_model_arg(in, std::cin), out)));
  });
}

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a model (GGUF, safetensors or HF folder) as one JSON record");
  static std::string path;
  static bool tensors = false;
  cmd->add_option("MODEL", path, "model file or folder ('-': the last model record on stdin)")->required();
  cmd->add_flag("--tensors", tensors, "list every tensor");
  cmd->callback([] { tf::io::emit(tf::model_info(tf::io::resolve_model_arg(path, std::cin), tensors)); });
}

void add_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Random weights of a real model shape (for benchmarks and CI)");
  static std::string preset, out;
  static tf::SynthSpec spec;
  static tf::SynthOptions opts;
  static int threads = 0;
  cmd->add_option("--preset", preset, "shape preset")->check(CLI::IsMember(tf::synth_preset_names()));
  cmd->add_option("--arch", spec.arch, "llama | gpt2 | bert (without --preset)");
  cmd->add_option("--layers", spec.n_layer, "number of blocks");
  cmd->add_option("--embd", spec.n_embd, "embedding size");
  cmd->add_option("--ff", spec.n_ff, "feed-forward size");
  cmd->add_option("--heads", spec.n_head, "attention heads");
  cmd->add_option("--kv-heads", spec.n_head_kv, "key/value heads (default: heads)");
  cmd->add_option("--ctx", spec.n_ctx, "context length");
  cmd->add_option("--vocab-size", spec.n_vocab, "vocabulary size (without --vocab)");
  cmd->add_option("--vocab", opts.vocab, "GGUF whose tokenizer is copied (its size wins)");
  cmd->add_option("--outtype", opts.outtype, "f32 | f16 | bf16")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--seed", opts.seed, "random seed")->capture_default_str();
  cmd->add_option("--name", opts.name, "general.name");
  cmd->add_option("-t,--threads", threads, "threads (0: all cores)");
  cmd->add_option("-o,--output", out, "output GGUF file")->required();
  cmd->callback([] {
    tf::set_default_threads(threads);
    tf::SynthSpec s = spec;
    if (!preset.empty()) {
      tf::SynthSpec p = tf::synth_preset(preset);
      // explicit dimensions override the preset's
      if (s.n_layer) p.n_layer = s.n_layer;
      if (s.n_embd) p.n_embd = s.n_embd;
      if (s.n_ff) p.n_ff = s.n_ff;
      if (s.n_head) p.n_head = s.n_head;
      if (s.n_head_kv) p.n_head_kv = s.n_head_kv;
      if (s.n_ctx) p.n_ctx = s.n_ctx;
      if (s.n_vocab) p.n_vocab = s.n_vocab;
      s = p;
    }
    tf::io::emit(tf::io::model_record(tf::synth_model(s, out, opts)));
  });
}

}  // namespace

int main(int argc, char** argv) {
  return tf::tool::run("tf-convert", "Convert models between Hugging Face, GGUF and safetensors", argc, argv,
                       [](CLI::App& app) {
                         app.require_subcommand(1);
                         add_hf(app);
                         add_gguf(app);
                         add_info(app);
                         add_synth(app);
                       });
}
