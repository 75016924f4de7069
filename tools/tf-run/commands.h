// tf-run's subcommands, one registration function each. A subcommand parses
// its flags and calls the library; the work itself is library code.
#pragma once
#include <CLI/CLI.hpp>

namespace tf::run {

void add_tokenize(CLI::App& app);
void add_detokenize(CLI::App& app);
void add_train_tokenizer(CLI::App& app);
void add_generate(CLI::App& app);
void add_forward(CLI::App& app);
void add_perplexity(CLI::App& app);
// embed, fill-mask, classify, token-classify, qa, zero-shot
void add_pipelines(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_train(CLI::App& app);

}  // namespace tf::run
