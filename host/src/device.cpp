// Platform and device discovery.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

#include "fa_host/runtime.h"

namespace fa {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

bool matches(const std::string& name, const std::string& pattern) {
    return pattern.empty() || lower(name).find(lower(pattern)) != std::string::npos;
}

std::string env_or(const std::string& given, const char* var) {
    if (!given.empty()) return given;
    const char* v = std::getenv(var);
    return v ? v : "";
}

std::vector<cl_platform_id> platforms() {
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(0, nullptr, &n);
    if (err == -1001 || (err == CL_SUCCESS && n == 0))
        throw std::runtime_error("no OpenCL platform: the ICD loader found none. Install one (Debian: apt-get install "
                                 "pocl-opencl-icd; an FPGA card: XRT) or point OCL_ICD_VENDORS at an ICD library "
                                 "(see host/README.md)");
    check(err, "clGetPlatformIDs");
    std::vector<cl_platform_id> ids(n);
    check(clGetPlatformIDs(n, ids.data(), nullptr), "clGetPlatformIDs");
    return ids;
}

std::vector<cl_device_id> devices(cl_platform_id p) {
    cl_uint n = 0;
    cl_int err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n);
    if (err == CL_DEVICE_NOT_FOUND) return {};
    check(err, "clGetDeviceIDs");
    std::vector<cl_device_id> ids(n);
    check(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr), "clGetDeviceIDs");
    return ids;
}

}  // namespace

std::vector<Target> candidates(const Manifest& m, const Options& opt) {
    std::string want_platform = env_or(opt.platform, "FPGA_ACCEL_OPENCL_PLATFORM");
    std::string want_device = env_or(opt.device, "FPGA_ACCEL_OPENCL_DEVICE");
    std::vector<Target> out;
    for (cl_platform_id p : platforms()) {
        std::string pname = platform_info(p, CL_PLATFORM_NAME);
        if (!matches(pname, want_platform)) continue;
        bool xilinx = lower(pname).find("xilinx") != std::string::npos;
        for (cl_device_id d : devices(p)) {
            std::string dname = device_info(d, CL_DEVICE_NAME);
            if (!matches(dname, want_device)) continue;
            cl_device_type type = 0;
            check(clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, nullptr), "clGetDeviceInfo(CL_DEVICE_TYPE)");
            if (xilinx && !m.binary_path.empty()) {
                out.push_back({p, d, pname, dname, true});
            } else if (!xilinx && !m.source_path.empty() &&
                       (!want_platform.empty() || !want_device.empty() || (type & CL_DEVICE_TYPE_CPU))) {
                out.push_back({p, d, pname, dname, false});
            }
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const Target& a, const Target& b) { return a.binary && !b.binary; });
    if (out.empty()) {
        std::ostringstream o;
        o << m.bundle_dir << ": no OpenCL device can run this bundle (it needs ";
        if (!m.binary_path.empty()) o << "a Xilinx platform for " << m.binary_path;
        if (!m.binary_path.empty() && !m.source_path.empty()) o << ", or ";
        if (!m.source_path.empty()) o << "a CPU device for " << m.source_path;
        if (m.binary_path.empty() && m.source_path.empty())
            o << "opencl/fa_kernel.cl or bitstream/*.xclbin, and the bundle has neither: compile with the OpenCL generator";
        o << ")";
        if (!want_platform.empty()) o << "; platform filter '" << want_platform << "'";
        if (!want_device.empty()) o << "; device filter '" << want_device << "'";
        o << ". Devices here:\n" << list_devices();
        throw std::runtime_error(o.str());
    }
    return out;
}

std::string list_devices() {
    std::ostringstream o;
    for (cl_platform_id p : platforms()) {
        o << "platform: " << platform_info(p, CL_PLATFORM_NAME) << " (" << platform_info(p, CL_PLATFORM_VERSION) << ")\n";
        for (cl_device_id d : devices(p)) {
            cl_device_type type = 0;
            clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, nullptr);
            const char* kind = (type & CL_DEVICE_TYPE_CPU) ? "cpu" : (type & CL_DEVICE_TYPE_GPU) ? "gpu"
                               : (type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator" : "other";
            o << "  device: " << device_info(d, CL_DEVICE_NAME) << " [" << kind << "]\n";
        }
    }
    return o.str();
}

}  // namespace fa
