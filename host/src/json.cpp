#include "fa_host/json.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fa {

static const char* kind_name(Json::Kind k) {
    switch (k) {
        case Json::Kind::Null: return "null";
        case Json::Kind::Bool: return "a boolean";
        case Json::Kind::Number: return "a number";
        case Json::Kind::String: return "a string";
        case Json::Kind::Array: return "an array";
        case Json::Kind::Object: return "an object";
    }
    return "?";
}

class JsonParser {
public:
    JsonParser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

    Json document() {
        Json v = value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    const std::string& s_;
    std::string where_;
    size_t pos_ = 0;
    static constexpr int kMaxDepth = 256;

    [[noreturn]] void fail(const std::string& msg) const {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
            if (s_[i] == '\n') { ++line; col = 1; } else { ++col; }
        }
        std::ostringstream o;
        o << where_ << ":" << line << ":" << col << ": invalid JSON: " << msg;
        throw std::runtime_error(o.str());
    }

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }

    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

    void expect(const char* word) {
        for (const char* c = word; *c; ++c, ++pos_)
            if (pos_ >= s_.size() || s_[pos_] != *c) fail(std::string("expected '") + word + "'");
    }

    Json value(int depth) {
        if (depth > kMaxDepth) fail("nested too deeply");
        skip_ws();
        Json v;
        char c = peek();
        if (c == '{') {
            v.kind_ = Json::Kind::Object;
            ++pos_;
            skip_ws();
            if (peek() == '}') { ++pos_; return v; }
            for (;;) {
                skip_ws();
                if (peek() != '"') fail("expected a string key");
                std::string key = string();
                skip_ws();
                if (peek() != ':') fail("expected ':' after a key");
                ++pos_;
                Json item = value(depth + 1);
                auto found = v.index_.find(key);
                if (found != v.index_.end()) {
                    v.items_[found->second] = std::move(item);  // the last duplicate wins, as in Python
                } else {
                    v.index_[key] = v.items_.size();
                    v.keys_.push_back(key);
                    v.items_.push_back(std::move(item));
                }
                skip_ws();
                if (peek() == ',') { ++pos_; continue; }
                if (peek() == '}') { ++pos_; return v; }
                fail("expected ',' or '}' in an object");
            }
        }
        if (c == '[') {
            v.kind_ = Json::Kind::Array;
            ++pos_;
            skip_ws();
            if (peek() == ']') { ++pos_; return v; }
            for (;;) {
                v.items_.push_back(value(depth + 1));
                skip_ws();
                if (peek() == ',') { ++pos_; continue; }
                if (peek() == ']') { ++pos_; return v; }
                fail("expected ',' or ']' in an array");
            }
        }
        if (c == '"') { v.kind_ = Json::Kind::String; v.text_ = string(); return v; }
        if (c == 't') { expect("true"); v.kind_ = Json::Kind::Bool; v.bool_ = true; return v; }
        if (c == 'f') { expect("false"); v.kind_ = Json::Kind::Bool; return v; }
        if (c == 'n') { expect("null"); return v; }
        if (c == '-' || (c >= '0' && c <= '9')) { v.kind_ = Json::Kind::Number; v.text_ = number(); return v; }
        if (c == 'N' || c == 'I') fail("NaN and Infinity are not JSON");
        fail(pos_ >= s_.size() ? "unexpected end of input" : std::string("unexpected character '") + c + "'");
    }

    std::string number() {
        size_t start = pos_;
        auto digits = [&] {
            size_t d = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == d) fail("expected a digit");
        };
        if (peek() == '-') ++pos_;
        if (peek() == '0') ++pos_; else digits();
        if (peek() == '.') { ++pos_; digits(); }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            digits();
        }
        return s_.substr(start, pos_ - start);
    }

    unsigned hex4() {
        unsigned v = 0;
        for (int i = 0; i < 4; ++i, ++pos_) {
            char h = peek();
            v <<= 4;
            if (h >= '0' && h <= '9') v |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') v |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= unsigned(h - 'A' + 10);
            else fail("bad \\u escape");
        }
        return v;
    }

    static void utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) { out += char(cp); }
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        }
    }

    std::string string() {
        ++pos_;  // opening quote
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') { out += c; continue; }
            char e = peek();
            ++pos_;
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && peek() == '\\' && pos_ + 1 < s_.size() && s_[pos_ + 1] == 'u') {
                        pos_ += 2;
                        unsigned lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    utf8(out, cp);
                    break;
                }
                default: --pos_; fail("bad escape in a string");
            }
        }
    }
};

Json Json::parse(const std::string& text, const std::string& where) { return JsonParser(text, where).document(); }

Json Json::parse_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
    std::ostringstream buf;
    buf << f.rdbuf();
    return parse(buf.str(), path);
}

static std::runtime_error wrong(const std::string& what, const char* want, Json::Kind got) {
    return std::runtime_error(what + " should be " + want + ", not " + kind_name(got));
}

const std::string& Json::str(const std::string& what) const {
    if (kind_ != Kind::String) throw wrong(what, "a string", kind_);
    return text_;
}

int64_t Json::integer(const std::string& what) const {
    if (kind_ != Kind::Number) throw wrong(what, "an integer", kind_);
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text_.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') throw std::runtime_error(what + " should be an integer, not " + text_);
    return v;
}

double Json::number(const std::string& what) const {
    if (kind_ != Kind::Number) throw wrong(what, "a number", kind_);
    return std::strtod(text_.c_str(), nullptr);
}

bool Json::boolean(const std::string& what) const {
    if (kind_ != Kind::Bool) throw wrong(what, "a boolean", kind_);
    return bool_;
}

const std::vector<Json>& Json::items(const std::string& what) const {
    if (kind_ != Kind::Array) throw wrong(what, "an array", kind_);
    return items_;
}

bool Json::has(const std::string& key) const { return kind_ == Kind::Object && index_.count(key) > 0; }

const Json& Json::at(const std::string& key) const {
    if (kind_ != Kind::Object) throw wrong("the value holding '" + key + "'", "an object", kind_);
    auto it = index_.find(key);
    if (it == index_.end()) throw std::runtime_error("missing key '" + key + "'");
    return items_[it->second];
}

const Json& Json::get(const std::string& key) const {
    static const Json null_value;
    if (kind_ != Kind::Object) return null_value;
    auto it = index_.find(key);
    return it == index_.end() ? null_value : items_[it->second];
}

}  // namespace fa
