#include "fa_host/fa_host.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "fa_host/runtime.h"

struct fa_host {
    std::unique_ptr<fa::Runtime> rt;
    std::string target;
};

namespace {

void set_error(char* err, size_t len, const char* msg) {
    if (err == nullptr || len == 0) return;
    std::strncpy(err, msg, len - 1);
    err[len - 1] = '\0';
}

// Runs f; on an exception writes its message to err and returns `failed`.
template <typename F, typename R>
R guarded(F&& f, R failed, char* err, size_t len) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        set_error(err, len, "out of host memory");
    } catch (const std::exception& e) {
        set_error(err, len, e.what());
    } catch (...) {
        set_error(err, len, "unknown error");
    }
    return failed;
}

// The whole bundle's kernel, or segment *segment's (when not null).
fa_host* open_handle(const char* bundle, const char* platform, const char* device, double timeout_s,
                     const uint32_t* segment) {
    if (bundle == nullptr) throw std::runtime_error("no bundle path given");
    fa::Options opt;
    opt.platform = platform ? platform : "";
    opt.device = device ? device : "";
    opt.timeout_s = timeout_s;
    auto h = std::make_unique<fa_host>();
    fa::Manifest m = segment ? fa::load_segment_manifest(bundle, *segment) : fa::load_manifest(bundle);
    h->rt = std::make_unique<fa::Runtime>(std::move(m), opt);
    const auto& t = h->rt->target();
    h->target = t.platform_name + " / " + t.device_name + (t.binary ? " (binary)" : " (source)");
    return h.release();
}

}  // namespace

extern "C" {

int fa_host_abi_version(void) { return 3; }

fa_host* fa_host_open(const char* bundle, const char* platform, const char* device, double timeout_s, char* err,
                      size_t err_len) {
    return guarded([&]() { return open_handle(bundle, platform, device, timeout_s, nullptr); },
                   static_cast<fa_host*>(nullptr), err, err_len);
}

fa_host* fa_host_open_segment(const char* bundle, uint32_t segment, const char* platform, const char* device,
                              double timeout_s, char* err, size_t err_len) {
    return guarded([&]() { return open_handle(bundle, platform, device, timeout_s, &segment); },
                   static_cast<fa_host*>(nullptr), err, err_len);
}

int fa_host_run(fa_host* h, const void* const* inputs, void* const* outputs, uint32_t n, fa_timing* timing, char* err,
                size_t err_len) {
    return guarded(
        [&]() -> int {
            if (h == nullptr) throw std::runtime_error("fa_host_run on a closed or failed handle");
            const auto& m = h->rt->manifest();
            size_t ni = m.input_args().size(), no = m.output_args().size();
            std::vector<const void*> in(inputs, inputs + ni);
            std::vector<void*> out(outputs, outputs + no);
            fa::Timing t = h->rt->run(in, out, n);
            if (timing != nullptr) {
                timing->wall_ms = t.wall_ms;
                timing->write_ns = t.write_ns;
                timing->kernel_ns = t.kernel_ns;
                timing->read_ns = t.read_ns;
                timing->total_ns = t.total_ns;
                timing->profiled = t.profiled ? 1 : 0;
            }
            return 0;
        },
        -1, err, err_len);
}

const char* fa_host_target(const fa_host* h) { return h ? h->target.c_str() : ""; }

double fa_host_build_seconds(const fa_host* h) { return h ? h->rt->build_seconds() : 0.0; }

size_t fa_host_list_devices(char* out, size_t out_len, char* err, size_t err_len) {
    return guarded(
        [&]() -> size_t {
            std::string text = fa::list_devices();
            if (out != nullptr && out_len > 0) set_error(out, out_len, text.c_str());
            return text.size() + 1;
        },
        size_t(0), err, err_len);
}

void fa_host_close(fa_host* h) { delete h; }

}  // extern "C"
