// What the host needs from a bundle's manifest.json: the kernel's name and arguments (in order),
// the hardware tensors' shapes and dtypes, and where the kernel program is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fa_host/npy.h"

namespace fa {

// One hardware input or output: manifest["hardware"]["inputs"/"outputs"][i].
struct TensorInfo {
    std::string name;
    std::vector<int64_t> image_shape;  // the shape without the leading batch dimension "N"
    std::string qtype, layout;
    double scale = 1.0;
    int64_t zero_point = 0;
    size_t image_elems() const;
};

// One kernel argument: manifest["kernel"]["args"][i].
struct KernelArg {
    // Weights: the URAM weight load's `wmem` buffer (role "uram_load"), set once at open
    enum class Kind { Buffer, Scalar, Scratch, Weights };
    std::string name, kind_name, direction, tensor, role;
    Kind kind = Kind::Buffer;
    DType dtype;
    // bytes the argument's buffer needs for n images: fixed + per_image * n
    size_t fixed_bytes = 0, per_image_bytes = 0;
    size_t bytes(size_t n_images) const { return fixed_bytes + per_image_bytes * n_images; }
    bool is_input() const { return kind == Kind::Buffer && direction == "in"; }
    bool is_output() const { return kind == Kind::Buffer && direction == "out"; }
    // `wmem` or the `load` flag: taken by the HLS kernel only (the OpenCL twin's weights are constants)
    bool is_load() const { return role == "uram_load"; }
};

struct Manifest {
    std::string bundle_dir, model_name, kernel_name;
    std::vector<KernelArg> args;
    std::vector<TensorInfo> inputs, outputs;  // hardware tensors, manifest order
    std::string source_path;                  // opencl/fa_kernel.cl, or "" when absent
    std::string binary_path;                  // bitstream/*.xclbin or *.awsxclbin, or "" when absent
    std::vector<std::string> build_options;   // manifest["opencl"]["build_options"]
    // the kernel moves memory in whole words of this many bytes (manifest["kernel"]["mem_word_bytes"],
    // the 512-bit port of Vitis platforms): device buffers are rounded up to a multiple of it
    size_t mem_word_bytes = 1;
    // weights/uram.bin when the design keeps weights in URAM (manifest["uram_load"]), else "": the
    // kernel fills them from it once, at open, before any image; its size and sha256 as the manifest says
    std::string uram_blob_path, uram_blob_sha256;
    size_t uram_blob_bytes = 0;

    const TensorInfo& tensor(const std::string& name) const;  // a hardware tensor by name
    std::vector<const KernelArg*> input_args() const;          // buffer args, direction "in", in order
    std::vector<const KernelArg*> output_args() const;         // buffer args, direction "out", in order
};

// Reads NAME.fpga/manifest.json. Throws std::runtime_error naming the file and the entry at fault.
// Files listed in manifest["files"] with a sha256 that the host reads (the kernel source or
// binary) are checked against it: a mismatch means the bundle was changed after compiling. With a
// binary, the build's record (bitstream/bitstream.json) must match: same model, binaries unchanged.
Manifest load_manifest(const std::string& bundle_dir);

// Segment `segment` of a bundle in dataflow segments: the kernel, arguments and tensors of
// NAME.fpga/segments/<segment>/manifest.json (whose sha256 the model's sealed manifest lists), its
// own opencl/ program, and the model's bitstream/*.xclbin (one compute unit per segment kernel)
// when a build placed one there, checked against the model's build record. The kernel is then
// taken by its name (fa_kernel_s<segment>) from that one binary.
Manifest load_segment_manifest(const std::string& bundle_dir, size_t segment);

// Reads the URAM weight blob, refusing a file of another size (before reading it) or sha256.
std::vector<unsigned char> read_uram_blob(const Manifest& m);

// "in0 (tensor input_nhwc, uint8 [28, 28, 1])" for messages.
std::string describe(const KernelArg& arg, const Manifest& m);

}  // namespace fa
