//! Regenerates `crates/cfn/src/aws/` from the provider schemas of the pinned cfn-lint.
//!
//! ```text
//! cargo run -p cfn-codegen            # finds the schemas through .venv-cfn-lint/bin/python
//! cargo run -p cfn-codegen -- DIR     # or takes cfn-lint's data/schemas directory
//! ```

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let root = cfn_codegen::workspace_root();
    let schemas = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => cfn_codegen::locate_schemas(&root)?,
    };
    let files = cfn_codegen::generate(&schemas, &root)?;
    let out_dir = root.join(cfn_codegen::OUTPUT_DIR);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    // Remove modules of types that were dropped from the list.
    for entry in std::fs::read_dir(&out_dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.ends_with(".rs") && !files.iter().any(|(f, _)| *f == name) {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, text) in &files {
        let path = out_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
