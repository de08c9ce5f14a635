//! Application code cannot reach tenant data except through the tenancy crate: no pool,
//! no system path, no raw connection in app/src.

#[test]
fn app_code_has_no_back_door_to_the_database() {
    let forbidden = [
        "SystemDb",
        "SystemTx",
        "PgPool",
        "PgPoolOptions",
        "PgConnection::connect",
        "Database::connect",
        "Database::from_pool",
        "set_config",
    ];
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/src");
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for word in forbidden {
                    if text.contains(word) {
                        found.push(format!("{}: {word}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        files >= 5,
        "expected to scan the app sources, scanned {files}"
    );
    assert!(
        found.is_empty(),
        "app code reaches around the tenancy crate: {found:?}"
    );
}
