"""Example models of fpga-accel: ONNX files, their calibration and test data, and the registry.

Read them with :mod:`models.data`; see ``models/README.md`` for what each model is.
"""
