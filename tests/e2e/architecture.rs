//! ARCHITECTURE.md stays true: the arrows it draws between the workspace's crates and between the
//! engine's layers are the ones the code has, and neither graph has a cycle.
//!
//! Each graph is written twice on purpose: here ([`CRATE_ARROWS`], [`LAYER_ARROWS`]) and in the
//! document, in the fenced block after its `<!-- checked: ... -->` marker. The tests compare the
//! code with the list and the list with the document, so a new dependency fails until someone
//! decides it is right and says so in both places.
//!
//! Left out: a Rust parser. The engine's paths are read textually (`crate::model::…` or the flat
//! re-exports such as `crate::target`, resolved through `lib.rs`) and comment lines are skipped (a
//! doc link to a higher layer is no dependency). `super::` chains are resolved by file depth only,
//! which an inline module (`mod tests`) makes too shallow: so a chain that seems to climb to the
//! root counts only when the name after it is a layer or a re-export, and is ignored otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Each workspace crate and the workspace crates it depends on (normal dependencies).
const CRATE_ARROWS: &[(&str, &[&str])] = &[
    ("modelbench-diff", &[]),
    ("modelbench-pdf", &[]),
    ("modelbench-engine", &["modelbench-diff"]),
    ("modelbench-workbench", &["modelbench-engine", "modelbench-pdf"]),
    ("modelbench-demo", &["modelbench-engine", "fakecloud"]),
    (
        "modelbench-cli",
        &["modelbench-workbench", "modelbench-demo", "modelbench-engine"],
    ),
    (
        "modelbench-app",
        &["modelbench-workbench", "modelbench-demo", "modelbench-engine"],
    ),
    ("modelbench-e2e", &["modelbench-engine", "modelbench-demo", "fakecloud"]),
    ("fakecloud", &[]),
];

/// Each layer of the engine (a top-level module of `crates/engine/src/lib.rs`) and the layers its
/// code may name. `diff` is the modelbench-diff crate, re-exported as `crate::diff`.
const LAYER_ARROWS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("framing", &[]),
    ("secrets", &["model"]),
    ("providers", &["model", "framing"]),
    ("pricing", &["model"]),
    ("store", &["model", "pricing"]),
    ("run", &["model", "secrets", "providers", "pricing", "store"]),
    ("report", &["model", "store", "diff"]),
    ("suite", &["model", "diff"]),
    ("stats", &[]),
    (
        "session",
        &["model", "pricing", "run", "report", "suite", "stats", "diff"],
    ),
    ("panel", &["stats"]),
    ("judge", &["model", "suite", "panel"]),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

fn graph(arrows: &[(&str, &[&str])]) -> Graph {
    arrows
        .iter()
        .map(|(from, to)| (from.to_string(), to.iter().map(|name| name.to_string()).collect()))
        .collect()
}

/// The graph in the fenced block after `<!-- checked: NAME -->` in ARCHITECTURE.md: one line per
/// node, `from → to, to`.
fn documented(name: &str) -> Graph {
    let path = workspace_root().join("ARCHITECTURE.md");
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let marker = format!("<!-- checked: {name} -->");
    let after = text
        .split_once(&marker)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no {marker}"))
        .1;
    let block = after
        .split("```")
        .nth(1)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md: no fenced block after {marker}"));
    block
        .lines()
        .skip(1) // the fence's language tag
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (from, to) = line
                .split_once('→')
                .unwrap_or_else(|| panic!("ARCHITECTURE.md, {name}: `{line}` is not `from → to, to`"));
            let to = to.split(',').map(str::trim).filter(|name| !name.is_empty());
            (from.trim().to_owned(), to.map(str::to_owned).collect())
        })
        .collect()
}

/// The nodes of a cycle in `graph`, if it has one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// What `actual` has that `expected` lacks and the other way round, one line per arrow.
fn differences(actual: &Graph, expected: &Graph, evidence: impl Fn(&str, &str) -> String) -> Vec<String> {
    let arrows = |graph: &Graph| -> BTreeSet<(String, String)> {
        graph
            .iter()
            .flat_map(|(from, to)| to.iter().map(move |to| (from.clone(), to.clone())))
            .collect()
    };
    let (actual_arrows, expected_arrows) = (arrows(actual), arrows(expected));
    let unexpected = actual_arrows
        .difference(&expected_arrows)
        .map(|(from, to)| format!("{from} → {to} exists but is not allowed ({})", evidence(from, to)));
    let missing = expected_arrows
        .difference(&actual_arrows)
        .map(|(from, to)| format!("{from} → {to} is listed but no longer exists: remove it"));
    let nodes = |graph: &Graph| graph.keys().cloned().collect::<BTreeSet<_>>();
    let unlisted = nodes(actual)
        .into_iter()
        .filter(|node| !expected.contains_key(node))
        .map(|node| format!("{node} is not listed: give it a line"));
    unexpected.chain(missing).chain(unlisted).collect()
}

#[test]
fn the_documented_graphs_are_the_tests_lists_and_have_no_cycle() {
    for (name, arrows) in [("crates", CRATE_ARROWS), ("engine layers", LAYER_ARROWS)] {
        let listed = graph(arrows);
        assert_eq!(cycle(&listed), None, "the {name} list has a cycle");
        assert_eq!(
            documented(name),
            listed,
            "ARCHITECTURE.md's {name} block and this test's list differ: make them agree"
        );
    }
}

#[test]
fn a_cycle_is_found_however_long() {
    assert_eq!(cycle(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])), None);
    let found = cycle(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).expect("a → b → c → a");
    assert_eq!(found, ["a", "b", "c", "a"]);
}

#[test]
fn the_crates_depend_on_each_other_as_documented() {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|package| package["name"].as_str()).collect();
    let actual: Graph = packages
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"].as_array().expect("dependencies");
            let workspace_dependencies = dependencies
                .iter()
                .filter(|dependency| dependency["kind"].is_null()) // normal, not dev or build
                .filter_map(|dependency| dependency["name"].as_str())
                .filter(|name| members.contains(name))
                .map(str::to_owned);
            (
                package["name"].as_str().expect("name").to_owned(),
                workspace_dependencies.collect(),
            )
        })
        .collect();
    let problems = differences(&actual, &graph(CRATE_ARROWS), |from, _| {
        format!("see {from}'s Cargo.toml")
    });
    assert!(problems.is_empty(), "crate arrows:\n{}", problems.join("\n"));
}

#[test]
fn the_engine_layers_import_only_the_layers_below_them() {
    let source = workspace_root().join("crates/engine/src");
    let library = Library::read(&source);
    let mut found: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut unresolved = Vec::new();
    for file in rust_files(&source) {
        let relative = file.strip_prefix(&source).expect("under src");
        let components: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect();
        if components == ["lib"] {
            continue;
        }
        let layer = &components[0];
        let text = fs::read_to_string(&file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (name, reach) in top_level_names(line, components.len()) {
                let place = format!("{}:{}", relative.display(), number + 1);
                match (library.layer_of(&name), reach) {
                    (Some(target), _) if target == *layer => {}
                    (Some(target), _) => {
                        found.entry((layer.clone(), target)).or_default().insert(place);
                    }
                    (None, Reach::Crate) => {
                        unresolved.push(format!("{place}: crate::{name} is no layer and no re-export of lib.rs"));
                    }
                    (None, Reach::Super) => {}
                }
            }
        }
    }
    assert!(unresolved.is_empty(), "{}", unresolved.join("\n"));
    let mut actual: Graph = library
        .layers
        .iter()
        .map(|layer| (layer.clone(), BTreeSet::new()))
        .collect();
    for (from, to) in found.keys() {
        actual.entry(from.clone()).or_default().insert(to.clone());
    }
    let problems = differences(&actual, &graph(LAYER_ARROWS), |from, to| {
        let places = &found[&(from.to_owned(), to.to_owned())];
        places.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    });
    assert!(problems.is_empty(), "engine layer arrows:\n{}", problems.join("\n"));
}

/// What the engine's `lib.rs` declares: its layers (top-level modules) and which layer each name
/// it re-exports comes from (`pub use model::{target, …}`, `pub use target::Target`, or another
/// crate re-exported whole, `pub use modelbench_diff as diff`, which is a node of its own).
struct Library {
    layers: BTreeSet<String>,
    names: BTreeMap<String, String>,
}

impl Library {
    fn read(source: &Path) -> Self {
        let text = fs::read_to_string(source.join("lib.rs")).expect("lib.rs");
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ");
        let statements: Vec<&str> = code.split(';').map(str::trim).collect();
        let layers: BTreeSet<String> = statements
            .iter()
            .filter_map(|statement| statement.strip_prefix("pub mod ").or(statement.strip_prefix("mod ")))
            .map(|name| name.trim().to_owned())
            .collect();
        let mut names: BTreeMap<String, String> = layers.iter().map(|layer| (layer.clone(), layer.clone())).collect();
        let uses: Vec<&str> = statements
            .iter()
            .filter_map(|statement| statement.strip_prefix("pub use "))
            .collect();
        // Re-exports build on each other (`pub use error::{Error, …}` after `pub use model::{error,
        // …}`): resolve until nothing changes.
        loop {
            let before = names.len();
            for statement in &uses {
                if let Some((path, alias)) = statement.split_once(" as ")
                    && !path.contains("::")
                {
                    // Another crate, re-exported whole: a node of its own.
                    names
                        .entry(alias.trim().to_owned())
                        .or_insert_with(|| alias.trim().to_owned());
                    continue;
                }
                let Some((path, imported)) = statement.split_once("::") else {
                    continue;
                };
                let Some(layer) = names.get(path.trim()).cloned() else {
                    continue;
                };
                let imported = imported.trim().trim_start_matches('{').trim_end_matches('}');
                for item in imported.split(',') {
                    let item = item.rsplit(" as ").next().unwrap_or(item);
                    let name = item.rsplit("::").next().unwrap_or(item).trim();
                    if !name.is_empty() {
                        names.entry(name.to_owned()).or_insert_with(|| layer.clone());
                    }
                }
            }
            if names.len() == before {
                break;
            }
        }
        Self { layers, names }
    }

    fn layer_of(&self, name: &str) -> Option<String> {
        self.names.get(name).cloned()
    }
}

fn rust_files(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(directory).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// How a path reached the crate root.
#[derive(Clone, Copy)]
enum Reach {
    /// `crate::`: certain.
    Crate,
    /// A `super::` chain as long as the file is deep: maybe (see the module's header).
    Super,
}

/// The crate-root names a line of code reaches: `x` for `crate::x::…` and each of `a`, `b` in
/// `crate::{a::…, b}`, and for `super::super::x` in a file `depth` modules below the root, `x`
/// when the chain climbs to the root.
fn top_level_names(line: &str, depth: usize) -> Vec<(String, Reach)> {
    let mut names = Vec::new();
    let bytes = line.as_bytes();
    let is_identifier = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$';
    let mut index = 0;
    while index < line.len() {
        let rest = &line[index..];
        let preceded = index > 0 && (is_identifier(bytes[index - 1]) || bytes[index - 1] == b':');
        let after_root = if preceded {
            None
        } else if let Some(after) = rest.strip_prefix("crate::") {
            Some((after, Reach::Crate))
        } else if rest.starts_with("super::") {
            let mut after = rest;
            let mut climbs = 0;
            while let Some(next) = after.strip_prefix("super::") {
                after = next;
                climbs += 1;
            }
            (climbs >= depth).then_some((after, Reach::Super))
        } else {
            None
        };
        let Some((after, reach)) = after_root else {
            index += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if let Some(group) = after.strip_prefix('{') {
            let mut level = 0;
            let mut item_start = true;
            for (offset, character) in group.char_indices() {
                match character {
                    '{' => level += 1,
                    '}' if level == 0 => break,
                    '}' => level -= 1,
                    ',' if level == 0 => item_start = true,
                    _ if item_start && (character.is_alphabetic() || character == '_') => {
                        names.push((identifier(&group[offset..]), reach));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = identifier(after);
            if !name.is_empty() {
                names.push((name, reach));
            }
        }
        index = line.len() - after.len();
    }
    names
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|character| character.is_alphanumeric() || *character == '_')
        .collect()
}
