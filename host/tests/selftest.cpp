// Unit checks of the parts of libfa_host that need no OpenCL device: the JSON reader, .npy
// reading and writing, SHA-256 and OpenCL error names. Run by ctest (and by tests/test_native_host.py).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fa_host/cl.h"
#include "fa_host/json.h"
#include "fa_host/npy.h"
#include "fa_host/sha256.h"

namespace {

int passed = 0, failed = 0;

void expect(bool ok, const std::string& what) {
    if (ok) { ++passed; return; }
    ++failed;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
}

// f must throw an exception whose message contains `words`.
void expect_throw(const std::function<void()>& f, const std::string& words, const std::string& what) {
    try {
        f();
    } catch (const std::exception& e) {
        expect(std::string(e.what()).find(words) != std::string::npos, what + " (message: " + e.what() + ")");
        return;
    }
    expect(false, what + " (did not throw)");
}

void json_tests() {
    fa::Json j = fa::Json::parse(R"({"a": [1, -2, 3.5e2, true, null], "s": "x\u00e9\n\"", "o": {"k": 9007199254740993}})");
    expect(j.at("a").items().size() == 5, "array size");
    expect(j.at("a").items()[1].integer() == -2, "negative integer");
    expect(j.at("a").items()[2].number() == 350.0, "exponent");
    expect(j.at("a").items()[3].boolean(), "true");
    expect(j.at("a").items()[4].is_null(), "null");
    expect(j.at("s").str() == "x\xc3\xa9\n\"", "escapes and \\u to UTF-8");
    expect(j.at("o").at("k").integer() == 9007199254740993LL, "64-bit integer exact");
    expect(j.keys() == std::vector<std::string>{"a", "s", "o"}, "keys in file order");
    expect(j.get("missing").is_null(), "get of a missing key is null");
    expect_throw([] { fa::Json::parse("{\"a\": 1,}", "m.json"); }, "m.json:1:9", "trailing comma names line and column");
    expect_throw([] { fa::Json::parse("[1, 2", "m.json"); }, "expected ',' or ']'", "unterminated array");
    expect_throw([] { fa::Json::parse("{\"a\": NaN}"); }, "NaN", "NaN refused");
    expect_throw([] { fa::Json::parse("{}").at("kernel"); }, "missing key 'kernel'", "missing key named");
    expect_throw([] { fa::Json::parse("\"x\"").integer("shape[1]"); }, "shape[1] should be an integer", "kind mismatch named");
}

void npy_tests(const std::string& dir) {
    fa::NpyArray a;
    a.dtype = fa::DType::from_name("int16");
    a.shape = {2, 3};
    std::vector<int16_t> v = {-1, 2, -300, 4, 5, 32767};
    a.data.assign(reinterpret_cast<unsigned char*>(v.data()), reinterpret_cast<unsigned char*>(v.data() + v.size()));
    std::string p = dir + "/selftest_a.npy";
    fa::write_npy(p, a);
    fa::NpyArray b = fa::read_npy(p);
    expect(b.dtype.name == "int16" && b.shape == a.shape && b.data == a.data, "npy round trip");
    std::ifstream f(p, std::ios::binary);
    std::string head(10, '\0');
    f.read(&head[0], 10);
    size_t hlen = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
    expect((10 + hlen) % 64 == 0, "data aligned to 64 bytes");
    expect(b.shape_str() == "(2, 3)", "shape text");
    fa::NpyArray one;
    one.dtype = fa::DType::from_name("uint8");
    one.shape = {4};
    one.data = {1, 2, 3, 4};
    expect(one.shape_str() == "(4,)", "1-d shape text");
    std::string q = dir + "/selftest_bad.npy";
    std::ofstream(q) << "not an array";
    expect_throw([&] { fa::read_npy(q); }, "not a .npy file", "garbage refused");
    expect_throw([&] { fa::read_npy(dir + "/does_not_exist.npy"); }, "cannot open", "missing file named");
    expect_throw([] { fa::DType::from_descr(">i2"); }, "big-endian", "big-endian refused");
}

void sha_tests() {
    expect(fa::sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 empty");
    expect(fa::sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 abc");
    std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect(fa::sha256_hex(m.data(), m.size()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
           "sha256 two blocks");
}

void cl_tests() {
    expect(std::string(fa::cl_error_name(CL_OUT_OF_RESOURCES)) == "CL_OUT_OF_RESOURCES", "error name");
    expect(fa::cl_error_name(-9999) == nullptr, "unknown code has no name");
    fa::ClError e("clBuildProgram(k.cl)", CL_BUILD_PROGRAM_FAILURE);
    expect(std::string(e.what()) == "clBuildProgram(k.cl) failed: CL_BUILD_PROGRAM_FAILURE (-11)", "error message");
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = argc > 1 ? argv[1] : ".";
    json_tests();
    npy_tests(dir);
    sha_tests();
    cl_tests();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
