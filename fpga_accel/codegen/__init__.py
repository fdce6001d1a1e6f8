"""HLS project generation: turns a folded, quantised graph into the C++ of ``hls/`` instances."""
