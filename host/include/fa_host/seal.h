// The seal fpga-accel writes into manifest.json: its own sha256, and an HMAC when signed.
#pragma once

#include <string>

namespace fa {

// Why the manifest bytes carry no valid seal (or signature, when $FPGA_ACCEL_BUNDLE_KEY is set);
// empty when they do.
std::string seal_problem(const std::string& raw);

// Throws std::runtime_error naming the file when seal_problem finds a problem.
void check_manifest_seal(const std::string& path);

}  // namespace fa
