//! `ami bridge ...`: the fleet-to-NATS bridge, which lives in its own crate
//! (`ami-bridge`, with its own dependencies: async-nats, a TOML parser) so that
//! `ami` stays small; this runs it.

use std::path::PathBuf;
use std::process::Command;

use crate::cli::BridgeArgs;
use crate::error::{CliError, Exit};

/// The `ami-bridge` program: next to this `ami`, else on PATH.
fn program() -> Option<PathBuf> {
    let name = format!("ami-bridge{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|ami| ami.parent().map(|dir| dir.join(&name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(&name));
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}

/// Runs `ami-bridge` with the arguments and exits as it does.
pub fn run(args: &BridgeArgs) -> Result<(), CliError> {
    let Some(program) = program() else {
        return Err(CliError::new(
            Exit::Usage,
            "ami bridge runs the ami-bridge program, which is not installed next to ami \
             or on PATH (cargo install --path ami-bridge)",
        ));
    };
    let status = Command::new(&program)
        .args(&args.args)
        .status()
        .map_err(|e| CliError::new(Exit::Other, format!("{}: {e}", program.display())))?;
    match status.code() {
        Some(0) => Ok(()),
        code => std::process::exit(code.unwrap_or(1)),
    }
}
