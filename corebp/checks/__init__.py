"""The checks: one component against float64 finite differences and autograd (`gradcheck`),
a training run against autograd (`autograd`), a learning rule against backprop (`alignment`)."""
