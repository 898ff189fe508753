"""The virtual hardware around the firmware core: motor, reservoir, catheter, magnetic field, memory.

Everything here is physical and may be imperfect; it is seeded, so a run is
reproducible. Floating point is allowed here: this is the edge, not the core.
"""
