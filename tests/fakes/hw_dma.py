"""AXI DMA (PG021) in simple mode, register by register.

Per channel (MM2S at 0x00, S2MM at 0x30): DMACR (RS bit 0, Reset bit 2, self-clearing, resets
both channels), DMASR (Halted 0, Idle 1, IntErr 4, SlvErr 5, DecErr 6; Idle stays 0 after RS
until the first transfer completes), address low/high at +0x18/+0x1C, LENGTH at +0x28 (only the
low ``c_sg_length_width`` bits exist; writing it starts a transfer). MM2S reads DDR and sends
beats with TLAST on the last one; S2MM writes beats to DDR and completes at TLAST, LENGTH then
reading the bytes received. Errors halt the channel. What PG021 leaves undefined (LENGTH written
while busy or halted, an unaligned address without DRE, a packet longer than the S2MM transfer)
is recorded as a violation and, for the last two, signalled as DMAIntErr.
"""
from __future__ import annotations

HALTED, IDLE, INTERR, SLVERR, DECERR = 0x1, 0x2, 0x10, 0x20, 0x40


class Channel:
    def __init__(self, dma, kind: str):
        self.dma, self.kind = dma, kind
        self.link = None  # AxisLink to (MM2S) or from (S2MM) the IP
        self.reset()

    def reset(self):
        self.cr, self.sr = 0x0001_0000, HALTED
        self.addr_lo = self.addr_hi = self.length = 0
        self.active = None  # [address, length, bytes done]
        self.started_once = False
        self.partial = b""

    @property
    def name(self):
        return f"{self.dma.name} {self.kind}"

    def read(self, off):
        return {0x00: self.cr, 0x04: self.sr, 0x18: self.addr_lo, 0x1C: self.addr_hi, 0x28: self.length}.get(off, 0)

    def write(self, off, value):
        if off == 0x00:
            if value & 0x4:
                self.dma.soft_reset()
                return
            self.cr = value & ~0x4
            if value & 0x1:
                if self.sr & HALTED:
                    self.sr &= ~(HALTED | IDLE)
            else:
                self.active = None
                self.sr = (self.sr | HALTED) & ~IDLE
        elif off == 0x04:
            self.sr &= ~(value & 0x7000)  # interrupt bits are write-1-to-clear; errors are not
        elif off == 0x18:
            self.addr_lo = value
        elif off == 0x1C:
            self.addr_hi = value
        elif off == 0x28:
            self._start(value)

    def _start(self, value):
        sys = self.dma.system
        width = self.dma.length_bits
        if value >> width:
            sys.violation(f"{self.name}: LENGTH {value} does not fit the {width}-bit register; the DMA sees "
                          f"{value & ((1 << width) - 1)}")
        value &= (1 << width) - 1
        if self.sr & HALTED:
            sys.violation(f"{self.name}: LENGTH written while the channel is halted (DMACR.RS=0); ignored")
            return
        if self.active is not None:
            sys.violation(f"{self.name}: LENGTH written while a transfer is in flight; ignored")
            return
        self.length = value
        if value == 0:
            self._error(INTERR)
            return
        addr = self.addr_lo | (self.addr_hi << 32 if self.dma.addr_bits > 32 else 0)
        if addr % self.dma.align:
            sys.violation(f"{self.name}: address {addr:#x} not aligned to {self.dma.align} bytes (no DRE)")
            self._error(INTERR)
            return
        if not sys.memory.mapped(addr, value):
            self._error(DECERR)
            return
        self.sr &= ~IDLE
        self.active = [addr, value, 0]
        self.partial = b""
        sys.transfers.append((self.name, addr, value))

    def _error(self, bit):
        self.sr |= bit | HALTED
        self.sr &= ~IDLE
        self.cr &= ~0x1
        self.active = None

    def _done(self, nbytes):
        self.active = None
        self.sr |= IDLE
        if self.kind == "S2MM":
            self.length = nbytes

    def step(self) -> bool:
        """Move what can move now; True when something did."""
        if self.active is None or self.link is None:
            return False
        mem = self.dma.system.memory
        addr, length, done = self.active
        beat = self.link.beat_bytes
        moved = False
        if self.kind == "MM2S":
            while done < length and self.link.room() > 0:
                n = min(beat, length - done)
                data = mem.read(addr + done, n)
                done += n
                if n < beat:
                    self.dma.system.violation(f"{self.name}: transfer of {length} bytes ends in a partial beat of "
                                              f"{n}/{beat} bytes")
                    data = data + bytes(beat - n)
                self.link.push(data, done == length)
                moved = True
            self.active[2] = done
            if done == length:
                self._done(length)
        else:
            while self.link.beats:
                data, last = self.link.pop()
                moved = True
                if done + len(data) > length:
                    self.dma.system.violation(f"{self.name}: packet longer than the {length}-byte transfer")
                    self._error(INTERR)
                    return True
                mem.write(addr + done, data)
                done += len(data)
                if last:
                    self._done(done)
                    return True
                if done == length:
                    self.dma.system.violation(f"{self.name}: {length} bytes received without TLAST")
                    self._error(INTERR)
                    return True
            self.active[2] = done
        return moved


class AxiDmaModel:
    def __init__(self, name: str, params: dict, system):
        self.name, self.system = name, system
        p = {k.lower(): int(str(v), 0) for k, v in params.items() if str(v).lstrip("-").isdigit()
             or str(v).startswith("0x")}
        self.length_bits = p.get("c_sg_length_width", 14)
        self.addr_bits = p.get("c_addr_width", 32)
        self.align = max(1, p.get("c_m_axi_mm2s_data_width", 32) // 8)
        self.mm2s, self.s2mm = Channel(self, "MM2S"), Channel(self, "S2MM")

    def soft_reset(self):
        for ch in (self.mm2s, self.s2mm):
            link = ch.link
            ch.reset()
            ch.link = link

    def read(self, off):
        return (self.mm2s if off < 0x30 else self.s2mm).read(off % 0x30)

    def write(self, off, value):
        (self.mm2s if off < 0x30 else self.s2mm).write(off % 0x30, value)

    def step(self) -> bool:
        return self.mm2s.step() | self.s2mm.step()
