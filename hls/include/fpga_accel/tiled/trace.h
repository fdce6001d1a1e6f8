// fpga-accel HLS library, tiled engine: the stage trace the timed simulation replays (C simulation
// only). Every macro here compiles to nothing unless FA_TILED_TRACE is defined, and synthesis never
// defines it.
//
// The engine's stage functions open a scope at their start:
//   FA_TILED_TRACE_STAGE(unit, reads, writes, span)   unit: LOAD, COMPUTE or STORE; reads / writes:
//                                                     the on-chip buffer half it reads / fills (0: none)
//   FA_TILED_TRACE_LAYER(i)                           the layer loop: tables, constants, streaming layers
//   FA_TILED_TRACE_RUN(desc, n, weights, n, acts, n)  one engine call (one image): the three arenas
//   FA_TILED_TRACE_ACCESS(ptr, bytes, write)          every DDR access (memory.h, the record reads)
//   FA_TILED_TRACE_ACCESS_VIA(ptr, bytes, write, b)   the same, made through the arena's second master
//                                                     when b (a split engine, top.h FA_TILED_SPLIT)
// and the trace keeps one event per stretch of a scope: its layer, unit, spatial tile, buffers, the
// FA_CYCLE iterations it ran and the DDR runs it moved (maximal runs of consecutive bytes one
// stretch reads or writes through one port; the replay cuts them into AXI bursts). Ports are the
// engine's masters, numbered as fpga_accel/tiled/ddr.py numbers them: descriptors, weights,
// activations, the second weights and second activations masters of a split engine, then P_OTHER
// for an address in no arena. A second master's pointer aliases its arena in C simulation, so the
// address cannot tell the masters apart: its reads say so themselves (the _VIA form). An inner scope
// ends the outer one's stretch, which starts again after it, so the events are in program order and
// every access and iteration belongs to exactly one event. fpga_accel/sim/tiled_replay.py replays
// them with the ping-pong dependencies and a DDR model (docs/simulation.md).
#ifndef FA_TILED_TRACE_H
#define FA_TILED_TRACE_H

#ifdef FA_TILED_TRACE

#include <stdint.h>

#include <vector>

#include "fpga_accel/types.h"

namespace fa {
namespace tiled {
namespace trace {

enum Unit { CONTROL = 0, LAYER = 1, LOAD = 2, COMPUTE = 3, STORE = 4, IMAGE = 5 };
enum Port { P_DESC = 0, P_WEIGHTS = 1, P_ACTS = 2, P_WEIGHTS_B = 3, P_ACTS_B = 4, P_OTHER = 5, N_PORTS = 6 };

struct Event {
    int32_t layer, unit, r0, q0;  // r0 = q0 = -1 outside a spatial tile
    uint64_t reads, writes;       // buffer halves (their addresses; 0: none)
    uint64_t iterations;          // FA_CYCLE + FA_MOVE iterations (one a cycle: the stretch's time)
    uint64_t first_run, runs;     // its runs: [first_run, first_run + runs)
    uint64_t moves;               // the FA_MOVE ones among them (data moved, not computed)
};

struct Run {
    uint32_t port, write;
    uint64_t offset, bytes;  // offset from the arena's base
};

struct Frame {
    int32_t unit, r0, q0;
    uint64_t reads, writes;
};

struct State {
    std::vector<Event> events;
    std::vector<Run> runs;
    std::vector<Frame> stack;
    const uint8_t* base[3];
    uint64_t size[3];
    Run open[N_PORTS][2];  // the run each port and direction is extending; bytes == 0: none
    uint64_t since;      // FA_CYCLE + FA_MOVE count when the current stretch began
    uint64_t since_moves;  // FA_MOVE count then
    uint64_t first_run;  // the current stretch's first run
    uint64_t limit;  // most events and most runs kept (0: no limit); past it the trace stops growing
    int32_t layer;
    bool on, overflow;
};

inline State& state() {
    static State s = State();
    return s;
}

inline void flush(State& s, int port, int write) {
    Run& r = s.open[port][write];
    if (r.bytes && !s.overflow) {
        if (s.limit && s.runs.size() >= s.limit) s.overflow = true;
        else s.runs.push_back(r);
    }
    r.bytes = 0;
}

// End the current stretch (an event when it ran iterations or moved bytes) and start the next one.
inline void cut(State& s) {
    for (int p = 0; p < N_PORTS; p++)
        for (int w = 0; w < 2; w++) flush(s, p, w);
    const uint64_t now = sim::cycles() + sim::moves(), n = s.runs.size() - s.first_run;  // a stretch's iterations: compute and data moves
    if ((now != s.since || n) && !s.stack.empty() && !s.overflow) {
        if (s.limit && s.events.size() >= s.limit) s.overflow = true;
        const Frame& f = s.stack.back();
        const Event e = {s.layer, f.unit, f.r0, f.q0, f.reads, f.writes, now - s.since, s.first_run, n,
                         sim::moves() - s.since_moves};
        if (!s.overflow) s.events.push_back(e);
    }
    s.since = now;
    s.since_moves = sim::moves();
    s.first_run = s.runs.size();
}

struct Scope {
    bool on;
    Scope(int unit, const void* reads, const void* writes, int r0, int q0) : on(state().on) {
        if (!on) return;
        State& s = state();
        cut(s);
        const Frame f = {unit, r0, q0, (uint64_t)(uintptr_t)reads, (uint64_t)(uintptr_t)writes};
        s.stack.push_back(f);
    }
    ~Scope() {
        if (!on) return;
        State& s = state();
        cut(s);
        if (!s.stack.empty()) s.stack.pop_back();
    }
};

inline int enter_layer(int i) {
    State& s = state();
    if (s.on) {
        s.layer = i;
        cut(s);  // the layer's record read ends here, counted with the layer
    }
    return LAYER;
}

struct LayerScope : Scope {
    explicit LayerScope(int i) : Scope(enter_layer(i), 0, 0, -1, -1) {}
};

// An access at `at`; `second`: made through the second master of the arena it falls in.
inline void access(const void* at, uint64_t bytes, int write, bool second = false) {
    State& s = state();
    if (!s.on) return;
    const uint8_t* p = (const uint8_t*)at;
    int port = P_OTHER;
    uint64_t off = (uint64_t)(uintptr_t)p;
    for (int k = 0; k < 3; k++) {
        if (s.base[k] && p >= s.base[k] && p < s.base[k] + s.size[k]) {
            port = k;
            off = (uint64_t)(p - s.base[k]);
            break;
        }
    }
    if (second && port == P_WEIGHTS) port = P_WEIGHTS_B;
    if (second && port == P_ACTS) port = P_ACTS_B;
    const int w = write ? 1 : 0;
    Run& r = s.open[port][w];
    if (r.bytes && r.offset + r.bytes == off) {
        r.bytes += bytes;
        return;
    }
    flush(s, port, w);
    r.port = (uint32_t)port;
    r.write = (uint32_t)w;
    r.offset = off;
    r.bytes = bytes;
}

// One engine call: the arenas, an IMAGE marker, then the control stretch (header and record reads).
inline void run(const void* desc, uint64_t desc_bytes, const void* weights, uint64_t weights_bytes, const void* acts,
                uint64_t act_bytes) {
    State& s = state();
    if (!s.on) return;
    cut(s);
    s.stack.clear();
    s.base[P_DESC] = (const uint8_t*)desc;
    s.base[P_WEIGHTS] = (const uint8_t*)weights;
    s.base[P_ACTS] = (const uint8_t*)acts;
    s.size[P_DESC] = desc_bytes;
    s.size[P_WEIGHTS] = weights_bytes;
    s.size[P_ACTS] = act_bytes;
    s.layer = -1;
    const Event e = {-1, IMAGE, -1, -1, 0, 0, 0, s.runs.size(), 0, 0};
    if (!s.overflow) s.events.push_back(e);
    const Frame f = {CONTROL, -1, -1, 0, 0};
    s.stack.push_back(f);
    s.since = sim::cycles() + sim::moves();
    s.since_moves = sim::moves();
    s.first_run = s.runs.size();
}

}  // namespace trace
}  // namespace tiled
}  // namespace fa

#define FA_TILED_TRACE_CAT2(a, b) a##b
#define FA_TILED_TRACE_CAT(a, b) FA_TILED_TRACE_CAT2(a, b)
#define FA_TILED_TRACE_STAGE(unit, reads, writes, span)                                                        \
    ::fa::tiled::trace::Scope FA_TILED_TRACE_CAT(fa_tiled_stage_, __LINE__)(::fa::tiled::trace::unit, (reads), \
                                                                           (writes), (span).r0, (span).q0)
#define FA_TILED_TRACE_LAYER(i) ::fa::tiled::trace::LayerScope FA_TILED_TRACE_CAT(fa_tiled_layer_, __LINE__)((int)(i))
#define FA_TILED_TRACE_RUN(desc, desc_bytes, weights, weights_bytes, acts, act_bytes) \
    ::fa::tiled::trace::run((desc), (desc_bytes), (weights), (weights_bytes), (acts), (act_bytes))
#define FA_TILED_TRACE_ACCESS(ptr, bytes, write) ::fa::tiled::trace::access((ptr), (uint64_t)(bytes), (write))
#define FA_TILED_TRACE_ACCESS_VIA(ptr, bytes, write, second) \
    ::fa::tiled::trace::access((ptr), (uint64_t)(bytes), (write), (second))

#else

#define FA_TILED_TRACE_STAGE(unit, reads, writes, span)
#define FA_TILED_TRACE_LAYER(i)
#define FA_TILED_TRACE_RUN(desc, desc_bytes, weights, weights_bytes, acts, act_bytes)
#define FA_TILED_TRACE_ACCESS(ptr, bytes, write)
#define FA_TILED_TRACE_ACCESS_VIA(ptr, bytes, write, second)

#endif  // FA_TILED_TRACE

#endif  // FA_TILED_TRACE_H
