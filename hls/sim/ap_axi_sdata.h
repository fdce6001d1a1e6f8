// SPDX-License-Identifier: Apache-2.0
// Copyright the fpga-accel authors.
//
// Simulation-only stand-in for the AXI4-Stream side-channel structs that Vitis HLS ships as
// <ap_axi_sdata.h>. Only what the fpga-accel headers use is modelled: the data, keep, strb,
// user, last, id and dest fields with the same names and widths. Zero-width side channels are
// held in a 1-bit field here (ap_uint<0> does not exist in the simulation types); designs must
// not touch them (Vitis HLS turns them into disabled signals that cannot be assigned). Never put this directory on the include path of a synthesis run: Vitis HLS
// uses its own header, which also maps the struct onto TDATA/TKEEP/TLAST ports.
#ifndef FA_SIM_AP_AXI_SDATA_H
#define FA_SIM_AP_AXI_SDATA_H

#include <ap_int.h>

namespace fa_sim {
template <int N> struct field_width { static const int value = N > 0 ? N : 1; };
}  // namespace fa_sim

template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<fa_sim::field_width<U>::value> user;
    ap_uint<1> last;
    ap_uint<fa_sim::field_width<TI>::value> id;
    ap_uint<fa_sim::field_width<TD>::value> dest;
};

template <int D, int U, int TI, int TD>
struct ap_axis {
    ap_int<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<fa_sim::field_width<U>::value> user;
    ap_uint<1> last;
    ap_uint<fa_sim::field_width<TI>::value> id;
    ap_uint<fa_sim::field_width<TD>::value> dest;
};

#endif  // FA_SIM_AP_AXI_SDATA_H
