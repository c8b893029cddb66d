//! Generates `ami-types/src/generated/` from Asterisk's XML documentation
//! (`core-en_US.xml`, which Asterisk builds from its sources).
//!
//! ```sh
//! cargo run -p ami-codegen                                  # ../shared/asterisk-22.10.1/core-en_US.xml
//! cargo run -p ami-codegen -- /path/to/core-en_US.xml       # another Asterisk version
//! cargo run -p ami-codegen -- --check /path/to/core-en_US.xml   # CI: fail on any difference
//! ```
//!
//! The output is sorted by name and passed through `rustfmt`, so it depends on the
//! XML only. Names, parameter names, enum values and defaults are taken from the
//! XML; its prose is not: the generated docs link to Asterisk's pages instead.

mod emit;
mod model;
mod names;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const DEFAULT_XML: &str = "../shared/asterisk-22.10.1/core-en_US.xml";
const OUTPUT_DIR: &str = "ami-types/src/generated";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ami-codegen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut check = false;
    let mut xml_path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: ami-codegen [--check] [path/to/core-en_US.xml]");
                return Ok(ExitCode::SUCCESS);
            }
            _ if xml_path.is_none() => xml_path = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let root = workspace_root();
    let xml_path = xml_path.unwrap_or_else(|| root.join(DEFAULT_XML));
    let xml = std::fs::read_to_string(&xml_path)
        .map_err(|e| format!("reading {}: {e}", xml_path.display()))?;
    let model = model::read(&xml)?;
    let out_dir = root.join(OUTPUT_DIR);

    let mut files = Vec::new();
    for (file, source) in emit::emit(&model) {
        files.push((file, rustfmt(&source).map_err(|e| format!("{file}: {e}"))?));
    }
    let mut differ = Vec::new();
    for (file, source) in files {
        let path = out_dir.join(file);
        if check {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != source {
                differ.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
            std::fs::write(&path, source).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if !differ.is_empty() {
        eprintln!(
            "ami-codegen --check: generated code differs from {} for: {}\n\
             run `cargo run -p ami-codegen -- {}` and commit the result",
            xml_path.display(),
            differ.join(", "),
            xml_path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let verb = if check { "checked" } else { "wrote" };
    println!(
        "ami-codegen: {verb} {} actions, {} events, {} enums in {}",
        model.actions.len(),
        model.events.len(),
        model.enums.len(),
        out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The workspace root: this crate's parent directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Formats `source` with `rustfmt` (edition 2021, default style, like `cargo fmt`).
fn rustfmt(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt stdin")?;
    let input = source.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked".to_string())?
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}
