"""execbench: what it costs to run batch payloads in a container or a VM instead of on bare metal."""

__version__ = "0.1.0"
