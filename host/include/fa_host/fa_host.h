/* C interface of libfa_host, for callers that are not C++ (Python's ctypes, in
 * fpga_accel/runtime/backends/native.py). Every function that can fail returns 0 / NULL and writes a
 * message into err (err_len bytes, NUL-terminated, truncated when longer). */
#ifndef FA_HOST_C_API_H
#define FA_HOST_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fa_host fa_host;

typedef struct fa_timing {
    double wall_ms;                                       /* host clock for the whole batch */
    uint64_t write_ns, kernel_ns, read_ns, total_ns;      /* device profiling counters */
    int profiled;                                         /* 0 when the device gives no counters */
} fa_timing;

/* The interface version: bumped when a signature below changes, a function is added or what a call does
 * changes (2: fa_host_open_segment; 3: the open calls load a design's URAM weights). */
int fa_host_abi_version(void);

/* Opens NAME.fpga on an OpenCL device. platform / device: substrings of the names, or NULL/"" for
 * the default (see host/README.md); timeout_s: longest wait of one batch, 0 for none. On an xclbin
 * whose design keeps weights in URAM, the kernel loads them from weights/uram.bin here (one run with
 * load = 1, within timeout_s), before any batch. */
fa_host* fa_host_open(const char* bundle, const char* platform, const char* device, double timeout_s,
                      char* err, size_t err_len);

/* Opens segment `segment` (0, 1, ...) of NAME.fpga compiled in dataflow segments: the kernel
 * fa_kernel_s<segment> with the arguments of NAME.fpga/segments/<segment>/manifest.json, taken by
 * name from the model's xclbin in bitstream/ (every segment's kernel) when there is one, else built
 * from the segment's opencl/fa_kernel.cl for a CPU device. The caller runs the segments and the host
 * steps between them in the order of the model manifest's segments.steps. Other arguments as
 * fa_host_open. */
fa_host* fa_host_open_segment(const char* bundle, uint32_t segment, const char* platform, const char* device,
                              double timeout_s, char* err, size_t err_len);

/* One batch of n images. inputs / outputs: one pointer per input / output argument of the
 * kernel (manifest order), each to n images in the argument's dtype, NHWC. Returns 0 on success. */
int fa_host_run(fa_host* h, const void* const* inputs, void* const* outputs, uint32_t n, fa_timing* timing,
                char* err, size_t err_len);

/* "platform / device (source|binary)"; valid until fa_host_close. */
const char* fa_host_target(const fa_host* h);
/* Seconds clBuildProgram took when the bundle was opened. */
double fa_host_build_seconds(const fa_host* h);

/* Platforms and devices as text; returns the bytes needed (including the NUL), or 0 with err set. */
size_t fa_host_list_devices(char* out, size_t out_len, char* err, size_t err_len);

/* Waits for the device, then releases everything. NULL is allowed. */
void fa_host_close(fa_host* h);

#ifdef __cplusplus
}
#endif
#endif
