//! The layers of docs/DESIGN.md ("The server's layers"), held to the
//! source: a module imports only from its own row or the rows below, and
//! no two modules import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The rows, bottom first.
const ROWS: &[&[&str]] = &[
    &[
        "boundary",
        "edge",
        "ratelimit",
        "envelope",
        "observability",
        "metric_catalog",
        "config",
        "keys",
        "merchants",
        "purge",
    ],
    &["scope", "state", "identity", "pages"],
    &["signin"],
    &[
        "api",
        "demo",
        "gateway",
        "forward_auth",
        "playground",
        "admin",
        "ops",
        "oidc",
    ],
    &["app"],
];

fn row_of(module: &str) -> Option<usize> {
    ROWS.iter().position(|row| row.contains(&module))
}

/// The top-level modules each top-level module imports (`crate::x`),
/// outside comments and unit tests.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let module = relative
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned();
            let source = std::fs::read_to_string(&path).unwrap();
            let code = source.split("#[cfg(test)]").next().unwrap();
            for line in code
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
            {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        Some(list) => list.split('}').next().unwrap().split(',').collect(),
                        None => vec![rest],
                    };
                    for name in names {
                        let name: String = name
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        let name = match name.as_str() {
                            "AppState" | "Shared" | "Backlog" => "state".to_owned(),
                            "Config" => "config".to_owned(),
                            _ => name,
                        };
                        if name != module && row_of(&name).is_some() {
                            found.entry(module.clone()).or_default().insert(name);
                        }
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_module_has_a_row() {
    for module in imports().keys() {
        assert!(
            row_of(module).is_some() || matches!(module.as_str(), "lib" | "fuzzing"),
            "{module} is in no row of docs/DESIGN.md's layers"
        );
    }
}

#[test]
fn imports_run_down_the_layers_and_never_in_a_circle() {
    let imports = imports();
    for (module, used) in &imports {
        let Some(row) = row_of(module) else { continue };
        for other in used {
            assert!(
                row_of(other).unwrap() <= row,
                "{module} imports {other}, a layer above it"
            );
            assert!(
                !imports.get(other).is_some_and(|back| back.contains(module)),
                "{module} and {other} import each other"
            );
        }
    }
}
