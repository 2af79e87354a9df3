//! The load suite's incident types are the vendor wing's capabilities (one vocabulary).

#[test]
fn incident_types_are_the_capabilities() {
    let names: Vec<&str> = vendors::Capability::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(load::requests::INCIDENT_TYPES.to_vec(), names);
}
