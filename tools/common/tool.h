// What every tf-* main() shares: CLI11 parsing with the suite's exit codes
// (0 ok, 1 failure, 2 usage), `tf-<tool>: error: <line>` on stderr, and a quiet
// successful exit when stdout's reader goes away (`| head -1`).
#pragma once
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "tf/mapped_file.h"

namespace tf::tool {

// --mmap / --no-mmap, defaulting to kDefaultModelLoadMode.
void add_load_mode_flags(CLI::App* cmd, LoadMode& mode);

// Builds the app with `define` (which adds options, subcommands and their
// callbacks), parses argv and runs the callbacks. Returns the exit code.
int run(const std::string& name, const std::string& description, int argc, char** argv,
        const std::function<void(CLI::App&)>& define);

}  // namespace tf::tool
