#include "common/tool.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <new>

#include "tf/atomic_file.h"
#include "tf/error.h"
#include "tf/log.h"

namespace tf::tool {

void add_load_mode_flags(CLI::App* cmd, LoadMode& mode) {
  mode = kDefaultModelLoadMode;
  cmd->add_flag_callback("--mmap", [&mode] { mode = LoadMode::Mmap; },
                         "use the weights in place from a memory map of the file (the default reads them into "
                         "memory: faster decoding on these machines, see docs/tf-run.md)");
  cmd->add_flag_callback("--no-mmap", [&mode] { mode = LoadMode::Read; }, "read the weights into memory (the default)");
}

int run(const std::string& name, const std::string& description, int argc, char** argv,
        const std::function<void(CLI::App&)>& define) {
  // A closed stdout becomes EPIPE on write, which io::emit turns into
  // BrokenPipe; output files are then cleaned up by unwinding.
  std::signal(SIGPIPE, SIG_IGN);
  remove_temp_files_on_signals();
  set_log_prefix(name);
  auto error = [&](const std::string& what, int code) {
    std::fflush(stdout);
    std::cerr << name << ": error: " << what << "\n";
    return code;
  };
  CLI::App app{description, name};
  app.set_version_flag("--version", std::string(name) + " " + TF_VERSION);
  app.require_subcommand(0, 1);
  try {
    define(app);
    app.parse(argc, argv);
    if (std::fflush(stdout) != 0) return errno == EPIPE ? 0 : error("cannot write to stdout", 1);
    return 0;
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << app.version() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return error(std::string(e.what()) + " (see --help)", 2);
  } catch (const BrokenPipe&) {
    return 0;
  } catch (const Error& e) {
    return error(e.what(), 1);
  } catch (const std::bad_alloc&) {
    return error("out of memory", 1);
  } catch (const std::exception& e) {
    return error(e.what(), 1);
  }
}

}  // namespace tf::tool
