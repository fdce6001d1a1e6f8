#include "fa_host/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "fa_host/json.h"
#include "fa_host/seal.h"
#include "fa_host/sha256.h"

namespace fs = std::filesystem;

namespace fa {

size_t TensorInfo::image_elems() const {
    size_t n = 1;
    for (auto d : image_shape) n *= static_cast<size_t>(d);
    return n;
}

const TensorInfo& Manifest::tensor(const std::string& name) const {
    for (const auto* list : {&inputs, &outputs})
        for (const auto& t : *list)
            if (t.name == name) return t;
    throw std::runtime_error(bundle_dir + "/manifest.json: no hardware tensor '" + name + "'");
}

std::vector<const KernelArg*> Manifest::input_args() const {
    std::vector<const KernelArg*> out;
    for (const auto& a : args)
        if (a.is_input()) out.push_back(&a);
    return out;
}

std::vector<const KernelArg*> Manifest::output_args() const {
    std::vector<const KernelArg*> out;
    for (const auto& a : args)
        if (a.is_output()) out.push_back(&a);
    return out;
}

std::string describe(const KernelArg& arg, const Manifest& m) {
    std::ostringstream o;
    o << arg.name;
    if (!arg.tensor.empty()) {
        const auto& t = m.tensor(arg.tensor);
        o << " (tensor " << t.name << ", " << arg.dtype.name << " [";
        for (size_t i = 0; i < t.image_shape.size(); ++i) o << (i ? ", " : "") << t.image_shape[i];
        o << "] per image)";
    }
    return o.str();
}

namespace {

TensorInfo tensor_info(const Json& j, const std::string& where) {
    TensorInfo t;
    t.name = j.at("name").str(where + ".name");
    const auto& shape = j.at("shape").items(where + ".shape");
    if (shape.empty()) throw std::runtime_error(where + ".shape is empty; expected the batch \"N\" first");
    for (size_t i = 1; i < shape.size(); ++i) {
        int64_t d = shape[i].integer(where + ".shape[" + std::to_string(i) + "]");
        if (d <= 0) throw std::runtime_error(where + ".shape[" + std::to_string(i) + "] is " + std::to_string(d));
        t.image_shape.push_back(d);
    }
    if (j.get("qtype").is_string()) t.qtype = j.get("qtype").str();
    if (j.get("layout").is_string()) t.layout = j.get("layout").str();
    if (j.get("scale").is_number()) t.scale = j.get("scale").number();
    if (j.get("zero_point").is_number()) t.zero_point = j.get("zero_point").integer(where + ".zero_point");
    return t;
}

// A scratch argument's size: "bytes"/"size" (fixed) and "bytes_per_image"/"size_per_image" (per image).
void scratch_size(KernelArg& a, const Json& j, const std::string& where) {
    bool any = false;
    for (const char* key : {"bytes", "size"})
        if (j.get(key).is_number()) { a.fixed_bytes = static_cast<size_t>(j.get(key).integer(where + "." + key)); any = true; }
    for (const char* key : {"bytes_per_image", "size_per_image"})
        if (j.get(key).is_number()) { a.per_image_bytes = static_cast<size_t>(j.get(key).integer(where + "." + key)); any = true; }
    if (!any)
        throw std::runtime_error(where + " (scratch argument '" + a.name + "') gives no size: expected \"size\" or "
                                 "\"bytes\" (fixed) and/or \"size_per_image\" / \"bytes_per_image\"");
}

std::string first_binary(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return "";
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".xclbin" || ext == ".awsxclbin")) found.push_back(e.path().string());
    }
    // .xclbin before .awsxclbin, then by name (the order the pyopencl backend uses)
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
        bool xa = fs::path(a).extension() == ".xclbin", xb = fs::path(b).extension() == ".xclbin";
        return xa != xb ? xa : a < b;
    });
    return found.empty() ? "" : found.front();
}

void check_hash(const Json& files, const fs::path& bundle, const std::string& path) {
    if (path.empty()) return;
    std::string rel = fs::relative(path, bundle).generic_string();
    const Json& want = files.get(rel);
    if (!want.is_string()) return;  // not listed (a bitstream added by a build): nothing to check
    std::string got = sha256_file(path);
    if (got != want.str())
        throw std::runtime_error(path + ": sha256 " + got + " differs from the " + want.str() +
                                 " recorded in manifest.json; the bundle was changed after compiling, compile it again");
}

// bitstream/bitstream.json, written by a build: its binaries must be unchanged and built for this
// model (the Python runtime checks the bundle's identity hash as well). No record: nothing to check.
void check_bitstream_record(const fs::path& bundle, const Json& manifest) {
    fs::path rpath = bundle / "bitstream" / "bitstream.json";
    std::error_code ec;
    // the sealed manifest names the record a build wrote: a missing, edited or foreign one is refused
    const Json& want = manifest.get("build").get("bitstream_sha256");
    if (!fs::is_regular_file(rpath, ec)) {
        if (want.is_string())
            throw std::runtime_error(rpath.string() + " is missing, but the manifest records a build; rebuild with "
                                     "`fpga-accel build " + bundle.string() + "`");
        return;
    }
    if (want.is_string() && sha256_file(rpath.string()) != want.str())
        throw std::runtime_error(rpath.string() + ": not the record of this bundle's build (sha256 differs from the "
                                 "manifest's build.bitstream_sha256); rebuild with `fpga-accel build " +
                                 bundle.string() + "`");
    Json rec = Json::parse_file(rpath.string());
    std::vector<std::string> problems;
    const Json& was = rec.get("model_sha256");
    const Json& now = manifest.get("model").get("sha256");
    if (was.is_string() && now.is_string() && was.str() != now.str())
        problems.push_back("built for model sha256 " + was.str().substr(0, 12) + "..., the bundle holds " +
                           now.str().substr(0, 12) + "...");
    const Json& files = rec.get("files");
    for (const auto& name : files.keys()) {
        fs::path p = bundle / "bitstream" / name;
        if (!fs::is_regular_file(p, ec)) problems.push_back("bitstream/" + name + " is missing");
        else if (sha256_file(p.string()) != files.at(name).str("bitstream.json files[" + name + "]"))
            problems.push_back("bitstream/" + name + " changed since the build (sha256 differs)");
    }
    if (problems.empty()) return;
    std::string msg = bundle.string() + ": the bitstream does not belong to this bundle: ";
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw std::runtime_error(msg + ". Rebuild it with `fpga-accel build " + bundle.string() +
                             "` (or use a bundle and bitstream built together).");
}

// URAM weights loaded at start: a blob of whole 64-byte words at weights/uram.bin (the path is
// fixed, never taken from the manifest's text), listed in files with the section's sha256, and the
// kernel's two load arguments (wmem, then the load flag).
constexpr const char* kUramBlob = "weights/uram.bin";
constexpr int64_t kMaxUramBytes = int64_t(1) << 30;  // far beyond any board's URAM (fpga_accel/bundle_uram.py)

void uram_section(Manifest& m, const Json& j, const fs::path& bundle) {
    const Json& u = j.get("uram_load");
    int loads = 0;
    for (const auto& a : m.args) loads += a.is_load() ? 1 : 0;
    if (u.is_null()) {
        if (loads) throw std::runtime_error("kernel.args take the URAM weight load, but there is no \"uram_load\" entry");
        return;
    }
    if (!u.is_object()) throw std::runtime_error("uram_load must be an object");
    if (u.at("file").str("uram_load.file") != kUramBlob)
        throw std::runtime_error(std::string("uram_load.file must be \"") + kUramBlob + "\"");
    int64_t bytes = u.at("bytes").integer("uram_load.bytes");
    if (bytes < 64 || bytes > kMaxUramBytes || bytes % 64)
        throw std::runtime_error("uram_load.bytes is " + std::to_string(bytes) + "; expected whole 64-byte words, at most 1 GiB");
    const std::string& sha = u.at("sha256").str("uram_load.sha256");
    const Json& listed = j.get("files").get(kUramBlob);
    if (!listed.is_string() || listed.str() != sha)
        throw std::runtime_error(std::string("uram_load.sha256 differs from the sha256 of ") + kUramBlob + " in files");
    bool wmem = std::any_of(m.args.begin(), m.args.end(), [](const KernelArg& a) { return a.kind == KernelArg::Kind::Weights; });
    if (loads != 2 || !wmem)
        throw std::runtime_error("uram_load is given, but kernel.args lack the wmem buffer and load flag (role \"uram_load\")");
    m.uram_blob_path = (bundle / kUramBlob).string();
    m.uram_blob_sha256 = sha;
    m.uram_blob_bytes = static_cast<size_t>(bytes);
}

}  // namespace

std::vector<unsigned char> read_uram_blob(const Manifest& m) {
    const std::string& path = m.uram_blob_path;
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) throw std::runtime_error(path + ": cannot read the URAM weights the kernel loads at start (" + ec.message() + ")");
    if (size != m.uram_blob_bytes)
        throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, the manifest says " +
                                 std::to_string(m.uram_blob_bytes) + "; compile the model again");
    std::ifstream f(path, std::ios::binary);
    std::vector<unsigned char> data(m.uram_blob_bytes);
    if (!f.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size())))
        throw std::runtime_error(path + ": cannot read " + std::to_string(data.size()) + " bytes");
    if (sha256_hex(data.data(), data.size()) != m.uram_blob_sha256)
        throw std::runtime_error(path + ": sha256 differs from the manifest's uram_load.sha256; the bundle was changed "
                                 "after compiling, compile it again");
    return data;
}

Manifest load_manifest(const std::string& bundle_dir) {
    fs::path bundle(bundle_dir);
    std::error_code ec;
    if (!fs::is_directory(bundle, ec))
        throw std::runtime_error(bundle_dir + ": not a bundle directory (expected NAME.fpga/ written by fpga-accel compile)");
    fs::path mpath = bundle / "manifest.json";
    if (!fs::is_regular_file(mpath, ec))
        throw std::runtime_error(mpath.string() + ": missing; " + bundle_dir + " is not a compiled bundle");
    check_manifest_seal(mpath.string());
    Json j = Json::parse_file(mpath.string());
    const std::string where = mpath.string();
    Manifest m;
    m.bundle_dir = bundle.string();
    try {
        m.model_name = j.get("model").get("name").is_string() ? j.get("model").get("name").str() : bundle.stem().string();
        const Json& hw = j.at("hardware");
        const auto& ins = hw.at("inputs").items("hardware.inputs");
        for (size_t i = 0; i < ins.size(); ++i) m.inputs.push_back(tensor_info(ins[i], "hardware.inputs[" + std::to_string(i) + "]"));
        const auto& outs = hw.at("outputs").items("hardware.outputs");
        for (size_t i = 0; i < outs.size(); ++i) m.outputs.push_back(tensor_info(outs[i], "hardware.outputs[" + std::to_string(i) + "]"));

        if (!j.has("kernel") && j.get("segments").is_object())
            throw std::runtime_error("the bundle holds " + std::to_string(j.get("segments").get("list").items("segments.list").size()) +
                                     " dataflow segments with host steps between them; each segment's kernel runs "
                                     "through the C API's fa_host_open_segment (the Python runtime's native backend "
                                     "chains them with the host steps)");
        if (!j.has("kernel"))
            throw std::runtime_error("no \"kernel\" entry: compile the model with the OpenCL or HLS generator");
        const Json& k = j.at("kernel");
        m.kernel_name = k.get("name").is_string() ? k.get("name").str() : "fa_kernel";
        if (k.get("mem_word_bytes").is_number()) {
            int64_t w = k.get("mem_word_bytes").integer("kernel.mem_word_bytes");
            if (w < 1) throw std::runtime_error("kernel.mem_word_bytes is " + std::to_string(w) + "; expected a positive size");
            m.mem_word_bytes = static_cast<size_t>(w);
        }
        const auto& args = k.at("args").items("kernel.args");
        for (size_t i = 0; i < args.size(); ++i) {
            std::string aw = "kernel.args[" + std::to_string(i) + "]";
            KernelArg a;
            a.name = args[i].at("name").str(aw + ".name");
            a.kind_name = args[i].at("kind").str(aw + ".kind");
            if (args[i].get("direction").is_string()) a.direction = args[i].get("direction").str();
            if (args[i].get("tensor").is_string()) a.tensor = args[i].get("tensor").str();
            if (args[i].get("dtype").is_string()) a.dtype = DType::from_name(args[i].get("dtype").str());
            if (args[i].get("role").is_string()) a.role = args[i].get("role").str();
            if (a.is_load() && a.kind_name == "m_axi") {
                a.kind = KernelArg::Kind::Weights;
            } else if (a.kind_name == "m_axi") {
                a.kind = KernelArg::Kind::Buffer;
                if (a.direction != "in" && a.direction != "out")
                    throw std::runtime_error(aw + ".direction is '" + a.direction + "'; expected \"in\" or \"out\"");
                if (a.dtype.size == 0) throw std::runtime_error(aw + " has no dtype");
                a.per_image_bytes = m.tensor(a.tensor).image_elems() * a.dtype.size;
            } else if (a.kind_name == "scalar") {
                a.kind = KernelArg::Kind::Scalar;
                if (a.dtype.name.empty()) a.dtype = DType::from_name("uint32");
            } else if (a.kind_name == "scratch") {
                a.kind = KernelArg::Kind::Scratch;
                scratch_size(a, args[i], aw);
            } else {
                throw std::runtime_error(aw + ".kind is '" + a.kind_name + "'; this host sets m_axi, scalar and scratch arguments");
            }
            m.args.push_back(a);
        }
        for (const char* dir : {"in", "out"}) {
            bool want_in = std::string(dir) == "in";
            const auto& list = want_in ? m.inputs : m.outputs;
            for (const auto& t : list) {
                bool found = std::any_of(m.args.begin(), m.args.end(), [&](const KernelArg& a) {
                    return a.kind == KernelArg::Kind::Buffer && a.tensor == t.name && a.direction == dir;
                });
                if (!found) throw std::runtime_error("hardware tensor '" + t.name + "' has no kernel argument");
            }
        }
        uram_section(m, j, bundle);
        for (const auto& opt : j.get("opencl").get("build_options").is_array() ? j.get("opencl").get("build_options").items()
                                                                                : std::vector<Json>{})
            m.build_options.push_back(opt.str("opencl.build_options[]"));
    } catch (const std::exception& e) {
        std::string msg = e.what();
        if (msg.rfind(where, 0) == 0) throw;
        throw std::runtime_error(where + ": " + msg);
    }
    std::string kernel_rel = j.get("opencl").get("kernel").is_string() ? j.get("opencl").get("kernel").str() : "opencl/fa_kernel.cl";
    if (fs::is_regular_file(bundle / kernel_rel, ec)) m.source_path = (bundle / kernel_rel).string();
    m.binary_path = first_binary(bundle / "bitstream");
    check_hash(j.get("files"), bundle, m.source_path);
    check_hash(j.get("files"), bundle, m.binary_path);
    if (!m.binary_path.empty()) check_bitstream_record(bundle, j);
    return m;
}

Manifest load_segment_manifest(const std::string& bundle_dir, size_t segment) {
    fs::path bundle(bundle_dir);
    fs::path mpath = bundle / "manifest.json";
    std::error_code ec;
    if (!fs::is_regular_file(mpath, ec))
        throw std::runtime_error(mpath.string() + ": missing; " + bundle_dir + " is not a compiled bundle");
    check_manifest_seal(mpath.string());
    Json j = Json::parse_file(mpath.string());
    const Json& list = j.get("segments").get("list");
    if (!list.is_array())
        throw std::runtime_error(mpath.string() + ": the bundle is one dataflow design, not several segments; open it "
                                 "with fa_host_open");
    size_t n = list.items().size();
    if (segment >= n)
        throw std::runtime_error(mpath.string() + ": the bundle has " + std::to_string(n) + " segments; there is no "
                                 "segment " + std::to_string(segment));
    // the path comes from the index alone, never from the manifest's text
    std::string rel = "segments/" + std::to_string(segment);
    fs::path sub = bundle / rel;
    if (!j.get("files").get(rel + "/manifest.json").is_string())
        throw std::runtime_error(mpath.string() + ": lists no " + rel + "/manifest.json among its files; compile the "
                                 "model again");
    check_hash(j.get("files"), bundle, (sub / "manifest.json").string());  // the segment is this model's
    Manifest m = load_manifest(sub.string());
    std::string binary = first_binary(bundle / "bitstream");
    if (!binary.empty()) {
        check_hash(j.get("files"), bundle, binary);
        check_bitstream_record(bundle, j);
        m.binary_path = binary;
    }
    return m;
}

}  // namespace fa
