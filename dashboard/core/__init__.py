"""The ORCA Core stand-in: the Core API over the console's database, live traffic, injected faults.

For the demo, the tests and incident drills only; `orca-dashboard core` runs it and
`orca-dashboard chaos` injects faults into it.
"""
