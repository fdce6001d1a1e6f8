// SHA-256 of a file (FIPS 180-4), to check bundle files against manifest["files"].
#pragma once

#include <string>

namespace fa {

// Lower-case hex digest of the file's bytes; throws std::runtime_error when it cannot be read.
std::string sha256_file(const std::string& path);
std::string sha256_hex(const void* data, size_t size);

}  // namespace fa
