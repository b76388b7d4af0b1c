//! `hearth`: one node of a Hearth federation on the command line.
//!
//! Exit codes: 0 done; 2 bad input (nothing was written); 1 anything else.

mod backup;
mod bundle;
mod certs;
mod commands;
mod demo;
mod disclose;
mod federation_demo;
mod fields;
mod hints;
mod import;
mod node;
mod output;
mod serve;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;
use hearth_archive::ArchiveError;
use hearth_ops::{ErrorKind, OpError};
use hearth_store::StoreError;

/// Input that cannot be used, with what to do about it. Exits with code 2.
#[derive(Debug)]
pub struct BadInput(String);

impl BadInput {
    /// Wraps a one-line message.
    pub fn new(message: impl Into<String>) -> BadInput {
        BadInput(message.into())
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// 2 for what the user can correct or may not do (bad input, an unknown id, a refusal), 1 for
/// everything else (IO, damage, a busy store): the one mapping of [`ErrorKind`] to exit codes.
fn exit_code(err: &anyhow::Error) -> u8 {
    let kind = err.chain().find_map(|cause| {
        if cause.is::<BadInput>() {
            Some(ErrorKind::Input)
        } else if let Some(e) = cause.downcast_ref::<OpError>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<ArchiveError>() {
            Some(hearth_ops::archive_kind(e))
        } else {
            cause
                .downcast_ref::<StoreError>()
                .map(hearth_node::cases::store_kind)
        }
    });
    match kind {
        Some(ErrorKind::Input | ErrorKind::NotFound | ErrorKind::Forbidden) => 2,
        Some(ErrorKind::Internal) | None => 1,
    }
}

/// The error and its causes on one line, each cause said once (a cause whose text a message
/// already quotes is left out).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// The last panic's text, kept by the quiet hook (see [`main`]).
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let serving = matches!(cli.command, commands::Command::Serve);
    if !serving {
        // A failure inside the storage code on damaged data is caught at the store and told in
        // one line; any other is told in one line below, with where it happened. No backtrace
        // for a user to read.
        std::panic::set_hook(Box::new(|info| {
            if let Ok(mut last) = PANIC.lock() {
                *last = Some(info.to_string().replace('\n', " "));
            }
        }));
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commands::run(cli)));
    let Ok(ran) = ran else {
        let text = PANIC
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .unwrap_or_default();
        eprintln!(
            "error: hearth stopped on an internal failure ({text}); what was committed before it stays; run `hearth check` if it happened while reading the store, and report it"
        );
        return ExitCode::from(1);
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let output = err
                .chain()
                .find_map(|c| c.downcast_ref::<output::OutputError>());
            if output.is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe) {
                // The reader stopped (`| head`): what the command did is done, nothing to say.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", hints::with_hints(&one_line(&err)));
            ExitCode::from(exit_code(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Inner;

    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("KeyMismatch")
        }
    }

    impl std::error::Error for Inner {}

    /// An error that quotes its source, as `thiserror`'s `#[from]` variants with `{0}` do.
    #[derive(Debug)]
    struct Outer(Inner);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "storage failed: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let err = anyhow::Error::new(Outer(Inner)).context("cannot read case 7f05");
        assert_eq!(
            one_line(&err),
            "cannot read case 7f05: storage failed: KeyMismatch"
        );
        assert_eq!(one_line(&anyhow::anyhow!("plain")), "plain");
    }
}
