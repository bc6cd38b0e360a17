//! The server's modules import only downwards: the domain knows no edge, the outbox knows no
//! integration, and nothing but the crate root reaches into `http/`. Read from the sources,
//! so a new import that breaks the layering fails here rather than in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules of `src/` and, for each, the `crate::` modules its non-test code uses.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let top = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            // Test modules may reach anywhere; only what ships counts.
            let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
            let uses = found.entry(top.clone()).or_default();
            for module in crate_paths(shipped) {
                if module != top {
                    uses.insert(module);
                }
            }
        }
    }
    found
}

/// The first segment after every `crate::` in `text`, including those inside `use crate::{…}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or_default();
                modules.insert(name.to_string());
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            modules.insert(rest[..end].to_string());
        }
    }
    modules
}

fn uses(imports: &BTreeMap<String, BTreeSet<String>>, module: &str) -> BTreeSet<String> {
    imports.get(module).cloned().unwrap_or_default()
}

#[test]
fn nothing_but_the_crate_root_imports_the_http_layer() {
    let imports = imports();
    let offenders: Vec<_> = imports
        .iter()
        .filter(|(module, used)| module.as_str() != "lib" && used.contains("http"))
        .map(|(module, _)| module.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "these import crate::http: {offenders:?}"
    );
}

#[test]
fn the_domain_imports_no_edge_and_no_integration() {
    let domain = uses(&imports(), "domain");
    for edge in ["http", "voice", "mcp", "google", "notify", "cli", "demo"] {
        assert!(!domain.contains(edge), "domain imports crate::{edge}");
    }
}

#[test]
fn the_outbox_knows_no_integration_by_name() {
    let outbox = uses(&imports(), "outbox");
    for integration in ["google", "notify", "http", "voice", "mcp", "domain"] {
        assert!(
            !outbox.contains(integration),
            "outbox imports crate::{integration}"
        );
    }
}

/// Lowest first: each layer may use the ones before it, never one after it, so there is no
/// cycle between them.
const LAYERS: [&str; 8] = [
    "outbox", "domain", "sync", "google", "notify", "voice", "mcp", "http",
];

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let imports = imports();
    for (i, layer) in LAYERS.iter().enumerate() {
        let used = uses(&imports, layer);
        for above in &LAYERS[i + 1..] {
            assert!(
                !used.contains(*above),
                "crate::{layer} imports crate::{above}"
            );
        }
    }
}

#[test]
fn crate_paths_are_read_from_plain_and_grouped_imports() {
    let text = "use crate::domain::error::DomainError;\nuse crate::{AppState, outbox::JobKind};\n\
                let x = crate::json::parse(b);";
    let found: Vec<_> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["AppState", "domain", "json", "outbox"]);
}
