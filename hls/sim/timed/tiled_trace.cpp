// fpga-accel timed simulation of the tiled engine: the engine's C simulation built with
// FA_TILED_TRACE (tiled/trace.h), and the C ABI that hands its stage trace to Python
// (fpga_accel/sim/tiled_build.py builds it, tiled_replay.py replays it).
#include "fpga_accel/tiled/kernel.h"  // fa_tiled_top and the kernel form, as the C simulation builds them

extern "C" {

void fa_tiled_trace_clear() {
    fa::tiled::trace::State& s = fa::tiled::trace::state();
    s.events.clear();
    s.runs.clear();
    s.stack.clear();
    s.first_run = 0;
    s.overflow = false;
}

// Keep at most n events and n runs (0: no limit); fa_tiled_trace_overflow() says whether a run went past it.
void fa_tiled_trace_limit(unsigned long long n) { fa::tiled::trace::state().limit = n; }

int fa_tiled_trace_overflow() { return fa::tiled::trace::state().overflow ? 1 : 0; }

void fa_tiled_trace_enable(int on) { fa::tiled::trace::state().on = on != 0; }

unsigned long long fa_tiled_trace_event_count() { return fa::tiled::trace::state().events.size(); }

// Events as packed records: layer, unit, r0, q0 (i32); reads, writes, iterations, first_run, runs, moves (u64).
const void* fa_tiled_trace_events() { return fa::tiled::trace::state().events.data(); }

unsigned long long fa_tiled_trace_run_count() { return fa::tiled::trace::state().runs.size(); }

// Runs as packed records: port, write (u32); offset, bytes (u64).
const void* fa_tiled_trace_runs() { return fa::tiled::trace::state().runs.data(); }

}  // extern "C"
