//! The application's error: bad input (exit 2) or a failure while working
//! (exit 1).

use std::fmt;

use crate::config::ConfigError;

/// What went wrong, and so which exit code to use.
#[derive(Debug)]
pub enum AppError {
    /// The user's input: a model file, an override, an argument. Exit 2.
    Input(ConfigError),
    /// Something failed while working (e.g. writing output). Exit 1.
    Failed(String),
    /// `cachesim check` found an expectation or baseline that does not hold
    /// (already reported on stdout). Exit 1.
    CheckFailed,
    /// A run stopped at the default event budget (already reported, with
    /// its results). Exit 3.
    Truncated(String),
}

impl AppError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Input(_) => 2,
            AppError::Failed(_) | AppError::CheckFailed => 1,
            AppError::Truncated(_) => 3,
        }
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        AppError::Input(e)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Input(e) => write!(f, "{e}"),
            AppError::Failed(m) => f.write_str(m),
            AppError::CheckFailed => f.write_str("the check failed (see above)"),
            AppError::Truncated(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AppError {}
