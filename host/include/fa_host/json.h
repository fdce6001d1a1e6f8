// A small JSON reader: enough for manifest.json (objects, arrays, strings, numbers, booleans, null).
// Strict RFC 8259 syntax; numbers keep their text so 64-bit integers survive; \uXXXX escapes decode
// to UTF-8. Errors name the file, line and column.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fa {

class Json {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };

    Json() = default;
    static Json parse(const std::string& text, const std::string& where = "<json>");
    static Json parse_file(const std::string& path);

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::Null; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_number() const { return kind_ == Kind::Number; }
    bool is_array() const { return kind_ == Kind::Array; }
    bool is_object() const { return kind_ == Kind::Object; }

    // Typed access; a wrong kind throws std::runtime_error naming `what`.
    const std::string& str(const std::string& what = "value") const;
    int64_t integer(const std::string& what = "value") const;
    double number(const std::string& what = "value") const;
    bool boolean(const std::string& what = "value") const;
    const std::vector<Json>& items(const std::string& what = "value") const;

    // Object members: has(), at() (throws naming the key), get() (null Json when absent).
    bool has(const std::string& key) const;
    const Json& at(const std::string& key) const;
    const Json& get(const std::string& key) const;
    const std::vector<std::string>& keys() const { return keys_; }  // in file order

private:
    friend class JsonParser;
    Kind kind_ = Kind::Null;
    bool bool_ = false;
    std::string text_;  // string value, or the number's literal
    std::vector<Json> items_;
    std::vector<std::string> keys_;
    std::map<std::string, size_t> index_;  // key -> position in items_
};

}  // namespace fa
