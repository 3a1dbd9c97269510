//! The dhat bench's settings: `TASKMEM_SIZES`, Criterion's filter and `--list`, and the
//! one-line error for bad input.

use crate::config::{Config, Filter, NoCase, parse_sizes};
use crate::matrix::{self, Case};

/// The default task counts: 1M takes about 7x longer under dhat and runs only when
/// `TASKMEM_SIZES` asks for it.
pub const DEFAULT_SIZES: [usize; 3] = [1, 10_000, 100_000];

/// The bench's settings: `TASKMEM_SIZES` and a Criterion-style filter.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Task counts to run.
    pub sizes: Vec<usize>,
    /// Which cases run (a regex on the case id, or `--exact ID`).
    pub filter: Filter,
    /// How Criterion's command line runs the bench (for [`crate::config::select`]).
    pub mode: crate::config::Mode,
}

impl Settings {
    /// Reads `TASKMEM_SIZES` and the bench's arguments (program name excluded).
    pub fn from_env_and_args(args: &[String]) -> Result<Settings, String> {
        Settings::from_parts(std::env::var("TASKMEM_SIZES").ok().as_deref(), args)
    }

    /// The same from explicit values. The error is one line, without the `taskmem: ` prefix
    /// that [`error_line`] adds.
    pub fn from_parts(sizes: Option<&str>, args: &[String]) -> Result<Settings, String> {
        let sizes = match sizes {
            Some(s) => parse_sizes(s).map_err(|e| format!("TASKMEM_SIZES: {e}"))?,
            None => DEFAULT_SIZES.to_vec(),
        };
        // The suite's own parsing of Criterion's command line: the first argument that is not
        // an option is the filter; `--exact` and `--list` work as in Criterion.
        let config = Config::from_parts(None, None, args)?;
        Ok(Settings {
            sizes,
            filter: config.filter,
            mode: config.mode,
        })
    }

    /// `--list` (or `--help`): print the cases, run nothing.
    pub fn list_only(&self) -> bool {
        self.mode.runs_nothing()
    }

    /// The cases to run, in matrix order; a filter that matches none is [`NoCase`] (one line,
    /// exit code 2, in a bench run).
    pub fn cases(&self) -> Result<Vec<Case>, NoCase> {
        crate::config::select(
            &self.filter,
            self.mode,
            "cargo bench --features dhat --bench dhat",
            &matrix::cases(&self.sizes),
        )
    }
}

/// The line printed on stderr for bad input: `taskmem: <message>`, on one line.
pub fn error_line(message: &str) -> String {
    format!("taskmem: {}", message.replace('\n', " "))
}
