"""Analysis layer: Hessian traces, Lyapunov exponents, Gibbs comparisons, SGD-noise statistics."""
