"""Pure array math: the Thaler map and its observables (P0), stable laws, tail indices (P2/P3)."""
