"""nst_engine: Gatys-style neural style transfer (VGG19 + L-BFGS) as a library."""
