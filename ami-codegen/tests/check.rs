//! The checked-in `ami-types/src/generated/` is exactly what the generator writes
//! from Asterisk 22.10.1's XML (`AMI_XML` overrides its path).

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn generated_code_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let xml = std::env::var_os("AMI_XML")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/asterisk-22.10.1/core-en_US.xml"));
    assert!(xml.exists(), "{} is missing (set AMI_XML)", xml.display());
    let output = Command::new(env!("CARGO_BIN_EXE_ami-codegen"))
        .arg("--check")
        .arg(&xml)
        .output()
        .expect("runs ami-codegen");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn check_fails_on_a_difference() {
    // A tiny XML with one action differs from the checked-in files.
    let dir = std::env::temp_dir().join(format!("ami-codegen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xml = dir.join("tiny.xml");
    std::fs::write(
        &xml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<docs xmlns:xi="http://www.w3.org/2001/XInclude">
  <manager name="Ping" language="en_US" module="builtin">
    <since><version>1.0.0</version></since>
    <syntax><parameter name="Extra" required="true"/></syntax>
  </manager>
</docs>
"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ami-codegen"))
        .arg("--check")
        .arg(&xml)
        .output()
        .expect("runs ami-codegen");
    std::fs::remove_dir_all(&dir).ok();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("differs"));
}
