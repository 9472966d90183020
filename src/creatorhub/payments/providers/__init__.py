"""Payment providers behind one interface: `sandbox` (local, the default) and `stripe`."""
