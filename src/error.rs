//! The crate's single error type: every public fallible function returns [`Error`].

use std::fmt;

/// Everything that can go wrong in unisphere.
///
/// Each variant's message says what was wrong and what would be valid.
///
/// ```
/// use unisphere::{Error, Kernel};
/// let err = Kernel::heat(64, -1.0).unwrap_err();
/// assert!(matches!(err, Error::InvalidParameter { .. }));
/// assert!(err.to_string().contains("t"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The input matrix has an unusable shape (empty, or a dimension that does not fit).
    Shape {
        /// What was expected, e.g. "at least 2 columns (d >= 2)".
        expected: String,
        /// What was given, e.g. "1 columns".
        found: String,
    },
    /// An input entry is NaN or infinite.
    NonFinite {
        /// Row of the offending entry.
        row: usize,
        /// Column of the offending entry.
        col: usize,
    },
    /// A row is exactly zero, so it has no direction on the sphere.
    ZeroRow {
        /// Index of the zero row.
        row: usize,
    },
    /// Fewer points than the objective needs.
    TooFewPoints {
        /// Points given.
        n: usize,
        /// Points needed.
        min: usize,
    },
    /// A parameter is outside its valid range.
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given, printed.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A kernel series would need more terms than the hard cap allows.
    TruncationLimit {
        /// The cap on the number of series terms.
        cap: usize,
        /// What to change to stay within it.
        hint: String,
    },
    /// A result cannot be represented in the requested floating-point type
    /// (for example a gradient that overflows `f32`).
    NotRepresentable {
        /// What overflowed and why.
        what: String,
    },
    /// A distributed evaluation failed on another rank, or the ranks disagree on
    /// what they evaluate (every rank then returns an error, none waits forever).
    Distributed {
        /// Which rank and what it reported.
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape { expected, found } => {
                write!(f, "bad input shape: expected {expected}, found {found}")
            }
            Error::NonFinite { row, col } => write!(
                f,
                "input entry ({row}, {col}) is NaN or infinite; every entry must be finite"
            ),
            Error::ZeroRow { row } => write!(
                f,
                "row {row} is zero and has no direction on the sphere; every row must be non-zero"
            ),
            Error::TooFewPoints { n, min } => {
                write!(
                    f,
                    "{n} points given, but this objective needs at least {min}"
                )
            }
            Error::InvalidParameter {
                name,
                value,
                expected,
            } => write!(f, "invalid parameter {name} = {value}: expected {expected}"),
            Error::TruncationLimit { cap, hint } => write!(
                f,
                "the kernel series needs more than {cap} terms (the hard cap); {hint}"
            ),
            Error::NotRepresentable { what } => write!(f, "result not representable: {what}"),
            Error::Distributed { what } => write!(f, "distributed evaluation failed: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Result<T, unisphere::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error::InvalidParameter`].
pub(crate) fn invalid(name: &'static str, value: impl fmt::Display, expected: &str) -> Error {
    Error::InvalidParameter {
        name,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
