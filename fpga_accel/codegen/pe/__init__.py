"""One Python description per HLS processing element (one file per header of ``hls/``).

Each module turns a layer's integers and folding into a :class:`~fpga_accel.codegen.stage.Stage`:
the header's config struct members, the constant arrays in the header's layout and the integer
parameters fold/ reads. No cycle or resource modelling lives here.
"""
