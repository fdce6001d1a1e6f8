// The accelerator on an OpenCL device: open the platform and device, make the program (the
// xclbin on a Xilinx platform, else the kernel source built for a CPU device), allocate the
// argument buffers, and run batches of hardware integers with events and profiling.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fa_host/cl.h"
#include "fa_host/manifest.h"

namespace fa {

struct Options {
    std::string platform, device;  // substrings of the names (case-insensitive); "" = the env / default
    double timeout_s = 0;          // longest wait for one batch; 0 = no limit
};

// Where the program runs, one candidate of device selection.
struct Target {
    cl_platform_id platform = nullptr;
    cl_device_id device = nullptr;
    std::string platform_name, device_name;
    bool binary = false;  // the xclbin on a Xilinx platform; else the kernel source
};

// Candidates in the order they are tried: the Xilinx platform with the bundle's binary first,
// then CPU devices (any device when a platform or device name is given) for the kernel source.
// Platform/device names come from `opt`, else $FPGA_ACCEL_OPENCL_PLATFORM / $FPGA_ACCEL_OPENCL_DEVICE.
std::vector<Target> candidates(const Manifest& m, const Options& opt);
// One line per platform and device this machine's ICD loader offers.
std::string list_devices();

struct Timing {
    double wall_ms = 0;  // host clock, enqueue of the first write to the end of the last read
    // device profiling counters (ns); `profiled` is false when the device gives none
    uint64_t write_ns = 0, kernel_ns = 0, read_ns = 0, total_ns = 0;
    bool profiled = false;
};

// A batch did not finish within Options::timeout_s. The runtime is unusable afterwards: the
// device may still be reading or writing the caller's arrays until it is destroyed.
class Timeout : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One program on one device. A binary whose design keeps weights in URAM (empty after programming,
// AMD UG573) gets them at open: weights/uram.bin in a buffer on `wmem`, one run with load = 1 and no
// images. The OpenCL twin built from source keeps its weights as constants and takes no load
// arguments: they are left out of its argument list. Not thread-safe: one thread calls run() at a time.
class Runtime {
public:
    Runtime(Manifest manifest, const Options& opt);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // One batch of n images. inputs[i] / outputs[i] point at n images of the i-th input / output
    // argument (manifest order), laid out as the kernel takes them (NHWC, the argument's dtype).
    Timing run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs, size_t n);

    const Manifest& manifest() const { return m_; }
    const Target& target() const { return target_; }
    double build_seconds() const { return build_s_; }
    size_t capacity() const { return capacity_; }

private:
    Manifest m_;
    Options opt_;
    Target target_;
    double build_s_ = 0;
    // declared in creation order, so they are released in reverse: buffers, kernel, program, queue, context
    Context ctx_;
    Queue queue_;
    Program program_;
    Kernel kernel_;
    std::vector<Mem> buffers_;  // one per argument (empty for scalars and wmem)
    Mem wmem_;                  // the URAM weights, bound to `wmem` once at open (HLS kernels with URAM weights)
    size_t capacity_ = 0;
    bool broken_ = false;

    void open(const Target& t);
    void load_uram();
    void reserve(size_t n);
    void wait(const std::vector<cl_event>& events, const char* what, double deadline_s);
    Timing run_batch(const std::vector<const void*>& inputs, const std::vector<void*>& outputs, size_t n);
};

}  // namespace fa
