"""Ridge with positive coefficients."""
