//! Rebuilds the crate when a migration file is added or changed: `embed_migrations!` reads
//! the folder at compile time, and cargo does not otherwise notice a new file in it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
