// OpenCL plumbing: the one include of the OpenCL headers, error codes by name, and RAII owners
// for every object the host creates (so an early return or an exception leaks nothing).
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120  // XRT implements OpenCL 1.2: use nothing newer
#endif
#include <CL/cl.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace fa {

// "CL_OUT_OF_RESOURCES" for -5; "CL error -9999" for a code without a name.
const char* cl_error_name(cl_int code);

// An OpenCL call failed: `what` is the call and its subject ("clBuildProgram(fa_kernel.cl)").
class ClError : public std::runtime_error {
public:
    ClError(const std::string& what, cl_int code);
    cl_int code() const { return code_; }

private:
    cl_int code_;
};

inline void check(cl_int code, const std::string& what) {
    if (code != CL_SUCCESS) throw ClError(what, code);
}

// Owns one OpenCL handle and releases it exactly once. Move-only.
template <typename T, cl_int (*Release)(T)>
class Owned {
public:
    Owned() = default;
    explicit Owned(T h) : h_(h) {}
    ~Owned() { reset(); }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    Owned& operator=(Owned&& o) noexcept {
        if (this != &o) { reset(); h_ = std::exchange(o.h_, nullptr); }
        return *this;
    }
    T get() const { return h_; }
    explicit operator bool() const { return h_ != nullptr; }
    void reset(T h = nullptr) {
        if (h_ != nullptr) Release(h_);
        h_ = h;
    }

private:
    T h_ = nullptr;
};

using Context = Owned<cl_context, clReleaseContext>;
using Queue = Owned<cl_command_queue, clReleaseCommandQueue>;
using Program = Owned<cl_program, clReleaseProgram>;
using Kernel = Owned<cl_kernel, clReleaseKernel>;
using Mem = Owned<cl_mem, clReleaseMemObject>;
using Event = Owned<cl_event, clReleaseEvent>;

// String queries with the two-call size protocol.
std::string platform_info(cl_platform_id p, cl_platform_info what);
std::string device_info(cl_device_id d, cl_device_info what);
std::string build_log(cl_program program, cl_device_id device);

}  // namespace fa
