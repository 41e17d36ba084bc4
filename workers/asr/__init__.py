"""Speech recognition behind one interface: each channel of a recording becomes timed words."""
