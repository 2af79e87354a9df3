//! The index's Lua scripts (`src/lua/*.lua`), each prefixed with the vocabulary generated
//! from [`Capability::ALL`] and [`AvailabilityStatus::ALL`], so the scripts cannot drift
//! from the Rust types.

use std::sync::OnceLock;

use crate::index::{ANY, SENTINEL, scopes};
use crate::model::{AvailabilityStatus, Capability};

const COMMON: &str = include_str!("lua/common.lua");

/// The vocabulary as Lua: `T` (the key prefix, passed as `ARGV[1]` to every script),
/// `AVAILABLE` (the status whose vendors have their own geo sets), `ANY`, `SCOPES` (the
/// geo sets' scopes), `CAPS` (every capability plus `any`) and `SENTINEL`.
fn vocabulary() -> String {
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut caps: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
    caps.push(ANY);
    format!(
        "local T = ARGV[1]\nlocal AVAILABLE = '{}'\nlocal ANY = '{ANY}'\n\
         local SCOPES = {{{}}}\nlocal CAPS = {{{}}}\nlocal SENTINEL = '{SENTINEL}'\n",
        AvailabilityStatus::Available.as_str(),
        quoted(&scopes()),
        quoted(&caps)
    )
}

/// One script of the index.
pub(crate) struct IndexScript {
    pub(crate) script: redis::Script,
}

fn make(body: &str) -> IndexScript {
    IndexScript {
        script: redis::Script::new(&format!("{}{COMMON}\n{body}", vocabulary())),
    }
}

/// Every script, compiled once per process.
pub(crate) struct Scripts {
    pub(crate) apply: IndexScript,
    pub(crate) search: IndexScript,
    pub(crate) begin_build: IndexScript,
    pub(crate) finish_build: IndexScript,
    pub(crate) abort_build: IndexScript,
}

pub(crate) fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        apply: make(include_str!("lua/apply.lua")),
        search: make(include_str!("lua/search.lua")),
        begin_build: make(include_str!("lua/begin_build.lua")),
        finish_build: make(include_str!("lua/finish_build.lua")),
        abort_build: make(include_str!("lua/abort_build.lua")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_lists_every_scope_and_capability() {
        let v = vocabulary();
        assert!(v.contains("local AVAILABLE = 'available'"), "{v}");
        assert!(v.contains("local SCOPES = {'available', 'any'}"), "{v}");
        for c in Capability::ALL {
            assert!(v.contains(&format!("'{}'", c.as_str())), "{v}");
        }
    }
}
