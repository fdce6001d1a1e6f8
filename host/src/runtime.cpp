#include "fa_host/runtime.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace fa {

namespace {

using Clock = std::chrono::steady_clock;

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open");
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

cl_ulong profile(cl_event e, cl_profiling_info what) {
    cl_ulong v = 0;
    check(clGetEventProfilingInfo(e, what, sizeof v, &v, nullptr), "clGetEventProfilingInfo");
    return v;
}

}  // namespace

Runtime::Runtime(Manifest manifest, const Options& opt) : m_(std::move(manifest)), opt_(opt) {
    std::vector<Target> found = candidates(m_, opt_);
    std::ostringstream logs;
    for (const Target& t : found) {
        try {
            open(t);
        } catch (const ClError& e) {
            logs << "--- " << t.platform_name << " / " << t.device_name << " (" << (t.binary ? "binary" : "source")
                 << ") ---\n" << e.what() << "\n";
            kernel_.reset();
            program_.reset();
            queue_.reset();
            ctx_.reset();
            continue;
        }
        // outside the try: a failed load is this device's error, not a reason to try the next one
        if (target_.binary && !m_.uram_blob_path.empty()) load_uram();
        return;
    }
    const std::string& what = found.front().binary ? m_.binary_path : m_.source_path;
    throw std::runtime_error(what + ": the OpenCL program did not build on " + std::to_string(found.size()) +
                             " device(s); choose another with --platform/--device (or FPGA_ACCEL_OPENCL_PLATFORM / "
                             "FPGA_ACCEL_OPENCL_DEVICE).\n" + logs.str());
}

Runtime::~Runtime() {
    // commands may still use the buffers (after a timeout): let them end before anything is released
    if (queue_) clFinish(queue_.get());
}

void Runtime::open(const Target& t) {
    target_ = t;
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(t.platform), 0};
    ctx_.reset(clCreateContext(props, 1, &t.device, nullptr, nullptr, &err));
    check(err, "clCreateContext(" + t.device_name + ")");
    queue_.reset(clCreateCommandQueue(ctx_.get(), t.device, CL_QUEUE_PROFILING_ENABLE, &err));
    check(err, "clCreateCommandQueue(" + t.device_name + ")");

    auto start = now_s();
    std::string what;
    if (t.binary) {
        // on XRT, building the program from the xclbin programs the card
        what = m_.binary_path;
        std::vector<unsigned char> bytes = read_bytes(what);
        const unsigned char* data = bytes.data();
        size_t size = bytes.size();
        cl_int status = CL_SUCCESS;
        program_.reset(clCreateProgramWithBinary(ctx_.get(), 1, &t.device, &size, &data, &status, &err));
        check(err, "clCreateProgramWithBinary(" + what + ")");
        check(status, "clCreateProgramWithBinary(" + what + ") binary status");
    } else {
        what = m_.source_path;
        std::vector<unsigned char> bytes = read_bytes(what);
        std::string src(bytes.begin(), bytes.end());
        const char* text = src.c_str();
        program_.reset(clCreateProgramWithSource(ctx_.get(), 1, &text, nullptr, &err));
        check(err, "clCreateProgramWithSource(" + what + ")");
    }
    std::string options;
    for (const auto& o : m_.build_options) options += (options.empty() ? "" : " ") + o;
    err = clBuildProgram(program_.get(), 1, &t.device, options.c_str(), nullptr, nullptr);
    if (err != CL_SUCCESS) {
        std::string log = build_log(program_.get(), t.device);
        throw ClError("clBuildProgram(" + what + ") on " + t.device_name + (log.empty() ? "" : ", build log:\n" + log), err);
    }
    build_s_ = now_s() - start;
    if (!t.binary)  // the twin's weights are constants: it takes no load arguments
        m_.args.erase(std::remove_if(m_.args.begin(), m_.args.end(), [](const KernelArg& a) { return a.is_load(); }),
                      m_.args.end());
    kernel_.reset(clCreateKernel(program_.get(), m_.kernel_name.c_str(), &err));
    check(err, "clCreateKernel(" + m_.kernel_name + ") in " + what);
    cl_uint n_args = 0;
    check(clGetKernelInfo(kernel_.get(), CL_KERNEL_NUM_ARGS, sizeof n_args, &n_args, nullptr), "clGetKernelInfo");
    if (n_args != m_.args.size())
        throw std::runtime_error(what + ": kernel " + m_.kernel_name + " takes " + std::to_string(n_args) +
                                 " arguments, manifest.json lists " + std::to_string(m_.args.size()) +
                                 "; the program and the manifest come from different compiles");
    buffers_.resize(m_.args.size());
}

void Runtime::load_uram() {
    std::vector<unsigned char> blob = read_uram_blob(m_);
    cl_int err = CL_SUCCESS;
    wmem_.reset(clCreateBuffer(ctx_.get(), CL_MEM_READ_ONLY | CL_MEM_ALLOC_HOST_PTR, blob.size(), nullptr, &err));
    check(err, "clCreateBuffer(wmem, " + std::to_string(blob.size()) + " bytes)");
    // the image buffers are not read with load = 1: one word stands in for each until the first batch
    Mem spare(clCreateBuffer(ctx_.get(), CL_MEM_READ_WRITE, m_.mem_word_bytes, nullptr, &err));
    check(err, "clCreateBuffer(spare word)");
    for (size_t i = 0; i < m_.args.size(); ++i) {
        const KernelArg& a = m_.args[i];
        cl_mem mem = a.kind == KernelArg::Kind::Weights ? wmem_.get() : spare.get();
        uint64_t v = a.is_load() ? 1 : 0;  // load = 1, n_images = 0
        if (a.kind == KernelArg::Kind::Scalar)
            check(clSetKernelArg(kernel_.get(), cl_uint(i), a.dtype.size, &v), "clSetKernelArg(" + a.name + ")");
        else
            check(clSetKernelArg(kernel_.get(), cl_uint(i), sizeof mem, &mem), "clSetKernelArg(" + a.name + ")");
    }
    // a blocking write: the blob is freed on return, whatever the load run does
    check(clEnqueueWriteBuffer(queue_.get(), wmem_.get(), CL_TRUE, 0, blob.size(), blob.data(), 0, nullptr, nullptr),
          "clEnqueueWriteBuffer(wmem, " + std::to_string(blob.size()) + " bytes)");
    size_t one = 1;
    cl_event run_ev = nullptr;
    check(clEnqueueNDRangeKernel(queue_.get(), kernel_.get(), 1, nullptr, &one, &one, 0, nullptr, &run_ev),
          "clEnqueueNDRangeKernel(" + m_.kernel_name + ", URAM weight load)");
    Event owned(run_ev);
    check(clFlush(queue_.get()), "clFlush");
    // OpenCL keeps the buffers of an enqueued run alive, so a timeout here leaves nothing dangling
    wait({run_ev}, "URAM weight load", opt_.timeout_s > 0 ? now_s() + opt_.timeout_s : 0);
}

void Runtime::reserve(size_t n) {
    if (n <= capacity_) return;
    for (auto& b : buffers_) b.reset();
    capacity_ = 0;
    cl_mem_flags extra = target_.binary ? CL_MEM_ALLOC_HOST_PTR : 0;  // XRT: pinned, aligned host memory
    for (size_t i = 0; i < m_.args.size(); ++i) {
        const KernelArg& a = m_.args[i];
        if (a.kind == KernelArg::Kind::Scalar || a.kind == KernelArg::Kind::Weights) continue;  // wmem: bound at open
        cl_mem_flags flags = a.is_input() ? CL_MEM_READ_ONLY : a.is_output() ? CL_MEM_WRITE_ONLY : CL_MEM_READ_WRITE;
        // whole memory words: the FPGA kernel never reads or writes past the buffer's end
        size_t word = m_.mem_word_bytes;
        size_t bytes = std::max<size_t>((a.bytes(n) + word - 1) / word, 1) * word;
        cl_int err = CL_SUCCESS;
        buffers_[i].reset(clCreateBuffer(ctx_.get(), flags | extra, bytes, nullptr, &err));
        check(err, "clCreateBuffer(" + a.name + ", " + std::to_string(bytes) + " bytes)");
        // bound before the first transfer: XRT places a buffer in the memory bank of its argument
        cl_mem mem = buffers_[i].get();
        check(clSetKernelArg(kernel_.get(), cl_uint(i), sizeof mem, &mem), "clSetKernelArg(" + a.name + ")");
    }
    capacity_ = n;
}

void Runtime::wait(const std::vector<cl_event>& events, const char* what, double deadline) {
    if (events.empty()) return;
    if (deadline <= 0) {
        cl_int err = clWaitForEvents(cl_uint(events.size()), events.data());
        if (err == CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) {
            for (cl_event e : events) {
                cl_int status = CL_COMPLETE;
                clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
                if (status < 0) throw ClError(std::string(what) + " on " + target_.device_name, status);
            }
        }
        check(err, std::string("clWaitForEvents(") + what + ")");
        return;
    }
    auto pause = std::chrono::microseconds(10);
    for (cl_event e : events) {
        for (;;) {
            cl_int status = CL_QUEUED;
            check(clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr),
                  std::string("clGetEventInfo(") + what + ")");
            if (status == CL_COMPLETE) break;
            if (status < 0) throw ClError(std::string(what) + " on " + target_.device_name, status);
            if (now_s() > deadline) {
                broken_ = true;
                std::ostringstream o;
                o << what << " on " << target_.device_name << " did not complete within " << opt_.timeout_s
                  << " s; raise the timeout or run fewer images at once";
                throw Timeout(o.str());
            }
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(1000));
        }
    }
}

Timing Runtime::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs, size_t n) {
    try {
        return run_batch(inputs, outputs, n);
    } catch (const Timeout&) {
        throw;
    } catch (...) {
        // a failure after some commands were enqueued: let them finish with the caller's arrays
        // before the caller gets control back (and perhaps frees them)
        if (queue_) clFinish(queue_.get());
        throw;
    }
}

Timing Runtime::run_batch(const std::vector<const void*>& inputs, const std::vector<void*>& outputs, size_t n) {
    if (broken_) throw std::runtime_error("an earlier batch timed out on " + target_.device_name + "; open the bundle again");
    auto ins = m_.input_args();
    auto outs = m_.output_args();
    if (inputs.size() != ins.size() || outputs.size() != outs.size())
        throw std::runtime_error("run() was given " + std::to_string(inputs.size()) + " inputs and " +
                                 std::to_string(outputs.size()) + " outputs; the kernel takes " +
                                 std::to_string(ins.size()) + " and " + std::to_string(outs.size()));
    Timing t;
    if (n == 0) return t;
    if (n > 0xFFFFFFFFull) throw std::runtime_error("at most 2^32-1 images per batch");
    double start = now_s();
    double deadline = opt_.timeout_s > 0 ? start + opt_.timeout_s : 0;
    reserve(n);
    for (size_t i = 0; i < m_.args.size(); ++i) {
        const KernelArg& a = m_.args[i];
        if (a.kind != KernelArg::Kind::Scalar) continue;
        // the scalars of fa_kernel: the image count, of its declared width, and the load flag (0: images)
        uint64_t v = a.is_load() ? 0 : n;
        check(clSetKernelArg(kernel_.get(), cl_uint(i), a.dtype.size, &v), "clSetKernelArg(" + a.name + ")");
    }
    // events are owned here so every return path releases them
    std::vector<Event> owned;
    auto keep = [&owned](cl_event e) { owned.emplace_back(e); return e; };
    std::vector<cl_event> writes, reads;
    size_t k = 0;
    for (size_t i = 0; i < m_.args.size(); ++i) {
        const KernelArg& a = m_.args[i];
        if (!a.is_input()) continue;
        cl_event e = nullptr;
        check(clEnqueueWriteBuffer(queue_.get(), buffers_[i].get(), CL_FALSE, 0, a.bytes(n), inputs[k++], 0, nullptr, &e),
              "clEnqueueWriteBuffer(" + a.name + ")");
        writes.push_back(keep(e));
    }
    // HLS kernels are single work-item tasks; the source kernel takes one work-item per image
    size_t global = target_.binary ? 1 : n, local = 1;
    cl_event run_ev = nullptr;
    check(clEnqueueNDRangeKernel(queue_.get(), kernel_.get(), 1, nullptr, &global, &local, cl_uint(writes.size()),
                                 writes.empty() ? nullptr : writes.data(), &run_ev),
          "clEnqueueNDRangeKernel(" + m_.kernel_name + ", " + std::to_string(n) + " images)");
    keep(run_ev);
    k = 0;
    for (size_t i = 0; i < m_.args.size(); ++i) {
        const KernelArg& a = m_.args[i];
        if (!a.is_output()) continue;
        cl_event e = nullptr;
        check(clEnqueueReadBuffer(queue_.get(), buffers_[i].get(), CL_FALSE, 0, a.bytes(n), outputs[k++], 1, &run_ev, &e),
              "clEnqueueReadBuffer(" + a.name + ")");
        reads.push_back(keep(e));
    }
    check(clFlush(queue_.get()), "clFlush");
    wait(writes, "input transfer", deadline);
    wait({run_ev}, "kernel", deadline);
    wait(reads, "output transfer", deadline);
    t.wall_ms = (now_s() - start) * 1e3;
    try {
        auto span = [](const std::vector<cl_event>& evs, cl_ulong& lo, cl_ulong& hi) {
            for (cl_event e : evs) {
                lo = std::min(lo, profile(e, CL_PROFILING_COMMAND_START));
                hi = std::max(hi, profile(e, CL_PROFILING_COMMAND_END));
            }
        };
        cl_ulong wlo = ~0ull, whi = 0, rlo = ~0ull, rhi = 0;
        span(writes, wlo, whi);
        span(reads, rlo, rhi);
        cl_ulong ks = profile(run_ev, CL_PROFILING_COMMAND_START), ke = profile(run_ev, CL_PROFILING_COMMAND_END);
        t.write_ns = writes.empty() ? 0 : whi - wlo;
        t.read_ns = reads.empty() ? 0 : rhi - rlo;
        t.kernel_ns = ke - ks;
        t.total_ns = std::max(ke, rhi) - std::min(ks, wlo);
        t.profiled = true;
    } catch (const ClError&) {
        t.profiled = false;  // a device without profiling counters: the wall time still stands
    }
    return t;
}

}  // namespace fa
