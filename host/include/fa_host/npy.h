// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0; C order, little-endian
// or single-byte integer and float dtypes). Enough for the hardware integers the kernel takes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fa {

// A dtype by its NumPy name ("int8", "uint8", "int16", ...) and element size.
struct DType {
    std::string name;
    size_t size = 0;
    // "|i1", "<u2", ... for the .npy header; throws for a name this reader does not know.
    std::string descr() const;
    static DType from_name(const std::string& name);   // "int8" -> {int8, 1}
    static DType from_descr(const std::string& descr);  // "|i1" -> {int8, 1}; names the descr when unknown
};

struct NpyArray {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<unsigned char> data;  // count() * dtype.size bytes, C order

    size_t count() const;
    std::string shape_str() const;  // "(4, 28, 28, 1)" like NumPy
};

// Throws std::runtime_error naming the file and what is wrong (not an .npy, Fortran order, ...).
NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const NpyArray& array);

}  // namespace fa
