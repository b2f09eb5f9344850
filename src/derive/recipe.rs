//! Derivation recipes (spec/derive.md, "Recipe"): which base tensor each derived tensor comes
//! from, what it passes through, and which files of the derived release are new.
//!
//! A recipe is TOML:
//!
//! ```toml
//! version = 1
//! nan = "keep"                      # or "canonical" (PyTorch's NaN encoding)
//! new_files = ["README.md"]
//!
//! [[tensor]]
//! name = "blk.0.attn_q.weight"      # the derived tensor
//! from = "model.layers.0.self_attn.q_proj.weight"
//! permute = 32                      # llama.cpp's Q/K row permutation, with 32 heads
//! via = ["F16"]                     # rounded to F16 on the way
//! ```
//!
//! Derived tensors the recipe does not list come from the base tensor of the same name. The
//! recipe's digest (what a reproduction attestation signs) is the BLAKE3 of its canonical JSON
//! ([`Recipe::canonical`]), so the same recipe written two ways has one digest.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::float::NanRule;
use crate::digest::Digest;

/// Largest recipe file read.
pub const MAX_RECIPE_LEN: u64 = 64 << 20;
/// Most `via` steps for one tensor.
pub const MAX_VIA: usize = 4;
/// Largest head count a `permute` may give.
pub const MAX_HEADS: u64 = 1 << 20;

/// How one derived tensor is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The base tensor.
    pub from: String,
    /// llama.cpp's Q/K row permutation with this many heads, if applied.
    pub permute: Option<u64>,
    /// Dtypes the values are rounded to on the way, in order.
    pub via: Vec<String>,
}

/// A recipe: explicit steps by derived tensor name, the new files, the NaN rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipe {
    pub nan: NanRule,
    pub new_files: BTreeSet<String>,
    pub tensors: BTreeMap<String, Step>,
}

/// Why a recipe was refused: the field and what was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecipeError {
    #[error("recipe: {0}")]
    Toml(String),
    #[error("recipe: version is {0}, expected 1")]
    Version(u64),
    #[error("recipe: nan is {0:?}, expected \"keep\" or \"canonical\"")]
    Nan(String),
    #[error("recipe: tensor {0:?} is listed twice")]
    Duplicate(String),
    #[error("recipe: tensor {name:?}: {field} {problem}")]
    Field {
        name: String,
        field: &'static str,
        problem: String,
    },
    #[error("recipe: new_files: {0:?} is not a model path ({1})")]
    NewFile(String, String),
}

impl RecipeError {
    /// A stable code (spec/derive.md, "Error codes").
    pub fn code(&self) -> &'static str {
        match self {
            RecipeError::Toml(_) => "recipe-syntax",
            RecipeError::Version(_) => "recipe-version",
            RecipeError::Nan(_) => "recipe-nan",
            RecipeError::Duplicate(_) => "recipe-duplicate",
            RecipeError::Field { .. } => "recipe-field",
            RecipeError::NewFile(..) => "recipe-new-file",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    version: u64,
    #[serde(default)]
    nan: Option<String>,
    #[serde(default)]
    new_files: Vec<String>,
    #[serde(default)]
    tensor: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    from: Option<String>,
    permute: Option<u64>,
    #[serde(default)]
    via: Vec<String>,
}

/// The dtypes a value may be rounded to on the way.
const VIA: &[&str] = &["F32", "F16", "BF16"];

fn check_name(name: &str, field: &'static str, of: &str) -> Result<(), RecipeError> {
    if name.is_empty() || name.len() > crate::manifest::MAX_NAME_LEN {
        return Err(RecipeError::Field {
            name: of.to_string(),
            field,
            problem: format!(
                "must be 1 to {} bytes, is {}",
                crate::manifest::MAX_NAME_LEN,
                name.len()
            ),
        });
    }
    Ok(())
}

impl Recipe {
    /// Parses a recipe file's text.
    pub fn parse(text: &str) -> Result<Recipe, RecipeError> {
        let raw: RawRecipe = toml::from_str(text).map_err(|e| {
            RecipeError::Toml(e.to_string().lines().take(6).collect::<Vec<_>>().join(" "))
        })?;
        if raw.version != 1 {
            return Err(RecipeError::Version(raw.version));
        }
        let nan = match raw.nan.as_deref() {
            None | Some("keep") => NanRule::Keep,
            Some("canonical") => NanRule::Canonical,
            Some(other) => return Err(RecipeError::Nan(other.chars().take(100).collect())),
        };
        let mut new_files = BTreeSet::new();
        for f in raw.new_files {
            if let Err(e) = crate::path::ModelPath::new(&f) {
                return Err(RecipeError::NewFile(
                    f.chars().take(200).collect(),
                    e.to_string(),
                ));
            }
            // A new file holds no tensors: one named like a tensor file is loaded as weights
            // by a runtime, so it is derived (and reproduced) or the base's, never new.
            if let Some(fmt) = crate::formats::Format::claimed_by(std::path::Path::new(&f)) {
                return Err(RecipeError::NewFile(
                    f.chars().take(200).collect(),
                    format!(
                        "named like a {} file: a tensor file is reproduced or the base's, never new",
                        fmt.as_str()
                    ),
                ));
            }
            new_files.insert(f);
        }
        let mut tensors = BTreeMap::new();
        for s in raw.tensor {
            check_name(&s.name, "name", &s.name)?;
            let from = s.from.unwrap_or_else(|| s.name.clone());
            check_name(&from, "from", &s.name)?;
            if let Some(h) = s.permute {
                if h == 0 || h > MAX_HEADS {
                    return Err(RecipeError::Field {
                        name: s.name,
                        field: "permute",
                        problem: format!("is {h}, expected a head count from 1 to {MAX_HEADS}"),
                    });
                }
            }
            if s.via.len() > MAX_VIA {
                return Err(RecipeError::Field {
                    name: s.name,
                    field: "via",
                    problem: format!("has {} steps, at most {MAX_VIA} allowed", s.via.len()),
                });
            }
            if let Some(bad) = s.via.iter().find(|v| !VIA.contains(&v.as_str())) {
                return Err(RecipeError::Field {
                    name: s.name.clone(),
                    field: "via",
                    problem: format!(
                        "names {:?}, expected one of F32, F16, BF16",
                        bad.chars().take(40).collect::<String>()
                    ),
                });
            }
            if tensors.contains_key(&s.name) {
                return Err(RecipeError::Duplicate(s.name));
            }
            tensors.insert(
                s.name,
                Step {
                    from,
                    permute: s.permute,
                    via: s.via,
                },
            );
        }
        Ok(Recipe {
            nan,
            new_files,
            tensors,
        })
    }

    /// The step for a derived tensor: the recipe's, or the base tensor of the same name.
    pub fn step(&self, derived: &str) -> Step {
        self.tensors.get(derived).cloned().unwrap_or_else(|| Step {
            from: derived.to_string(),
            permute: None,
            via: Vec::new(),
        })
    }

    /// The canonical JSON of the recipe as applied to a derived release whose tensors are
    /// `derived` (every derived tensor listed, with its step), and its new files:
    /// `{"nan":"keep","new_files":[...],"tensors":[{"from":..,"name":..,"permute":N,
    /// "via":[..]},...],"version":1}`: object members sorted by name, `permute` only when
    /// given, tensors sorted by name bytes, new files sorted by bytes, no whitespace, strings
    /// escaped as RFC 8785 (JCS) does.
    pub fn canonical<'a>(&self, derived: impl IntoIterator<Item = &'a str>) -> String {
        let names: BTreeSet<&str> = derived.into_iter().collect();
        let tensors: Vec<serde_json::Value> = names
            .iter()
            .map(|n| {
                let s = self.step(n);
                let mut m = serde_json::Map::new();
                m.insert("name".into(), (*n).into());
                m.insert("from".into(), s.from.into());
                if let Some(h) = s.permute {
                    m.insert("permute".into(), h.into());
                }
                m.insert("via".into(), s.via.into());
                serde_json::Value::Object(m)
            })
            .collect();
        let mut top = serde_json::Map::new();
        top.insert("version".into(), 1.into());
        top.insert(
            "nan".into(),
            match self.nan {
                NanRule::Keep => "keep",
                NanRule::Canonical => "canonical",
            }
            .into(),
        );
        top.insert(
            "new_files".into(),
            self.new_files.iter().cloned().collect::<Vec<_>>().into(),
        );
        top.insert("tensors".into(), tensors.into());
        serde_json::Value::Object(top).to_string()
    }

    /// The recipe digest: BLAKE3 of [`Recipe::canonical`].
    pub fn digest<'a>(&self, derived: impl IntoIterator<Item = &'a str>) -> Digest {
        Digest(*blake3::hash(self.canonical(derived).as_bytes()).as_bytes())
    }

    /// The recipe as TOML (every derived tensor listed), for `derive check --write-recipe`.
    pub fn to_toml<'a>(&self, derived: impl IntoIterator<Item = &'a str>) -> String {
        // A JSON string is a TOML basic string, but for DEL, which TOML requires escaped.
        let q = |s: &str| {
            serde_json::Value::from(s)
                .to_string()
                .replace('\u{7f}', "\\u007f")
        };
        let mut out = String::from("version = 1\n");
        out.push_str(&format!(
            "nan = {}\n",
            q(match self.nan {
                NanRule::Keep => "keep",
                NanRule::Canonical => "canonical",
            })
        ));
        let files: Vec<String> = self.new_files.iter().map(|f| q(f)).collect();
        out.push_str(&format!("new_files = [{}]\n", files.join(", ")));
        let names: BTreeSet<&str> = derived.into_iter().collect();
        for n in names {
            let s = self.step(n);
            out.push_str(&format!(
                "\n[[tensor]]\nname = {}\nfrom = {}\n",
                q(n),
                q(&s.from)
            ));
            if let Some(h) = s.permute {
                out.push_str(&format!("permute = {h}\n"));
            }
            if !s.via.is_empty() {
                let v: Vec<String> = s.via.iter().map(|x| q(x)).collect();
                out.push_str(&format!("via = [{}]\n", v.join(", ")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalises() {
        let r = Recipe::parse(
            r#"version = 1
new_files = ["b.md", "a.md"]
[[tensor]]
name = "blk.0.attn_q.weight"
from = "q"
permute = 4
via = ["F16"]
"#,
        )
        .unwrap();
        assert_eq!(r.step("x").from, "x");
        let c = r.canonical(["blk.0.attn_q.weight", "x"]);
        assert_eq!(
            c,
            r#"{"nan":"keep","new_files":["a.md","b.md"],"tensors":[{"from":"q","name":"blk.0.attn_q.weight","permute":4,"via":["F16"]},{"from":"x","name":"x","via":[]}],"version":1}"#
        );
        // The TOML it writes reads back as the same recipe.
        let again = Recipe::parse(&r.to_toml(["blk.0.attn_q.weight", "x"])).unwrap();
        assert_eq!(again.canonical(["blk.0.attn_q.weight", "x"]), c);
    }

    /// A name with characters JSON leaves as they are but TOML must escape (DEL) is written
    /// so that it reads back as the same recipe.
    #[test]
    fn written_recipes_read_back_for_every_name() {
        let names = ["a\u{7f}b", "q\"\\\u{1}\u{1f}\t\n\u{2028}é", "x"];
        let r =
            Recipe::parse("version = 1\n[[tensor]]\nname = \"x\"\nfrom = \"a\\u007Fb\"\n").unwrap();
        let again = Recipe::parse(&r.to_toml(names)).unwrap();
        assert_eq!(again.canonical(names), r.canonical(names));
        assert_eq!(again.step("x").from, "a\u{7f}b");
    }

    #[test]
    fn refuses_bad_recipes_with_the_field() {
        let e = |t: &str| Recipe::parse(t).unwrap_err().code();
        assert_eq!(e("version = 2"), "recipe-version");
        assert_eq!(e("version = 1\nnan = \"x\""), "recipe-nan");
        assert_eq!(e("version = 1\nextra = 1"), "recipe-syntax");
        assert_eq!(
            e("version = 1\n[[tensor]]\nname = \"a\"\n[[tensor]]\nname = \"a\""),
            "recipe-duplicate"
        );
        assert_eq!(
            e("version = 1\n[[tensor]]\nname = \"a\"\npermute = 0"),
            "recipe-field"
        );
        assert_eq!(
            e("version = 1\n[[tensor]]\nname = \"a\"\nvia = [\"Q8_0\"]"),
            "recipe-field"
        );
        assert_eq!(e("version = 1\nnew_files = [\"../x\"]"), "recipe-new-file");
        assert_eq!(
            e("version = 1\nnew_files = [\"extra.safetensors\"]"),
            "recipe-new-file"
        );
        assert_eq!(
            e("version = 1\nnew_files = [\"a/b.gguf\"]"),
            "recipe-new-file"
        );
    }
}
