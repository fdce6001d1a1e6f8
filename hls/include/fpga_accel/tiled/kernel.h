// fpga-accel HLS library, tiled engine: the Vitis kernel form of the engine (Alveo / Vitis platforms).
// OpenCL and XRT kernels return nothing, so the status `fa_tiled_top` returns on its s_axilite
// register is written to a one-word buffer instead; the OpenCL twin (fpga_accel/tiled/opencl_*.cl)
// has exactly this name and argument list, so one host path drives the twin and the xclbin.
// The status word shares the descriptors' m_axi bundle: it is written once, after the last layer. The
// three arena ports carry top.h's options exactly (their width FA_TILED_AXI_BITS, top.h) (tests/test_tiled_build.py compares them).
// The kernel is never split (FA_TILED_SPLIT is for Zynq boards' HP ports): it passes weights and acts
// again where the engine takes its second masters.
#ifndef FA_TILED_KERNEL_H
#define FA_TILED_KERNEL_H

#include "fpga_accel/tiled/top.h"

extern "C" void fa_tiled_kernel(const uint32_t* desc, uint32_t desc_words, const uint8_t* weights,
                                uint32_t weights_bytes, uint8_t* acts, uint32_t act_bytes, uint32_t* status) {
#pragma HLS INTERFACE mode = m_axi port = desc offset = slave bundle = gmem0 max_read_burst_length = 64
#pragma HLS INTERFACE mode = m_axi port = status offset = slave bundle = gmem0
#pragma HLS INTERFACE mode = m_axi port = weights offset = slave bundle = gmem1 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = m_axi port = acts offset = slave bundle = gmem2 max_read_burst_length = 64 max_write_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = s_axilite port = desc
#pragma HLS INTERFACE mode = s_axilite port = desc_words
#pragma HLS INTERFACE mode = s_axilite port = weights
#pragma HLS INTERFACE mode = s_axilite port = weights_bytes
#pragma HLS INTERFACE mode = s_axilite port = acts
#pragma HLS INTERFACE mode = s_axilite port = act_bytes
#pragma HLS INTERFACE mode = s_axilite port = status
#pragma HLS INTERFACE mode = s_axilite port = return
    status[0] = fa::tiled::TiledEngine<fa_tiled_config>::run(desc, desc_words, weights, weights_bytes, acts,
                                                             act_bytes, weights, acts, fa_tiled_buffers);
}

#endif  // FA_TILED_KERNEL_H
