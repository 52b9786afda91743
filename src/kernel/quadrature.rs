//! Gauss–Legendre quadrature and the uniform-marginal rule, now in
//! [`crate::numerics`]; re-exported here for the kernel module.

pub(crate) use crate::numerics::{gauss_legendre, uniform_marginal_rule};
