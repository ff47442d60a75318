//! The workspace's one-way layering (docs: shared notes, architecture.md §3 "Dependency
//! direction"), checked from `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Workspace crate -> the workspace crates it may depend on (normal and build dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("stomp-codec", &[]),
    ("jms-model", &[]),
    ("broker-store", &[]),
    ("broker-config", &[]),
    ("broker-core", &["broker-store", "jms-model"]),
    (
        "broker-stomp",
        &["stomp-codec", "jms-model", "broker-core", "broker-store"],
    ),
    (
        "broker-net",
        &[
            "broker-stomp",
            "broker-core",
            "broker-config",
            "broker-store",
            "stomp-codec",
        ],
    ),
    ("store-rocksdb", &["broker-store"]),
    (
        "ferromq",
        &[
            "broker-net",
            "broker-core",
            "broker-config",
            "broker-store",
            "store-rocksdb",
        ],
    ),
    // The dev-only testkit drives the whole stack in-process.
    (
        "ferromq-tests",
        &[
            "stomp-codec",
            "broker-store",
            "broker-config",
            "broker-core",
            "broker-stomp",
            "broker-net",
            "store-rocksdb",
        ],
    ),
    // The load generator is a STOMP client: it speaks to the broker over sockets only.
    ("ferromq-bench", &["stomp-codec"]),
];

/// Crates that must stay free of tokio (no I/O, no runtime).
const PURE: &[&str] = &["stomp-codec", "jms-model", "broker-store", "broker-config"];

struct Dep {
    name: String,
    kind: Option<String>,
}

struct Pkg {
    name: String,
    is_lib: bool,
    deps: Vec<Dep>,
}

fn workspace() -> Vec<Pkg> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .map(|p| Pkg {
            name: p["name"].as_str().expect("package name").to_owned(),
            is_lib: p["targets"].as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    t["kind"].as_array().is_some_and(|ks| {
                        ks.iter().any(|k| {
                            matches!(
                                k.as_str(),
                                Some(
                                    "lib"
                                        | "rlib"
                                        | "dylib"
                                        | "cdylib"
                                        | "staticlib"
                                        | "proc-macro"
                                )
                            )
                        })
                    })
                })
            }),
            deps: p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .map(|d| Dep {
                    name: d["name"].as_str().expect("dependency name").to_owned(),
                    kind: d["kind"].as_str().map(str::to_owned),
                })
                .collect(),
        })
        .collect()
}

/// Normal (`kind: null`) and build dependencies: what ships in the crate.
fn shipped(d: &Dep) -> bool {
    d.kind.as_deref() != Some("dev")
}

#[test]
fn workspace_crates_depend_only_downwards() {
    let pkgs = workspace();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let names: BTreeSet<String> = pkgs.iter().map(|p| p.name.clone()).collect();
    let mut problems = Vec::new();
    for p in &pkgs {
        let Some(ok) = allowed.get(p.name.as_str()) else {
            problems.push(format!(
                "workspace crate `{}` is not in the layering table: add it to ALLOWED in \
                 tests/tests/dependency_direction.rs with the workspace crates it may use \
                 (see architecture.md §3)",
                p.name
            ));
            continue;
        };
        for d in p.deps.iter().filter(|d| shipped(d)) {
            if names.contains(&d.name) && !ok.contains(&d.name.as_str()) {
                problems.push(format!(
                    "`{}` depends on `{}`, which the layering does not allow (allowed: {:?})",
                    p.name, d.name, ok
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_store_rocksdb_uses_rocksdb() {
    let offenders: Vec<String> = workspace()
        .iter()
        .filter(|p| p.name != "store-rocksdb")
        .filter(|p| {
            p.deps
                .iter()
                .any(|d| d.name == "rocksdb" || d.name == "librocksdb-sys")
        })
        .map(|p| p.name.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "only store-rocksdb may depend on rocksdb; also: {offenders:?}"
    );
}

#[test]
fn no_library_crate_uses_anyhow() {
    let offenders: Vec<String> = workspace()
        .iter()
        .filter(|p| p.is_lib)
        .filter(|p| p.deps.iter().any(|d| shipped(d) && d.name == "anyhow"))
        .map(|p| p.name.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "library crates must use typed errors (thiserror), not anyhow: {offenders:?}"
    );
}

#[test]
fn pure_crates_do_not_use_tokio() {
    let pkgs = workspace();
    let mut problems = Vec::new();
    for name in PURE {
        let Some(p) = pkgs.iter().find(|p| p.name == *name) else {
            problems.push(format!("pure crate `{name}` is missing from the workspace"));
            continue;
        };
        for d in p.deps.iter().filter(|d| shipped(d)) {
            if d.name == "tokio" {
                problems.push(format!("pure crate `{name}` depends on tokio"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn layering_table_names_no_stale_crates() {
    // A table entry whose crate is gone is harmless but misleading; planned crates are fine
    // as long as they are listed here on purpose.
    const PLANNED: &[&str] = &["store-rocksdb"];
    let names: BTreeSet<String> = workspace().into_iter().map(|p| p.name).collect();
    for (name, _) in ALLOWED {
        assert!(
            names.contains(*name) || PLANNED.contains(name),
            "ALLOWED lists `{name}`, which is not a workspace crate"
        );
    }
}
