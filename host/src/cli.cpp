#include "cli.h"

#include <cerrno>
#include <cstdlib>

namespace fa::cli {

namespace {

Named split_named(const std::string& v) {
    size_t eq = v.find('=');
    if (eq == std::string::npos) return {"", v};
    return {v.substr(0, eq), v.substr(eq + 1)};
}

size_t positive(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n == 0 || v[0] == '-')
        throw UsageError(flag + " takes a positive integer, not '" + v + "'");
    return static_cast<size_t>(n);
}

}  // namespace

RunArgs parse_run(const std::vector<std::string>& a) {
    RunArgs r;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& f = a[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= a.size()) throw UsageError(f + " needs a value");
            return a[++i];
        };
        if (f == "--input") r.inputs.push_back(split_named(value()));
        else if (f == "--output") r.outputs.push_back(split_named(value()));
        else if (f == "--batch") r.batch = positive(f, value());
        else if (f == "--repeat") r.repeat = positive(f, value());
        else if (f == "--platform") r.opt.platform = value();
        else if (f == "--device") r.opt.device = value();
        else if (f == "--timing-json") r.timing_json = value();
        else if (f == "--quiet" || f == "-q") r.quiet = true;
        else if (f == "--timeout") {
            const std::string& v = value();
            char* end = nullptr;
            r.opt.timeout_s = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != '\0' || !(r.opt.timeout_s > 0)) throw UsageError("--timeout takes seconds > 0, not '" + v + "'");
        } else if (!f.empty() && f[0] == '-') throw UsageError("unknown option " + f);
        else if (r.bundle.empty()) r.bundle = f;
        else throw UsageError("unexpected argument '" + f + "' (one bundle only)");
    }
    if (r.bundle.empty()) throw UsageError("run needs a bundle (NAME.fpga)");
    if (r.inputs.empty()) throw UsageError("run needs --input");
    if (r.outputs.empty()) throw UsageError("run needs --output");
    return r;
}

// Pairs the --input/--output files with the kernel's arguments, by name or (unnamed) by order.
std::vector<std::string> assign(const std::vector<Named>& given, const std::vector<const KernelArg*>& args,
                                const char* flag) {
    std::vector<std::string> out(args.size());
    std::string names;
    for (const auto* a : args) names += (names.empty() ? "" : ", ") + a->tensor;
    size_t next = 0;
    for (const auto& g : given) {
        size_t idx = args.size();
        if (!g.name.empty()) {
            for (size_t i = 0; i < args.size(); ++i)
                if (args[i]->tensor == g.name || args[i]->name == g.name) idx = i;
            if (idx == args.size()) throw UsageError(std::string(flag) + " " + g.name + "=...: no such hardware tensor; expected one of " + names);
        } else {
            while (next < args.size() && !out[next].empty()) ++next;
            idx = next;
            if (idx == args.size()) throw UsageError(std::string("more ") + flag + " files than the " + std::to_string(args.size()) + " the kernel has (" + names + ")");
        }
        if (!out[idx].empty()) throw UsageError(std::string(flag) + " for " + args[idx]->tensor + " given twice");
        out[idx] = g.path;
    }
    for (size_t i = 0; i < args.size(); ++i)
        if (out[i].empty()) throw UsageError(std::string("no ") + flag + " for " + args[i]->tensor + " (the kernel takes " + names + ")");
    return out;
}

}  // namespace fa::cli
