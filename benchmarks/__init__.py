"""Benchmarks run by ``make bench``; each prints one table and writes its JSON.

Add one by writing a module with a function that returns a
:class:`benchmarks.report.Report` and listing it in ``benchmarks.__main__``.
"""
