// fpga-accel timed simulation: hls::stream for the traced C-simulation build (g++ only).
//
// With this directory first on the include path (and FA_TIMED defined) the generated project's
// `#include <hls_stream.h>` gets this stream instead of the untimed model: the same unbounded FIFO
// (the C simulation still runs the processes one after another), and every read and write is
// appended to one trace as (stream, read or write, FA_CYCLE count at that moment). FA_CYCLE opens
// each pipelined loop iteration, so the count says in which iteration of its process the access
// happened. fa_timed.cpp splits the trace into processes and replays it with bounded FIFOs: each
// word carries the cycle it was written, a read waits for it, a write waits for a free slot.
// That replay is exact because no processing element polls a stream (no empty(), full(), read_nb
// or write_nb in hls/include): every process reads and writes the same words in the same
// iterations whatever the timing, so the trace of the untimed run is the trace of the timed one.
#ifndef X_HLS_STREAM_SIM_H  // also keeps the untimed model (same guard) out
#define X_HLS_STREAM_SIM_H
#define FA_TIMED_STREAM_H

#include <stdint.h>

#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace fa {
namespace sim {
inline unsigned long long& cycles();  // types.h: the FA_CYCLE count
}  // namespace sim

namespace timed {

struct event {
    uint64_t count;   // FA_CYCLE count when the access happened
    uint32_t stream;  // index into trace::names
    uint32_t write;   // 1: write, 0: read
};

struct trace {
    std::vector<event> events;
    std::vector<std::string> names;  // per stream, in construction order
    bool on = true;
};

inline trace& log() {
    static trace t;
    return t;
}

}  // namespace timed
}  // namespace fa

namespace hls {

template <typename T>
class stream {
  public:
    stream() { open("stream"); }
    explicit stream(const char* name) { open(name); }
    explicit stream(const std::string& name) { open(name); }

    ~stream() {
        if (!data_.empty() && fa::timed::log().on)
            std::fprintf(stderr, "WARNING: hls::stream '%s' contains leftover data\n", name_.c_str());
    }

    bool empty() { return data_.empty(); }
    bool full() const { return false; }
    size_t size() { return data_.size(); }

    T read() {
        T v = T();
        if (data_.empty()) {
            std::fprintf(stderr, "WARNING: hls::stream '%s' is read while empty\n", name_.c_str());
        } else {
            v = data_.front();
            data_.pop_front();
        }
        note(0);
        return v;
    }
    void read(T& v) { v = read(); }
    void write(const T& v) {
        data_.push_back(v);
        note(1);
    }
    bool read_nb(T& v) {
        if (data_.empty()) return false;
        v = read();
        return true;
    }
    bool write_nb(const T& v) {
        write(v);
        return true;
    }
    void operator>>(T& v) { v = read(); }
    void operator<<(const T& v) { write(v); }

  private:
    stream(const stream&);
    stream& operator=(const stream&);

    void open(const std::string& name) {
        fa::timed::trace& t = fa::timed::log();
        name_ = name;
        id_ = (uint32_t)t.names.size();
        t.names.push_back(name);
    }
    void note(uint32_t write) {
        fa::timed::trace& t = fa::timed::log();
        if (t.on) t.events.push_back(fa::timed::event{fa::sim::cycles(), id_, write});
    }

    std::string name_;
    uint32_t id_;
    std::deque<T> data_;
};

}  // namespace hls

#endif  // X_HLS_STREAM_SIM_H
