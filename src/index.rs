//! Sharded checkpoints (spec/manifest.md, "Sharded checkpoints"): every
//! `*.safetensors.index.json` is read and its `weight_map` (tensor name → shard file, relative
//! to the index) is checked against the tensors the shards actually hold. A tensor mapped to a
//! shard that lacks it, a shard that does not exist, and a tensor a mapped shard holds but the
//! map does not list are problems: a loader following the index would fail or load the wrong
//! bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use crate::manifest::{open_for_hashing, Manifest};
use crate::path::ModelPath;
use crate::walk::Symlinks;

/// Largest index file read, in bytes.
pub const MAX_INDEX_LEN: u64 = 64 << 20;
/// Most problems reported per index file.
const MAX_PROBLEMS: usize = 50;

/// Is this path a sharded-checkpoint index?
pub fn is_index(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|n| n.ends_with(".safetensors.index.json"))
}

/// One way an index disagrees with its shards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexIssue {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("is not a JSON object with a \"weight_map\" of strings: {0}")]
    Malformed(String),
    #[error("maps tensor {tensor:?} to {shard:?}, which is not a valid path")]
    BadShardPath { tensor: String, shard: String },
    #[error("maps tensor {tensor:?} to {shard}, which does not exist")]
    MissingShard { tensor: String, shard: String },
    #[error("maps tensor {tensor:?} to {shard}, which has no tensors recorded")]
    NotATensorFile { tensor: String, shard: String },
    #[error("maps tensor {tensor:?} to {shard}, which does not hold it")]
    TensorNotInShard { tensor: String, shard: String },
    #[error("does not map tensor {tensor:?}, which {shard} holds")]
    Unmapped { tensor: String, shard: String },
    #[error("{0} more problem(s)")]
    More(usize),
}

impl IndexIssue {
    pub fn code(&self) -> &'static str {
        match self {
            IndexIssue::Unreadable(_) => "unreadable",
            IndexIssue::Malformed(_) => "malformed",
            IndexIssue::BadShardPath { .. } => "bad-shard-path",
            IndexIssue::MissingShard { .. } => "missing-shard",
            IndexIssue::NotATensorFile { .. } => "not-a-tensor-file",
            IndexIssue::TensorNotInShard { .. } => "tensor-not-in-shard",
            IndexIssue::Unmapped { .. } => "unmapped",
            IndexIssue::More(_) => "more",
        }
    }
}

/// A problem with one index file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{index}: {issue}")]
pub struct IndexProblem {
    pub index: String,
    pub issue: IndexIssue,
}

/// What is known of each file: `Some(tensor names)` for a tensor file, `None` for another file.
pub type FileTensors<'a> = HashMap<&'a str, Option<HashSet<&'a str>>>;

/// Checks the index at `index` (its bytes `json`) against `files`.
pub fn check(index: &str, json: &[u8], files: &FileTensors) -> Vec<IndexProblem> {
    let mut issues = Vec::new();
    let map = match weight_map(json) {
        Ok(m) => m,
        Err(issue) => {
            return vec![IndexProblem {
                index: index.to_string(),
                issue,
            }]
        }
    };
    let dir = index
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    let mut shards: BTreeMap<String, ()> = BTreeMap::new();
    for (tensor, shard) in &map {
        let full = format!("{dir}{shard}");
        if ModelPath::new(&full).is_err() {
            issues.push(IndexIssue::BadShardPath {
                tensor: tensor.clone(),
                shard: shard.clone(),
            });
            continue;
        }
        match files.get(full.as_str()) {
            None => issues.push(IndexIssue::MissingShard {
                tensor: tensor.clone(),
                shard: full,
            }),
            Some(None) => issues.push(IndexIssue::NotATensorFile {
                tensor: tensor.clone(),
                shard: full,
            }),
            Some(Some(names)) => {
                if !names.contains(tensor.as_str()) {
                    issues.push(IndexIssue::TensorNotInShard {
                        tensor: tensor.clone(),
                        shard: full.clone(),
                    });
                }
                shards.insert(full, ());
            }
        }
    }
    for shard in shards.keys() {
        if let Some(Some(names)) = files.get(shard.as_str()) {
            let mut unmapped: Vec<&&str> =
                names.iter().filter(|n| !map.contains_key(**n)).collect();
            unmapped.sort();
            for t in unmapped {
                issues.push(IndexIssue::Unmapped {
                    tensor: t.to_string(),
                    shard: shard.clone(),
                });
            }
        }
    }
    let extra = issues.len().saturating_sub(MAX_PROBLEMS);
    issues.truncate(MAX_PROBLEMS);
    if extra > 0 {
        issues.push(IndexIssue::More(extra));
    }
    issues
        .into_iter()
        .map(|issue| IndexProblem {
            index: index.to_string(),
            issue,
        })
        .collect()
}

/// The `weight_map` of an index file.
fn weight_map(json: &[u8]) -> Result<BTreeMap<String, String>, IndexIssue> {
    use serde::de::{Deserializer, Error, IgnoredAny, MapAccess, Visitor};
    /// A JSON object of strings whose keys are unique.
    struct Strings(BTreeMap<String, String>);
    impl<'de> serde::Deserialize<'de> for Strings {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Strings;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object of strings")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Strings, A::Error> {
                    let mut out = BTreeMap::new();
                    while let Some(k) = m.next_key::<String>()? {
                        let v = m.next_value::<String>()?;
                        if out.insert(k.clone(), v).is_some() {
                            return Err(A::Error::custom(format!(
                                "\"weight_map\" lists {k:?} twice"
                            )));
                        }
                    }
                    Ok(Strings(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    /// The top-level object: unique keys, `weight_map` kept, other members ignored.
    struct Top(Option<BTreeMap<String, String>>);
    impl<'de> serde::Deserialize<'de> for Top {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Top;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
                    let (mut seen, mut map) = (HashSet::new(), None);
                    while let Some(k) = m.next_key::<String>()? {
                        if k == "weight_map" {
                            map = Some(m.next_value::<Strings>()?.0);
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                        if !seen.insert(k.clone()) {
                            return Err(A::Error::custom(format!("key {k:?} appears twice")));
                        }
                    }
                    Ok(Top(map))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Top>(json)
        .map_err(|e| IndexIssue::Malformed(e.to_string()))?
        .0
        .ok_or_else(|| IndexIssue::Malformed("no \"weight_map\"".into()))
}

/// Reads an index file under `dir` (refusing symlinks and files over [`MAX_INDEX_LEN`]).
pub fn read_index(dir: &Path, path: &ModelPath, symlinks: Symlinks) -> Result<Vec<u8>, IndexIssue> {
    // With links followed (a Hugging Face snapshot, whose files are links into blobs/), the
    // index is read through its link like every other file of the model.
    let (f, size) = open_for_hashing(&path.under(dir), symlinks)
        .map_err(|e| IndexIssue::Unreadable(e.to_string()))?;
    if size > MAX_INDEX_LEN {
        return Err(IndexIssue::Unreadable(format!(
            "{size} bytes, more than the {MAX_INDEX_LEN} read"
        )));
    }
    let mut buf = Vec::with_capacity(size as usize);
    f.take(MAX_INDEX_LEN)
        .read_to_end(&mut buf)
        .map_err(|e| IndexIssue::Unreadable(e.to_string()))?;
    Ok(buf)
}

/// Checks every index file `files` lists, reading them from `dir` (following links as the
/// files were followed).
pub fn check_files(dir: &Path, files: &FileTensors, symlinks: Symlinks) -> Vec<IndexProblem> {
    let mut indexes: Vec<&&str> = files.keys().filter(|p| is_index(p)).collect();
    indexes.sort();
    let mut out = Vec::new();
    for index in indexes {
        let Ok(path) = ModelPath::new(index) else {
            continue;
        };
        match read_index(dir, &path, symlinks) {
            Ok(json) => out.extend(check(index, &json, files)),
            Err(issue) => out.push(IndexProblem {
                index: index.to_string(),
                issue,
            }),
        }
    }
    out
}

/// Checks the index files of `manifest` against the tensors it records, reading the index
/// files from `dir`.
pub fn check_dir(dir: &Path, manifest: &Manifest, symlinks: Symlinks) -> Vec<IndexProblem> {
    check_files(dir, &manifest_files(manifest), symlinks)
}

/// The [`FileTensors`] view of a manifest.
pub fn manifest_files(manifest: &Manifest) -> FileTensors<'_> {
    manifest
        .files()
        .iter()
        .map(|f| {
            let names = f
                .tensors
                .as_ref()
                .map(|t| t.tensors.iter().map(|x| x.name.as_str()).collect());
            (f.path.as_str(), names)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_an_object_with_unique_keys_and_a_weight_map_of_strings() {
        let mut files: FileTensors = HashMap::new();
        files.insert("a.safetensors", Some(["x"].into_iter().collect()));
        let codes = |json: &str| -> Vec<&str> {
            check("m.safetensors.index.json", json.as_bytes(), &files)
                .iter()
                .map(|p| p.issue.code())
                .collect()
        };
        // Other members, of any type, are ignored.
        assert!(codes(
            r#"{"metadata":{"total_size":1},"x":[1],"weight_map":{"x":"a.safetensors"}}"#
        )
        .is_empty());
        for bad in [
            r#"{"weight_map":{"x":"a.safetensors","x":"a.safetensors"}}"#,
            r#"{"weight_map":{"x":"a.safetensors"},"weight_map":{"x":"a.safetensors"}}"#,
            r#"{"metadata":{},"metadata":{},"weight_map":{"x":"a.safetensors"}}"#,
            r#"{"weight_map":{"x":1}}"#,
            r#"{"weight_map":[]}"#,
            r#"{"metadata":{}}"#,
            r#"["weight_map"]"#,
            r#"{"weight_map":{"x":"a.safetensors"}} x"#,
        ] {
            assert_eq!(codes(bad), ["malformed"], "{bad}");
        }
    }

    #[test]
    fn finds_each_kind_of_disagreement() {
        let mut files: FileTensors = HashMap::new();
        files.insert(
            "sub/a.safetensors",
            Some(["x", "y", "stray"].into_iter().collect()),
        );
        files.insert("sub/b.safetensors", Some(["z"].into_iter().collect()));
        files.insert("sub/config.json", None);
        let json = br#"{"metadata": {}, "weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "a.safetensors", "w": "c.safetensors", "v": "config.json", "u": "../up.safetensors"}}"#;
        let codes: Vec<(&str, String)> = check("sub/model.safetensors.index.json", json, &files)
            .iter()
            .map(|p| (p.issue.code(), p.issue.to_string()))
            .collect();
        assert_eq!(
            codes,
            vec![
                (
                    "bad-shard-path",
                    r#"maps tensor "u" to "../up.safetensors", which is not a valid path"#
                        .to_string()
                ),
                (
                    "not-a-tensor-file",
                    r#"maps tensor "v" to sub/config.json, which has no tensors recorded"#
                        .to_string()
                ),
                (
                    "missing-shard",
                    r#"maps tensor "w" to sub/c.safetensors, which does not exist"#.to_string()
                ),
                (
                    "tensor-not-in-shard",
                    r#"maps tensor "z" to sub/a.safetensors, which does not hold it"#.to_string()
                ),
                (
                    "unmapped",
                    r#"does not map tensor "stray", which sub/a.safetensors holds"#.to_string()
                ),
            ]
        );
        let bad = check("i.safetensors.index.json", b"[1]", &files);
        assert_eq!(bad[0].issue.code(), "malformed");
    }

    #[test]
    fn a_consistent_index_has_no_problem() {
        let mut files: FileTensors = HashMap::new();
        files.insert("a.safetensors", Some(["x"].into_iter().collect()));
        let json = br#"{"weight_map": {"x": "a.safetensors"}}"#;
        assert_eq!(check("model.safetensors.index.json", json, &files), vec![]);
        assert!(is_index("m/model.safetensors.index.json"));
        assert!(!is_index("model.safetensors"));
    }
}
