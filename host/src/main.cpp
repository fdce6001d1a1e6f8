// fa-host: run a compiled bundle's accelerator on an OpenCL device, with no Python.
//
//   fa-host run NAME.fpga --input X.npy --output Y.npy [--batch N] [--repeat K] ...
//   fa-host info NAME.fpga
//   fa-host devices
//
// Raw mode: the .npy files hold the hardware integers (quantised inputs, the integers the
// accelerated part outputs). Quantisation, dequantisation and host ops stay in Python.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "fa_host/npy.h"
#include "fa_host/runtime.h"

namespace {

using fa::cli::UsageError;

const char* kUsage =
    "usage: fa-host run BUNDLE --input [NAME=]X.npy ... --output [NAME=]Y.npy ... [options]\n"
    "       fa-host info BUNDLE\n"
    "       fa-host devices\n"
    "\n"
    "Runs the accelerated part of a compiled bundle (NAME.fpga/) on an OpenCL device: the Xilinx\n"
    "platform with bitstream/*.xclbin when there is one, else a CPU device (PoCL) building\n"
    "opencl/fa_kernel.cl. Raw mode: the .npy files hold the hardware integers (NHWC, the storage\n"
    "dtype of each tensor); quantisation and host ops stay in Python (Session(..., raw=True)).\n"
    "\n"
    "run options:\n"
    "  --input [NAME=]FILE    one per hardware input (NAME: tensor or argument name; optional\n"
    "                         with one input), shape (N, *image shape)\n"
    "  --output [NAME=]FILE   one per hardware output; written as .npy\n"
    "  --batch N              images per kernel call (default: all at once)\n"
    "  --repeat K             run everything K times and report timing over the K runs\n"
    "  --platform NAME        OpenCL platform whose name contains NAME (or $FPGA_ACCEL_OPENCL_PLATFORM)\n"
    "  --device NAME          device whose name contains NAME (or $FPGA_ACCEL_OPENCL_DEVICE)\n"
    "  --timeout S            longest wait for one call, seconds (default: none)\n"
    "  --timing-json FILE     write per-call timings as JSON\n"
    "  --quiet                print nothing but errors\n"
    "\n"
    "exit status: 0 done, 1 error, 2 bad command line, 3 timeout\n";

std::string dims(const std::vector<int64_t>& s) {
    std::ostringstream o;
    for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
    return o.str();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int cmd_run(const std::vector<std::string>& argv) {
    fa::cli::RunArgs r = fa::cli::parse_run(argv);
    fa::Manifest m = fa::load_manifest(r.bundle);
    auto in_args = m.input_args();
    auto out_args = m.output_args();
    auto in_files = fa::cli::assign(r.inputs, in_args, "--input");
    auto out_files = fa::cli::assign(r.outputs, out_args, "--output");

    // read and check every input before touching a device
    std::vector<fa::NpyArray> ins;
    int64_t n = -1;
    for (size_t i = 0; i < in_args.size(); ++i) {
        const fa::KernelArg& a = *in_args[i];
        const fa::TensorInfo& t = m.tensor(a.tensor);
        fa::NpyArray x = fa::read_npy(in_files[i]);
        if (x.dtype.name != a.dtype.name)
            throw std::runtime_error(in_files[i] + ": dtype " + x.dtype.name + ", but input " + t.name + " takes the raw " +
                                     a.dtype.name + " integers (quantise it first, e.g. Session.hardware_inputs)");
        std::vector<int64_t> want = t.image_shape;
        bool ok = x.shape.size() == want.size() + 1 && std::equal(want.begin(), want.end(), x.shape.begin() + 1);
        if (!ok)
            throw std::runtime_error(in_files[i] + ": shape " + x.shape_str() + ", but input " + t.name + " takes (N, " +
                                     dims(want) + ")");
        if (x.shape[0] == 0) throw std::runtime_error(in_files[i] + ": holds no images (N = 0)");
        if (n >= 0 && x.shape[0] != n)
            throw std::runtime_error(in_files[i] + ": " + std::to_string(x.shape[0]) + " images, the other inputs have " + std::to_string(n));
        n = x.shape[0];
        ins.push_back(std::move(x));
    }
    std::vector<fa::NpyArray> outs;
    for (const auto* a : out_args) {
        fa::NpyArray y;
        y.dtype = a->dtype;
        y.shape = {n};
        for (auto d : m.tensor(a->tensor).image_shape) y.shape.push_back(d);
        y.data.resize(a->bytes(static_cast<size_t>(n)));
        outs.push_back(std::move(y));
    }

    fa::Runtime rt(m, r.opt);
    const auto& tg = rt.target();
    size_t total = static_cast<size_t>(n), batch = r.batch ? std::min(r.batch, total) : total;
    if (!r.quiet)
        std::printf("fa-host: %s on %s / %s (%s), program built in %.3f s\n", r.bundle.c_str(), tg.platform_name.c_str(),
                    tg.device_name.c_str(), tg.binary ? ("binary " + m.binary_path).c_str() : "kernel source",
                    rt.build_seconds());

    std::vector<double> wall, kernel, transfer;
    std::vector<size_t> sizes;
    std::vector<double> pass_ms;
    for (size_t rep = 0; rep < r.repeat; ++rep) {
        double pass = 0;
        for (size_t start = 0; start < total; start += batch) {
            size_t b = std::min(batch, total - start);
            std::vector<const void*> ip;
            std::vector<void*> op;
            for (size_t i = 0; i < ins.size(); ++i) ip.push_back(ins[i].data.data() + in_args[i]->bytes(start));
            for (size_t i = 0; i < outs.size(); ++i) op.push_back(outs[i].data.data() + out_args[i]->bytes(start));
            fa::Timing t;
            try {
                t = rt.run(ip, op, b);
            } catch (const fa::Timeout& e) {
                // leave at once: destroying the Runtime would wait for the device, which may still
                // be writing into our arrays
                std::fprintf(stderr, "fa-host: timeout: %s\n", e.what());
                std::fflush(stderr);
                std::_Exit(3);
            }
            wall.push_back(t.wall_ms);
            kernel.push_back(t.profiled ? t.kernel_ns / 1e6 : -1);
            transfer.push_back(t.profiled ? (t.write_ns + t.read_ns) / 1e6 : -1);
            sizes.push_back(b);
            pass += t.wall_ms;
        }
        pass_ms.push_back(pass);
    }
    for (size_t i = 0; i < outs.size(); ++i) fa::write_npy(out_files[i], outs[i]);

    if (!r.quiet) {
        size_t calls = wall.size();
        std::printf("fa-host: %zu image(s), %zu call(s) of up to %zu image(s), %zu repeat(s)\n", total, calls, batch, r.repeat);
        // the first call carries the device's one-time work (PoCL prepares the kernel for the launch)
        std::printf("  first call: %.3f ms\n", wall[0]);
        std::vector<double> later(wall.begin() + (calls > 1 ? 1 : 0), wall.end());
        std::vector<double> later_k(kernel.begin() + (calls > 1 ? 1 : 0), kernel.end());
        std::vector<double> later_t(transfer.begin() + (calls > 1 ? 1 : 0), transfer.end());
        double wmean = 0;
        for (double w : later) wmean += w;
        wmean /= double(later.size());
        std::printf("  per call%s: wall min %.3f ms, median %.3f ms, mean %.3f ms", calls > 1 ? " after the first" : "",
                    *std::min_element(later.begin(), later.end()), median(later), wmean);
        if (later_k[0] >= 0) std::printf("; kernel median %.3f ms, transfers median %.3f ms", median(later_k), median(later_t));
        std::printf("\n  throughput: %.1f images/s (median pass over the repeats, host clock)\n",
                    double(total) / (median(pass_ms) / 1e3));
        for (size_t i = 0; i < outs.size(); ++i)
            std::printf("  wrote %s: %s %s (%s)\n", out_files[i].c_str(), outs[i].dtype.name.c_str(),
                        outs[i].shape_str().c_str(), out_args[i]->tensor.c_str());
    }
    if (!r.timing_json.empty()) {
        std::ofstream f(r.timing_json);
        if (!f) throw std::runtime_error(r.timing_json + ": cannot write");
        auto list = [&f](const char* key, const auto& v, bool last) {
            f << "  \"" << key << "\": [";
            for (size_t i = 0; i < v.size(); ++i) f << (i ? ", " : "") << v[i];
            f << "]" << (last ? "\n" : ",\n");
        };
        f << "{\n  \"target\": \"" << tg.platform_name << " / " << tg.device_name << "\",\n";
        f << "  \"mode\": \"" << (tg.binary ? "binary" : "source") << "\",\n  \"build_s\": " << rt.build_seconds() << ",\n";
        list("batch", sizes, false);
        list("wall_ms", wall, false);
        list("kernel_ms", kernel, false);
        list("transfer_ms", transfer, true);
        f << "}\n";
    }
    return 0;
}

int cmd_info(const std::vector<std::string>& argv) {
    if (argv.size() != 1) throw UsageError("info takes one bundle");
    fa::Manifest m = fa::load_manifest(argv[0]);
    std::printf("bundle: %s (model %s)\nkernel: %s\n", m.bundle_dir.c_str(), m.model_name.c_str(), m.kernel_name.c_str());
    for (const auto& a : m.args) {
        std::printf("  %-10s %-7s %-6s", a.name.c_str(), a.kind_name.c_str(), a.dtype.name.c_str());
        if (a.kind == fa::KernelArg::Kind::Buffer)
            std::printf(" %-3s %s [N, %s]", a.direction.c_str(), a.tensor.c_str(), dims(m.tensor(a.tensor).image_shape).c_str());
        else if (a.kind == fa::KernelArg::Kind::Scratch)
            std::printf(" %zu + %zu bytes per image", a.fixed_bytes, a.per_image_bytes);
        else if (a.kind == fa::KernelArg::Kind::Weights)
            std::printf(" in  URAM weights, %zu bytes (loaded at open)", m.uram_blob_bytes);
        if (a.is_load()) std::printf(" [binary only]");
        std::printf("\n");
    }
    if (m.mem_word_bytes > 1) std::printf("memory word: %zu bytes (device buffers are whole words)\n", m.mem_word_bytes);
    std::printf("source: %s\nbinary: %s\n", m.source_path.empty() ? "(none)" : m.source_path.c_str(),
                m.binary_path.empty() ? "(none)" : m.binary_path.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::fputs(kUsage, args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    std::string cmd = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    try {
        if (cmd == "run") return cmd_run(rest);
        if (cmd == "info") return cmd_info(rest);
        if (cmd == "devices") {
            std::fputs(fa::list_devices().c_str(), stdout);
            return 0;
        }
        throw UsageError("unknown command '" + cmd + "'");
    } catch (const UsageError& e) {
        std::fprintf(stderr, "fa-host: %s\n\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fa-host: error: %s\n", e.what());
        return 1;
    }
}
