#include "fa_host/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fa {

namespace {

struct Known { const char* name; const char* descr; size_t size; };
// little-endian descrs; NumPy writes '|' for one-byte types
const Known kKnown[] = {
    {"int8", "|i1", 1},   {"uint8", "|u1", 1},   {"int16", "<i2", 2},   {"uint16", "<u2", 2},
    {"int32", "<i4", 4},  {"uint32", "<u4", 4},  {"int64", "<i8", 8},   {"uint64", "<u8", 8},
    {"float32", "<f4", 4}, {"float64", "<f8", 8}, {"bool", "|b1", 1},
};

const char kMagic[] = "\x93NUMPY";

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
    throw std::runtime_error(path + ": " + msg);
}

// The value of `key` in the header's Python dict literal, as text ("'|u1'", "False", "(4, 10)").
std::string dict_value(const std::string& path, const std::string& header, const std::string& key) {
    std::string quoted = "'" + key + "'";
    size_t k = header.find(quoted);
    if (k == std::string::npos) bad(path, "the .npy header has no " + quoted + " entry");
    size_t colon = header.find(':', k + quoted.size());
    if (colon == std::string::npos) bad(path, "malformed .npy header");
    size_t start = colon + 1;
    while (start < header.size() && header[start] == ' ') ++start;
    size_t end = start;
    if (start < header.size() && header[start] == '(') {
        end = header.find(')', start);
        if (end == std::string::npos) bad(path, "malformed shape in the .npy header");
        ++end;
    } else if (start < header.size() && header[start] == '\'') {
        end = header.find('\'', start + 1);
        if (end == std::string::npos) bad(path, "malformed string in the .npy header");
        ++end;
    } else {
        while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
    }
    std::string v = header.substr(start, end - start);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return v;
}

std::vector<int64_t> parse_shape(const std::string& path, const std::string& text) {
    std::vector<int64_t> shape;
    if (text.size() < 2 || text.front() != '(' || text.back() != ')') bad(path, "malformed shape " + text);
    std::string inner = text.substr(1, text.size() - 2);
    std::istringstream in(inner);
    std::string part;
    while (std::getline(in, part, ',')) {
        size_t a = part.find_first_not_of(" L");
        if (a == std::string::npos) continue;  // the empty part after "(3,)"
        size_t b = part.find_last_not_of(" L");
        std::string digits = part.substr(a, b - a + 1);
        if (digits.find_first_not_of("0123456789") != std::string::npos) bad(path, "malformed shape " + text);
        shape.push_back(std::stoll(digits));
    }
    return shape;
}

}  // namespace

std::string DType::descr() const {
    for (const auto& k : kKnown)
        if (name == k.name) return k.descr;
    throw std::runtime_error("dtype '" + name + "' has no .npy form here");
}

DType DType::from_name(const std::string& name) {
    for (const auto& k : kKnown)
        if (name == k.name) return {k.name, k.size};
    throw std::runtime_error("unknown dtype '" + name + "'");
}

DType DType::from_descr(const std::string& descr) {
    for (const auto& k : kKnown) {
        // '=' (native) and '<' are the same on the little-endian hosts this runs on; '|' for bytes
        std::string d = k.descr;
        if (descr == d || (d[0] == '<' && descr == "=" + d.substr(1)) || (d[0] == '|' && (descr == "<" + d.substr(1) ||
                                                                                          descr == "=" + d.substr(1))))
            return {k.name, k.size};
    }
    if (!descr.empty() && descr[0] == '>') throw std::runtime_error("big-endian dtype '" + descr + "' is not supported; "
                                                                    "save the array little-endian (arr.astype(arr.dtype.newbyteorder('<')))");
    throw std::runtime_error("unsupported dtype '" + descr + "'");
}

size_t NpyArray::count() const {
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    return n;
}

std::string NpyArray::shape_str() const {
    std::ostringstream o;
    o << "(";
    for (size_t i = 0; i < shape.size(); ++i) o << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) o << ",";
    o << ")";
    return o.str();
}

NpyArray read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) bad(path, std::string("cannot open (") + std::strerror(errno) + ")");
    char magic[8] = {};
    f.read(magic, 8);
    if (f.gcount() != 8 || std::memcmp(magic, kMagic, 6) != 0)
        bad(path, "not a .npy file (no \\x93NUMPY magic); save the array with numpy.save");
    int major = static_cast<unsigned char>(magic[6]);
    size_t header_len = 0;
    if (major == 1) {
        unsigned char b[2];
        f.read(reinterpret_cast<char*>(b), 2);
        header_len = b[0] | (size_t(b[1]) << 8);
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        header_len = b[0] | (size_t(b[1]) << 8) | (size_t(b[2]) << 16) | (size_t(b[3]) << 24);
    } else {
        bad(path, "unsupported .npy format version " + std::to_string(major));
    }
    if (!f || header_len > (1u << 24)) bad(path, "truncated .npy header");
    std::string header(header_len, '\0');
    f.read(&header[0], static_cast<std::streamsize>(header_len));
    if (static_cast<size_t>(f.gcount()) != header_len) bad(path, "truncated .npy header");

    NpyArray a;
    std::string descr = dict_value(path, header, "descr");
    if (descr.size() < 2 || descr.front() != '\'') bad(path, "structured dtype " + descr + " is not supported");
    try {
        a.dtype = DType::from_descr(descr.substr(1, descr.size() - 2));
    } catch (const std::exception& e) {
        bad(path, e.what());
    }
    if (dict_value(path, header, "fortran_order") != "False")
        bad(path, "the array is in Fortran order; save a C-ordered array (numpy.ascontiguousarray)");
    a.shape = parse_shape(path, dict_value(path, header, "shape"));
    size_t bytes = a.count() * a.dtype.size;
    a.data.resize(bytes);
    if (bytes) f.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(bytes));
    if (static_cast<size_t>(f.gcount()) != bytes && bytes)
        bad(path, "truncated data: the header promises " + std::to_string(bytes) + " bytes for shape " + a.shape_str() +
                      ", the file holds " + std::to_string(f.gcount()));
    return a;
}

void write_npy(const std::string& path, const NpyArray& a) {
    std::string header = "{'descr': '" + a.dtype.descr() + "', 'fortran_order': False, 'shape': " + a.shape_str() + ", }";
    // pad with spaces so the data starts on a 64-byte boundary, newline last (as NumPy does)
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    if (header.size() > 65535) throw std::runtime_error(path + ": shape too long for a version 1.0 header");
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) bad(path, std::string("cannot write (") + std::strerror(errno) + ")");
    f.write(kMagic, 6);
    const char version[2] = {1, 0};
    f.write(version, 2);
    const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xFF),
                                  static_cast<unsigned char>(header.size() >> 8)};
    f.write(reinterpret_cast<const char*>(len), 2);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    f.write(reinterpret_cast<const char*>(a.data.data()), static_cast<std::streamsize>(a.data.size()));
    if (!f) bad(path, "write failed (disk full?)");
}

}  // namespace fa
