//! toml's errors, told in the stage file's terms: the line, the table and the key.

use super::ConfigError;

/// The error for `text` (the file `path`) that toml refused with `error`.
///
/// An error at a value (`key = value`: a wrong type, or a string that is none of an
/// enumeration's values) names the dotted key and the value, like the checks' errors;
/// any other error (syntax, an unknown or missing key) names the line and the table.
pub(super) fn parse_error(path: &str, text: &str, error: &toml::de::Error) -> ConfigError {
    let message = error.message().trim().to_owned();
    let parse = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    let Some(span) = error.span() else {
        return parse(message);
    };
    let before = text.get(..span.start.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let table = before.lines().rev().find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && l.ends_with(']'))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').to_owned())
    });
    let snippet: String = text
        .get(span.clone())
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    // The key on the error's line, when the error is about a value (`key = value`).
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = text
        .get(line_start..)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default();
    let key = line_text
        .split_once('=')
        .filter(|(k, _)| span.start >= line_start + k.len())
        .map(|(k, _)| k.trim().trim_matches('"'))
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (key, &table) {
        (Some(key), table) => {
            let key = match table {
                Some(table) if !table.is_empty() => format!("{table}.{key}"),
                _ => key.to_owned(),
            };
            let value = snippet.lines().next().unwrap_or_default().trim().to_owned();
            ConfigError::Invalid {
                path: path.to_owned(),
                key,
                value,
                allowed: format!("{message} (line {line})"),
            }
        }
        (None, table) => {
            let table = table
                .as_ref()
                .map(|t| format!(" in [{t}]"))
                .unwrap_or_default();
            if snippet.trim().is_empty() || snippet.contains('\n') {
                parse(format!("line {line}{table}: {message}"))
            } else {
                parse(format!(
                    "line {line}{table}, at `{}`: {message}",
                    snippet.trim()
                ))
            }
        }
    }
}
