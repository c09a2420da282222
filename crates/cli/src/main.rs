//! `payfac`: the service and the tools around it.
//!
//! Every error ends the process with a non-zero status and one line on
//! stderr.

mod commands;

use clap::{CommandFactory, FromArgMatches};

use commands::Cli;

/// mimalloc instead of glibc's malloc: request buffers are allocated on a
/// tokio worker and freed on the SQLite writer thread (or the other way
/// round), which glibc handles with arena locks and consolidation. It cut
/// the CPU per user-sync from ~115 to ~86 µs (docs/PERFORMANCE.md). The
/// benchmark binary uses the same allocator, so it measures this one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The matches are kept beside the parsed `Cli`: `--config` layering
    // asks them where each value came from.
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return usage_error(error),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error.format(&mut Cli::command())),
    };
    match commands::run(cli, &matches).await {
        Ok(code) => code,
        Err(error) => {
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("payfac: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print as clap renders them; a usage error
/// becomes one line on stderr (the rest of the contract's error shape),
/// with clap's usual exit status 2.
fn usage_error(error: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if !error.use_stderr() || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        error.exit();
    }
    let rendered = error.render().to_string();
    let message = rendered.split("\nUsage:").next().unwrap_or_default();
    let message = message.trim().trim_start_matches("error:");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("payfac: {message} (see payfac --help)");
    std::process::ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
