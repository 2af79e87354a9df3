//! Rendering a stage's stacks to files, all or nothing.

use std::path::{Path, PathBuf};

use cfn::{Format, render};

use crate::app::Stack;

/// Errors while writing templates.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A template could not be rendered.
    #[error("rendering {stack}")]
    Render {
        /// The stack.
        stack: String,
        /// What went wrong.
        #[source]
        source: serde_json::Error,
    },
    /// A file or directory could not be written.
    #[error("writing {path}")]
    Write {
        /// The file or directory.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// The file name of a stack's template: `<StackName>.template.<ext>`.
pub fn file_name(stack: &Stack, format: Format) -> String {
    format!("{}.template.{}", stack.name, format.extension())
}

/// Renders every stack in memory first, then writes each file through a temporary file
/// and a rename, so a failure leaves no partial template behind.
pub fn write_stage(
    stacks: &[Stack],
    dir: &Path,
    format: Format,
) -> Result<Vec<PathBuf>, SynthError> {
    let rendered: Vec<(String, String)> = stacks
        .iter()
        .map(|stack| {
            render(&stack.template, format)
                .map(|text| (file_name(stack, format), text))
                .map_err(|source| SynthError::Render {
                    stack: stack.name.clone(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    let write_err = |path: &Path, source: std::io::Error| SynthError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let mut written = Vec::new();
    for (name, text) in rendered {
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| write_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| write_err(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
