"""Pure array math: the Thaler map and its observables (P0), stable laws and tail indices (P2/P3)."""
