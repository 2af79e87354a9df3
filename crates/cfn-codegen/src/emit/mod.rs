//! Writing the code model as Rust source, one file per kind of thing emitted:
//! [`resource`] (the module and the `Resource` impl), [`property_type`] (structs with
//! their constructor and setters), [`enumeration`] (enums of allowed values) and
//! [`attributes`] (`Fn::GetAtt` accessors). The text is then run through `rustfmt`, so
//! the emitters care about tokens, not layout.

mod attributes;
mod enumeration;
mod property_type;
mod resource;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};

pub use resource::resource_module;

/// A doc comment of one line.
fn doc_lines(text: &str) -> String {
    format!("/// {}\n", text.replace('\n', " "))
}

/// Formats `source` with the toolchain's `rustfmt`, run in `root` so the workspace's
/// settings apply.
pub fn rustfmt(source: &str, root: &Path) -> anyhow::Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("rustfmt stdin"))?
        .write_all(source.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}
