"""ivmsim: a simulated IBM IVM fleet reachable only over SSH (see FLEET.md).

Nothing outside this package imports it; clients talk to it over SSH like to a real IVM.
"""
