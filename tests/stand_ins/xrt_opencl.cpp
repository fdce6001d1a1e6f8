// A stand-in libOpenCL.so.1 for the native host's xclbin path (tests/test_uram_load_native.py): one
// "Xilinx" platform whose one device runs fa_kernel as the bundle's C simulation, loaded with dlopen
// from $FA_STANDIN_CSIM (the library build_csim makes). The kernel's arguments are described by
// $FA_STANDIN_KERNEL_ARGS, one letter each in order: i input buffer, o output buffer, n n_images,
// w wmem, l load. A run with load = 1 fills the C simulation's URAM arrays from the wmem buffer
// (fa_csim_load); any other run computes n_images images. Each run appends a line to
// $FA_STANDIN_LOG ("load <bytes>" / "run <n>"). Only what libfa_host calls is here.
#include <CL/cl.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

struct _cl_platform_id { int unused; };
struct _cl_device_id { int unused; };
struct _cl_context { int unused; };
struct _cl_command_queue { int unused; };
struct _cl_program { int unused; };
struct _cl_kernel { std::map<cl_uint, std::vector<unsigned char>> args; };
struct _cl_mem { std::vector<unsigned char> data; };
struct _cl_event { int unused; };

namespace {

_cl_platform_id the_platform;
_cl_device_id the_device;

cl_int info(const void* v, size_t n, size_t size, void* out, size_t* ret) {
    if (ret) *ret = n;
    if (out) {
        if (size < n) return CL_INVALID_VALUE;
        std::memcpy(out, v, n);
    }
    return CL_SUCCESS;
}

cl_int text(const char* s, size_t size, void* out, size_t* ret) { return info(s, std::strlen(s) + 1, size, out, ret); }

std::string arg_codes() {
    const char* c = std::getenv("FA_STANDIN_KERNEL_ARGS");
    return c ? c : "";
}

void log_line(const std::string& line) {
    const char* path = std::getenv("FA_STANDIN_LOG");
    if (!path) return;
    if (FILE* f = std::fopen(path, "a")) {
        std::fprintf(f, "%s\n", line.c_str());
        std::fclose(f);
    }
}

void* csim() {
    static void* lib = nullptr;
    if (!lib) {
        const char* path = std::getenv("FA_STANDIN_CSIM");
        lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
        if (!lib) std::fprintf(stderr, "stand-in: cannot load the C simulation: %s\n", dlerror());
    }
    return lib;
}

cl_event done_event(cl_event* ev) {
    if (ev) *ev = new _cl_event();
    return ev ? *ev : nullptr;
}

_cl_mem* mem_arg(const _cl_kernel* k, cl_uint i) {
    _cl_mem* m = nullptr;
    std::memcpy(&m, k->args.at(i).data(), sizeof m);
    return m;
}

uint64_t scalar_arg(const _cl_kernel* k, cl_uint i) {
    uint64_t v = 0;
    const auto& b = k->args.at(i);
    std::memcpy(&v, b.data(), std::min(b.size(), sizeof v));
    return v;
}

}  // namespace

extern "C" {

cl_int clGetPlatformIDs(cl_uint n, cl_platform_id* ids, cl_uint* count) {
    if (count) *count = 1;
    if (ids && n) ids[0] = &the_platform;
    return CL_SUCCESS;
}

cl_int clGetPlatformInfo(cl_platform_id, cl_platform_info what, size_t size, void* out, size_t* ret) {
    return text(what == CL_PLATFORM_NAME ? "Xilinx (stand-in running the C simulation)" : "OpenCL 1.2 stand-in", size,
                out, ret);
}

cl_int clGetDeviceIDs(cl_platform_id, cl_device_type, cl_uint n, cl_device_id* ids, cl_uint* count) {
    if (count) *count = 1;
    if (ids && n) ids[0] = &the_device;
    return CL_SUCCESS;
}

cl_int clGetDeviceInfo(cl_device_id, cl_device_info what, size_t size, void* out, size_t* ret) {
    if (what == CL_DEVICE_TYPE) {
        cl_device_type t = CL_DEVICE_TYPE_ACCELERATOR;
        return info(&t, sizeof t, size, out, ret);
    }
    return text("xilinx_standin_card", size, out, ret);
}

cl_context clCreateContext(const cl_context_properties*, cl_uint, const cl_device_id*,
                           void(CL_CALLBACK*)(const char*, const void*, size_t, void*), void*, cl_int* err) {
    if (err) *err = CL_SUCCESS;
    return new _cl_context();
}

cl_command_queue clCreateCommandQueue(cl_context, cl_device_id, cl_command_queue_properties, cl_int* err) {
    if (err) *err = CL_SUCCESS;
    return new _cl_command_queue();
}

cl_program clCreateProgramWithBinary(cl_context, cl_uint, const cl_device_id*, const size_t*, const unsigned char**,
                                     cl_int* status, cl_int* err) {
    if (status) status[0] = CL_SUCCESS;
    if (err) *err = CL_SUCCESS;
    return new _cl_program();
}

cl_program clCreateProgramWithSource(cl_context, cl_uint, const char**, const size_t*, cl_int* err) {
    if (err) *err = CL_INVALID_OPERATION;  // the card takes binaries only
    return nullptr;
}

cl_int clBuildProgram(cl_program, cl_uint, const cl_device_id*, const char*, void(CL_CALLBACK*)(cl_program, void*),
                      void*) {
    return CL_SUCCESS;
}

cl_int clGetProgramBuildInfo(cl_program, cl_device_id, cl_program_build_info, size_t size, void* out, size_t* ret) {
    return text("", size, out, ret);
}

cl_kernel clCreateKernel(cl_program, const char*, cl_int* err) {
    if (err) *err = csim() ? CL_SUCCESS : CL_INVALID_KERNEL_NAME;
    return csim() ? new _cl_kernel() : nullptr;
}

cl_int clGetKernelInfo(cl_kernel, cl_kernel_info what, size_t size, void* out, size_t* ret) {
    if (what != CL_KERNEL_NUM_ARGS) return CL_INVALID_VALUE;
    cl_uint n = cl_uint(arg_codes().size());
    return info(&n, sizeof n, size, out, ret);
}

cl_mem clCreateBuffer(cl_context, cl_mem_flags, size_t size, void*, cl_int* err) {
    if (err) *err = CL_SUCCESS;
    auto* m = new _cl_mem();
    m->data.resize(size);
    return m;
}

cl_int clSetKernelArg(cl_kernel k, cl_uint i, size_t size, const void* value) {
    if (i >= arg_codes().size()) return CL_INVALID_ARG_INDEX;
    const auto* p = static_cast<const unsigned char*>(value);
    k->args[i].assign(p, p + size);
    return CL_SUCCESS;
}

cl_int clEnqueueWriteBuffer(cl_command_queue, cl_mem m, cl_bool, size_t off, size_t n, const void* src, cl_uint,
                            const cl_event*, cl_event* ev) {
    if (off + n > m->data.size()) return CL_INVALID_VALUE;
    std::memcpy(m->data.data() + off, src, n);
    done_event(ev);
    return CL_SUCCESS;
}

cl_int clEnqueueReadBuffer(cl_command_queue, cl_mem m, cl_bool, size_t off, size_t n, void* dst, cl_uint,
                           const cl_event*, cl_event* ev) {
    if (off + n > m->data.size()) return CL_INVALID_VALUE;
    std::memcpy(dst, m->data.data() + off, n);
    done_event(ev);
    return CL_SUCCESS;
}

cl_int clEnqueueNDRangeKernel(cl_command_queue, cl_kernel k, cl_uint, const size_t*, const size_t*, const size_t*,
                              cl_uint, const cl_event*, cl_event* ev) {
    using Load = int (*)(const void*, size_t, int);
    using Run = int (*)(const void* const*, void* const*, unsigned);
    std::string codes = arg_codes();
    std::vector<const void*> ins;
    std::vector<void*> outs;
    uint64_t n = 0, load = 0;
    _cl_mem* wmem = nullptr;
    for (cl_uint i = 0; i < codes.size(); ++i) {
        if (!k->args.count(i)) return CL_INVALID_KERNEL_ARGS;
        switch (codes[i]) {
            case 'i': ins.push_back(mem_arg(k, i)->data.data()); break;
            case 'o': outs.push_back(mem_arg(k, i)->data.data()); break;
            case 'w': wmem = mem_arg(k, i); break;
            case 'n': n = scalar_arg(k, i); break;
            case 'l': load = scalar_arg(k, i); break;
        }
    }
    int rc = 0;
    if (load == 1) {
        auto fn = reinterpret_cast<Load>(dlsym(csim(), "fa_csim_load"));
        rc = fn ? fn(wmem->data.data(), wmem->data.size(), 0) : -1;
        log_line("load " + std::to_string(wmem->data.size()));
    } else {
        auto fn = reinterpret_cast<Run>(dlsym(csim(), "fa_csim_run"));
        rc = fn ? fn(ins.data(), outs.data(), unsigned(n)) : -1;
        log_line("run " + std::to_string(n));
    }
    if (rc != 0) return CL_OUT_OF_RESOURCES;
    done_event(ev);
    return CL_SUCCESS;
}

cl_int clFlush(cl_command_queue) { return CL_SUCCESS; }
cl_int clFinish(cl_command_queue) { return CL_SUCCESS; }
cl_int clWaitForEvents(cl_uint, const cl_event*) { return CL_SUCCESS; }

cl_int clGetEventInfo(cl_event, cl_event_info, size_t size, void* out, size_t* ret) {
    cl_int status = CL_COMPLETE;
    return info(&status, sizeof status, size, out, ret);
}

cl_int clGetEventProfilingInfo(cl_event, cl_profiling_info, size_t, void*, size_t*) {
    return CL_PROFILING_INFO_NOT_AVAILABLE;
}

cl_int clReleaseContext(cl_context c) { delete c; return CL_SUCCESS; }
cl_int clReleaseCommandQueue(cl_command_queue q) { delete q; return CL_SUCCESS; }
cl_int clReleaseProgram(cl_program p) { delete p; return CL_SUCCESS; }
cl_int clReleaseKernel(cl_kernel k) { delete k; return CL_SUCCESS; }
cl_int clReleaseMemObject(cl_mem m) { delete m; return CL_SUCCESS; }
cl_int clReleaseEvent(cl_event e) { delete e; return CL_SUCCESS; }

}  // extern "C"
