// rareforge: the command-line tool. See DESIGN.md "CLI" and `rareforge --help`.
//
// Exit status: 0 success, 1 failure while running, 2 bad usage or bad input. Every error is
// printed as one line "rareforge: error: ..." on stderr.
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/version.h"
#include "tools/cli_common.h"

int main(int argc, char** argv) {
  CLI::App app{"rareforge " RAREFORGE_VERSION
               " — synthetic rows for rare classes: resample, generate, validate, evaluate"};
  app.set_version_flag("--version", "rareforge " RAREFORGE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  rareforge::cli::register_inspect(app);
  rareforge::cli::register_convert(app);
  rareforge::cli::register_resample(app);
  rareforge::cli::register_methods(app);
  rareforge::cli::register_validate(app);
  rareforge::cli::register_evaluate(app);
  rareforge::cli::register_classifiers(app);
  rareforge::cli::register_make_data(app);
  rareforge::cli::register_fit(app);
  rareforge::cli::register_sample(app);
  rareforge::cli::register_arena(app);
  rareforge::cli::register_demo(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "rareforge: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const rareforge::Error& e) {
    std::fprintf(stderr, "rareforge: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rareforge: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rareforge: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
