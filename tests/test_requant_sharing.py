"""Time-shared requantisers (requant.h requant_bank, pe/cost.py): how many a PE declares, what they
cost, and what the PEs' models count for them."""
from __future__ import annotations

import math

from fpga_accel.fold import get_board
from fpga_accel.pe.cost import requant_cost, requant_steps, requantisers
from fpga_accel.pe.depthwise import Depthwise
from fpga_accel.pe.mvau import Mvau


def test_fewest_requantisers_that_finish_within_the_period():
    for lanes in range(1, 130):
        for period in range(1, 40):
            rq = requantisers(lanes, period)
            steps = requant_steps(lanes, rq)
            assert 1 <= rq <= lanes
            assert (steps == 0) == (rq == lanes)  # unshared: no extra steps
            assert steps <= period  # a word's steps end before the next completion
            if rq > 1:  # one fewer would need more steps than the period has cycles
                assert math.ceil(lanes / (rq - 1)) > period


def test_cost_counts_the_declared_requantisers_and_their_hold_registers():
    port = get_board("zcu104").dsp_port_bits
    full = requant_cost(64, 24, 8, port)
    shared = requant_cost(64, 24, 8, port, rq=8)
    assert (full.dsp, shared.dsp) == (64, 8)
    # the bank's 64 slots of accumulator, M and shift bits (24 + 17 + 6) and output bits are FFs
    assert shared.ff - requant_cost(8, 24, 8, port).ff == 64 * (24 + 17 + 6 + 8) + 8
    assert shared.lut < full.lut
    assert requant_cost(64, 24, 8, port, rq=64) == full  # RQ = lanes is the unshared datapath
    assert requant_cost(4, 30, 8, 25, rq=1).dsp == 2  # an accumulator wider than the port: two DSPs each


def test_models_add_the_steps_per_call_not_per_image():
    dw = {"C": 64, "PE": 64, "KP": 1, "PX": 1, "K": 9, "N_VECTORS": 125, "IN_BITS": 8, "W_BITS": 8,
          "ACC_BITS": 24, "OUT_BITS": 8, "PACK": 1, "RQ": 8}
    pe = Depthwise()
    assert pe.cycles(dw) == 125 * 9 and pe.setup(dw) == 8
    assert pe.batch_cycles(dw, 3, "axis") == 3 * 125 * 9 + 8
    unshared = dict(dw, RQ=64)
    assert pe.setup(unshared) == 0 and pe.cost(unshared, get_board("zcu104")).dsp == 64 + 64
    assert pe.cost(dw, get_board("zcu104")).dsp == 64 + 8
    mv = {"MW": 64, "MH": 64, "SIMD": 16, "PE": 8, "N_VECTORS": 10, "IN_BITS": 8, "W_BITS": 8, "ACC_BITS": 24,
          "OUT_BITS": 8, "IN_SIGNED": True, "PACK": 2, "PACK_SHIFT": 16, "MUL_FABRIC": False, "RQ": 2}
    assert Mvau().setup(mv) == 4 and Mvau().cycles(mv) == 10 * 8 * 4
    assert Mvau().cost(mv, get_board("zcu104")).dsp == 4 * 16 + 2
