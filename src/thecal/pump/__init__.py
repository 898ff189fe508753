"""The implanted pump: its model data, its firmware core and its virtual hardware."""
