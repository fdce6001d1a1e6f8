// The manifest's seal (fpga_accel/bundle_seal.py): manifest.json opens with
//   {\n  "manifest_sha256": "<64 hex>",\n  "manifest_hmac": "<64 hex or empty>",\n
// and both values are computed over the file's bytes with them blanked (64 zeros, empty).
#include "fa_host/seal.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "fa_host/sha256.h"

namespace fa {
namespace {

const std::string kHead1 = "{\n  \"manifest_sha256\": \"";
const std::string kHead2 = "\",\n  \"manifest_hmac\": \"";
const std::string kHead3 = "\",\n";

bool is_hex(const std::string& s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

// HMAC-SHA256 (RFC 2104) over sha256_hex, lower-case hex.
std::string hmac_sha256_hex(std::string key, const std::string& msg) {
    const size_t block = 64;
    if (key.size() > block) key = unhex(sha256_hex(key.data(), key.size()));
    key.resize(block, '\0');
    std::string ipad(block, '\0'), opad(block, '\0');
    for (size_t i = 0; i < block; ++i) {
        ipad[i] = static_cast<char>(key[i] ^ 0x36);
        opad[i] = static_cast<char>(key[i] ^ 0x5c);
    }
    std::string inner = ipad + msg;
    std::string outer = opad + unhex(sha256_hex(inner.data(), inner.size()));
    return sha256_hex(outer.data(), outer.size());
}

}  // namespace

std::string seal_problem(const std::string& raw) {
    const size_t d0 = kHead1.size();
    if (raw.compare(0, d0, kHead1) != 0 || raw.size() < d0 + 64 + kHead2.size())
        return "it carries no seal (its first lines are not the manifest_sha256 and manifest_hmac fields)";
    std::string digest = raw.substr(d0, 64);
    size_t h0 = d0 + 64;
    if (!is_hex(digest) || raw.compare(h0, kHead2.size(), kHead2) != 0)
        return "it carries no seal (its first lines are not the manifest_sha256 and manifest_hmac fields)";
    h0 += kHead2.size();
    size_t mac_len = raw.compare(h0, kHead3.size(), kHead3) == 0 ? 0 : 64;
    std::string mac = raw.substr(h0, mac_len);
    if (!is_hex(mac) || raw.compare(h0 + mac_len, kHead3.size(), kHead3) != 0)
        return "it carries no seal (its first lines are not the manifest_sha256 and manifest_hmac fields)";
    std::string blank = kHead1 + std::string(64, '0') + kHead2 + kHead3 + raw.substr(h0 + mac_len + kHead3.size());
    if (sha256_hex(blank.data(), blank.size()) != digest) return "its sha256 differs from the one it records";
    const char* key = std::getenv("FPGA_ACCEL_BUNDLE_KEY");
    if (key != nullptr && *key != '\0') {
        if (mac.empty()) return "it is not signed, and FPGA_ACCEL_BUNDLE_KEY is set (only signed bundles are accepted)";
        if (hmac_sha256_hex(key, blank) != mac)
            return "its signature does not match the key in FPGA_ACCEL_BUNDLE_KEY (signed with another key, or changed)";
    }
    return "";
}

void check_manifest_seal(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw std::runtime_error(path + ": cannot be read");
    if (f.tellg() > std::streamoff(64) << 20)  // the Python loader's bound too
        throw std::runtime_error(path + ": over 64 MiB, not a manifest fpga-accel writes");
    f.seekg(0);
    std::ostringstream ss;
    ss << f.rdbuf();
    std::string why = seal_problem(ss.str());
    if (!why.empty())
        throw std::runtime_error(path + ": the manifest was changed after compilation (" + why +
                                 "); compile the model again");
}

}  // namespace fa
