// Command-line parsing of fa-host run: options, and pairing --input/--output files with the
// kernel's arguments.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "fa_host/manifest.h"
#include "fa_host/runtime.h"

namespace fa::cli {

// A wrong command line: exit status 2, with the usage text.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "NAME=FILE" or "FILE".
struct Named {
    std::string name, path;
};

struct RunArgs {
    std::string bundle, timing_json;
    std::vector<Named> inputs, outputs;
    size_t batch = 0, repeat = 1;
    Options opt;
    bool quiet = false;
};

RunArgs parse_run(const std::vector<std::string>& args);

// The file for each of `args` (in order): given by tensor / argument name, or unnamed in order.
std::vector<std::string> assign(const std::vector<Named>& given, const std::vector<const KernelArg*>& args,
                                const char* flag);

}  // namespace fa::cli
