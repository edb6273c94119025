"""Admission: authenticate, authorize, limit and count a request in one write."""
