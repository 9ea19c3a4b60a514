"""A simulated LLM vendor on loopback HTTP, for the demo, the tests and the benchmarks.

``SimulatedVendor`` (in-process, async context manager) and ``SimulatedVendorProcess`` (a child
process, so that a benchmark's CPU figures are the client's alone). See ``server`` for the routes
and how fault scenarios are selected.
"""

from simulator.config import VendorConfig
from simulator.process import SimulatedVendorProcess
from simulator.server import FAULT_PREFIX, SimulatedVendor, scenarios
from simulator.stats import Received, VendorStats

__all__ = [
    "FAULT_PREFIX",
    "Received",
    "SimulatedVendor",
    "SimulatedVendorProcess",
    "VendorConfig",
    "VendorStats",
    "scenarios",
]
