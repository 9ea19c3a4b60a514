"""A simulated LLM vendor on loopback HTTP, for the demo, the tests and the benchmarks.

``SimulatedVendor`` (in-process, async context manager) and ``SimulatedVendorProcess`` (a child
process, so that a benchmark's CPU figures are the client's alone). See ``server`` for the routes
and how fault scenarios are selected.
"""

from adapters.simulated_vendor.config import VendorConfig
from adapters.simulated_vendor.process import SimulatedVendorProcess
from adapters.simulated_vendor.server import FAULT_PREFIX, SimulatedVendor, scenarios
from adapters.simulated_vendor.stats import Received, VendorStats

__all__ = [
    "FAULT_PREFIX",
    "Received",
    "SimulatedVendor",
    "SimulatedVendorProcess",
    "VendorConfig",
    "VendorStats",
    "scenarios",
]
