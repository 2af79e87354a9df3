//! The committed `crates/cfn/src/aws/` must be exactly what the generator produces from the
//! pinned cfn-lint's schemas, so no hand edit or stale schema goes unnoticed.

#[test]
fn committed_resource_structs_match_the_generator_output() {
    let root = cfn_codegen::workspace_root();
    let schemas = cfn_codegen::locate_schemas(&root).unwrap_or_else(|e| panic!("{e:#}"));
    let files = cfn_codegen::generate(&schemas, &root).unwrap_or_else(|e| panic!("{e:#}"));
    let out_dir = root.join(cfn_codegen::OUTPUT_DIR);
    let mut stale = Vec::new();
    for (name, text) in &files {
        let committed = std::fs::read_to_string(out_dir.join(name)).unwrap_or_default();
        if committed != *text {
            stale.push(name.clone());
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("read generated dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    on_disk.sort();
    let expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        on_disk,
        expected,
        "unexpected files in {}",
        out_dir.display()
    );
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}; run `cargo run -p cfn-codegen` and commit the result"
    );
}
