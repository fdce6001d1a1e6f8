// fpga-accel timed simulation: the trace of a C-simulation run and its replay with bounded FIFOs.
//
// Compiled into the traced build of a generated project (with hls_stream.h of this directory). The
// C ABI below hands the trace to Python, which cuts it into processes (one per DATAFLOW process:
// the stages of the region and the two loops of each m_axi adapter), and replays it here:
//
//   Each process p has a local clock T and replays its accesses in program order. An access made
//   in FA_CYCLE iteration i follows the previous one (made in iteration c at time T) at T + (i - c):
//   one iteration per cycle (II = 1). A read of word j of stream s waits for the word: T >= W[s][j]
//   + 1; a write of word j into a FIFO of depth D waits for its slot: T >= R[s][j - D] + 1. A stall
//   delays every later iteration of the process (the pipeline stops as a whole). A process whose next
//   access waits for a word or a slot no process will produce is blocked; when every unfinished
//   process is blocked the network has deadlocked.
//
// Words go to and come from the host without waiting (a stream with writer -1 has every word ready;
// a FIFO of depth 0 never fills). Pipeline latency inside a loop (the cycles between an iteration's
// read and its result) is not modelled: it adds a few cycles of latency per process, not throughput.
#include <stdint.h>

#include <memory>
#include <vector>

#include "hls_stream.h"

#include "fpga_accel/types.h"

extern "C" {

void fa_timed_clear() {
    fa::timed::trace& t = fa::timed::log();
    t.events.clear();
    t.names.clear();
}

void fa_timed_enable(int on) { fa::timed::log().on = on != 0; }

unsigned long long fa_timed_now() { return fa::sim::cycles(); }

unsigned long long fa_timed_event_count() { return fa::timed::log().events.size(); }

// The events as packed (count u64, stream u32, write u32) records.
const void* fa_timed_events() { return fa::timed::log().events.data(); }

int fa_timed_stream_count() { return (int)fa::timed::log().names.size(); }

const char* fa_timed_stream_name(int i) {
    const fa::timed::trace& t = fa::timed::log();
    return i >= 0 && i < (int)t.names.size() ? t.names[i].c_str() : 0;
}

// Cut, first pass: drop the host's ends of the beat streams (drop_write[s] / drop_read[s]) and give
// each remaining access its stage: the count lies in (stage_ends[k - 1], stage_ends[k]] (stage_ends[-1]
// is `start`). The counts only grow in one run (the stages run one after another), so one pointer
// walks the stages. Out: the kept accesses (stream, write, count) and per stage the index of its
// first one (bounds, n_stages + 1 values). Returns the number kept, -1 for an access outside every
// stage, -2 for counts out of order (the caller then cuts in numpy).
int64_t fa_timed_cut(const void* events, int64_t n, const uint8_t* drop_write, const uint8_t* drop_read,
                     uint64_t start, const uint64_t* stage_ends, int n_stages, int32_t* out_stream,
                     uint8_t* out_write, int64_t* out_count, int64_t* bounds) {
    const fa::timed::event* ev = (const fa::timed::event*)events;
    int64_t kept = 0;
    int k = 0;
    uint64_t last = 0;
    bounds[0] = 0;
    for (int64_t e = 0; e < n; e++) {
        const fa::timed::event& x = ev[e];
        if (x.write ? drop_write[x.stream] : drop_read[x.stream]) continue;
        if (x.count <= start || n_stages == 0 || x.count > stage_ends[n_stages - 1]) return -1;
        if (x.count < last) return -2;
        last = x.count;
        while (x.count > stage_ends[k]) bounds[++k] = kept;
        out_stream[kept] = (int32_t)x.stream;
        out_write[kept] = (uint8_t)x.write;
        out_count[kept] = (int64_t)x.count;
        kept++;
    }
    while (k < n_stages) bounds[++k] = kept;
    return kept;
}

// Cut, last pass: the process at each end of every stream (writer / reader, -1: none). Returns -1, or
// e for the first access e of a stream another process already reads or writes at that end (the
// caller names both).
int64_t fa_timed_ends(int n_proc, const int64_t* proc_off, const int32_t* ev_stream, const uint8_t* ev_write,
                      int32_t* writer, int32_t* reader) {
    for (int p = 0; p < n_proc; p++) {
        for (int64_t e = proc_off[p]; e < proc_off[p + 1]; e++) {
            int32_t& who = (ev_write[e] ? writer : reader)[ev_stream[e]];
            if (who == -1) who = p;
            else if (who != p) return e;
        }
    }
    return -1;
}

// Replay. Process p owns events [proc_off[p], proc_off[p + 1]) and runs proc_iters[p] iterations;
// event e accesses stream ev_stream[e] (write if ev_write[e]) in iteration ev_iter[e] (1-based).
// Out: ev_time[e], the cycle of each access; per process 6 values in proc_out: end cycle, cycles
// stalled on reads (starved), on writes (blocked), state (0 finished, 1 waiting for a word, 2 waiting
// for a slot), the stream it waits on (-1), the cycle it waits from; per stream 2 values in
// stream_out: the most words it held at once, the words written. Returns 0, or 1 on deadlock.
int fa_timed_replay(int n_proc, const int64_t* proc_off, const int64_t* proc_iters, const int32_t* ev_stream,
                    const uint8_t* ev_write, const int64_t* ev_iter, int n_streams, const int64_t* depth,
                    const int32_t* writer, const int32_t* reader, int64_t* ev_time, int64_t* proc_out,
                    int64_t* stream_out) {
    // word times per stream
    std::vector<int64_t> n_w(n_streams, 0), n_r(n_streams, 0);
    for (int64_t e = 0; e < proc_off[n_proc]; e++) (ev_write[e] ? n_w : n_r)[ev_stream[e]]++;
    // one block for all streams' word times, left uninitialised (each slot is written before it is read)
    std::vector<int64_t*> W(n_streams), R(n_streams);
    int64_t total = 0;
    for (int s = 0; s < n_streams; s++) total += n_w[s] + n_r[s];
    std::unique_ptr<int64_t[]> times(new int64_t[total > 0 ? total : 1]);
    int64_t at = 0;
    for (int s = 0; s < n_streams; s++) {
        W[s] = times.get() + at;
        at += n_w[s];
        R[s] = times.get() + at;
        at += n_r[s];
    }
    std::vector<int64_t> done_w(n_streams, 0), done_r(n_streams, 0);

    struct proc {
        int64_t cur, end, T, c, starved, blocked;
        int wait;  // stream waited on, -1
        int state;
        int64_t wait_from;
    };
    std::vector<proc> P(n_proc);
    std::vector<int> ready;
    std::vector<char> queued(n_proc, 1);
    for (int p = 0; p < n_proc; p++) {
        P[p] = proc{proc_off[p], proc_off[p + 1], 0, 0, 0, 0, -1, 0, 0};
        ready.push_back(n_proc - 1 - p);
    }
    int unfinished = n_proc;
    auto wake = [&](int q, int s) {
        if (q >= 0 && P[q].wait == s && !queued[q]) {
            queued[q] = 1;
            ready.push_back(q);
        }
    };
    while (!ready.empty()) {
        const int p = ready.back();
        ready.pop_back();
        queued[p] = 0;
        proc& x = P[p];
        if (x.cur == x.end && x.state == 0 && x.wait == -2) continue;  // already finished
        x.wait = -1;
        while (x.cur < x.end) {
            const int64_t e = x.cur;
            const int s = ev_stream[e];
            int64_t t = x.T + (ev_iter[e] - x.c);
            if (!ev_write[e]) {
                const int64_t j = done_r[s];
                if (writer[s] >= 0) {
                    if (j >= done_w[s]) {  // the word is not written yet
                        x.wait = s, x.state = 1, x.wait_from = t;
                        break;
                    }
                    const int64_t need = W[s][j] + 1;
                    if (need > t) x.starved += need - t, t = need;
                }
                R[s][j] = t;
                done_r[s]++;
                ev_time[e] = t;
                x.T = t, x.c = ev_iter[e], x.cur++;
                wake(writer[s], s);
            } else {
                const int64_t j = done_w[s], d = depth[s];
                if (d > 0 && j >= d) {
                    if (j - d >= done_r[s]) {  // no free slot yet
                        x.wait = s, x.state = 2, x.wait_from = t;
                        break;
                    }
                    const int64_t need = R[s][j - d] + 1;
                    if (need > t) x.blocked += need - t, t = need;
                }
                W[s][j] = t;
                done_w[s]++;
                ev_time[e] = t;
                x.T = t, x.c = ev_iter[e], x.cur++;
                wake(reader[s], s);
            }
        }
        if (x.cur == x.end && x.wait == -1) {
            x.T += proc_iters[p] - x.c;
            x.c = proc_iters[p];
            x.state = 0;
            x.wait = -2;  // finished
            unfinished--;
        }
    }
    for (int s = 0; s < n_streams; s++) {  // occupancy when word j is written: j + 1 minus the reads before
        const int64_t nw = done_w[s], nr = done_r[s];
        int64_t most = 0, k = 0;
        for (int64_t j = 0; j < nw; j++) {
            while (k < nr && R[s][k] < W[s][j]) k++;
            if (j + 1 - k > most) most = j + 1 - k;
        }
        stream_out[2 * s] = most;
        stream_out[2 * s + 1] = nw;
    }
    for (int p = 0; p < n_proc; p++) {
        const proc& x = P[p];
        int64_t* o = proc_out + 6 * p;
        o[0] = x.T, o[1] = x.starved, o[2] = x.blocked;
        o[3] = x.wait == -2 ? 0 : x.state;
        o[4] = x.wait >= 0 ? x.wait : -1;
        o[5] = x.wait >= 0 ? x.wait_from : 0;
    }
    return unfinished > 0 ? 1 : 0;
}

}  // extern "C"
