"""Jupiter API: the service core shared by every Chalice handler."""

__version__ = "0.1.0"
