//! The in-toto Statement v1 that weightseal signs (spec/attestation.md, "Statement").
//!
//! `{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": MODEL, "digest":
//! {"blake3": MANIFEST_DIGEST}}], "predicateType": PREDICATE_TYPE, "predicate": {...}}`. The
//! predicate says who attests (role, signer), when (issued_at, expires_at), which release
//! (version), where the model comes from (derived_from) and free annotations. Fields are
//! written in a fixed order and annotations sorted, so a statement has one serialization.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;
use crate::digest::Digest;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The weightseal predicate type.
pub const PREDICATE_TYPE: &str = "https://weightseal.dev/attestation/v1";
/// The predicate type of a reproduction attestation (spec/derive.md): the weightseal predicate
/// with a `derivation` member, no `version` and no `derived_from`.
pub const DERIVATION_PREDICATE_TYPE: &str = "https://weightseal.dev/derivation/v1";

/// How a model derives from another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Finetune,
    Quantized,
    Merge,
    Adapter,
    Distilled,
    Other,
}

impl Relation {
    pub fn parse(s: &str) -> Option<Relation> {
        Some(match s {
            "finetune" => Relation::Finetune,
            "quantized" => Relation::Quantized,
            "merge" => Relation::Merge,
            "adapter" => Relation::Adapter,
            "distilled" => Relation::Distilled,
            "other" => Relation::Other,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Finetune => "finetune",
            Relation::Quantized => "quantized",
            Relation::Merge => "merge",
            Relation::Adapter => "adapter",
            Relation::Distilled => "distilled",
            Relation::Other => "other",
        }
    }
}

/// A digest map: `{"blake3": hex}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSet {
    pub blake3: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub name: String,
    pub digest: DigestSet,
}

/// One parent of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedFrom {
    pub name: String,
    pub digest: DigestSet,
    pub relation: Relation,
}

/// The weightseal predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    pub role: String,
    pub signer: String,
    pub issued_at: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub expires_at: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub version: Option<u64>,
    #[serde(default)]
    pub derived_from: Vec<DerivedFrom>,
    #[serde(default, deserialize_with = "unique_strings")]
    pub annotations: BTreeMap<String, String>,
    /// A reproduction attestation's claim (only with [`DERIVATION_PREDICATE_TYPE`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub derivation: Option<Derivation>,
}

/// An OPTIONAL member that is present: its value, which `null` is not (spec/attestation.md,
/// "Statement": `null` is a value of the wrong type, not an absent member). An absent member
/// is `None` through `#[serde(default)]`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// What a reproduction attestation states: the derived release (its subject) was recomputed
/// from `base` with the recipe of digest `recipe`, every one of its `tensors` reproduced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derivation {
    pub base: Subject,
    pub recipe: DigestSet,
    pub tensors: u64,
    pub tool: String,
}

/// A JSON object of string values whose keys are distinct: a key given twice makes the
/// statement bad, as a member given twice does anywhere else in it.
fn unique_strings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of string values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format_args!(
                        "annotation {k:?} is given twice"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Predicate,
}

/// Why a payload is not a valid weightseal statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("payload is not a weightseal in-toto statement: {0}")]
    Json(String),
    #[error("_type is {0:?}, expected {STATEMENT_TYPE:?}")]
    StatementType(String),
    #[error(
        "predicateType is {0:?}, expected {PREDICATE_TYPE:?} or {DERIVATION_PREDICATE_TYPE:?}"
    )]
    PredicateType(String),
    #[error("{0}")]
    Derivation(&'static str),
    #[error("expected exactly one subject, found {0}")]
    SubjectCount(usize),
    #[error("{field}: {value:?} is not 64 lowercase hex digits")]
    BadDigest { field: &'static str, value: String },
    #[error("role {0:?} is not a lowercase word of 1 to 32 letters, digits or '-'")]
    BadRole(String),
    #[error("{field}: {source}")]
    BadTime {
        field: &'static str,
        source: super::time::TimeError,
    },
    #[error("expires_at {expires} is not after issued_at {issued}")]
    ExpiresBeforeIssued { issued: String, expires: String },
}

/// Is `role` a valid role word?
pub fn valid_role(role: &str) -> bool {
    (1..=32).contains(&role.len())
        && role
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn check_hex(field: &'static str, value: &str) -> Result<Digest, StatementError> {
    let lower = value
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    match Digest::from_hex(value) {
        Some(d) if lower => Ok(d),
        _ => Err(StatementError::BadDigest {
            field,
            value: value.chars().take(80).collect(),
        }),
    }
}

/// A statement that passed [`Statement::check`], with its times parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub statement: Statement,
    pub subject_digest: Digest,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl Statement {
    /// A statement about the manifest `digest` of model `name`.
    pub fn new(name: &str, digest: Digest, predicate: Predicate) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE.to_string(),
            subject: vec![Subject {
                name: name.to_string(),
                digest: DigestSet {
                    blake3: digest.to_hex(),
                },
            }],
            predicate_type: PREDICATE_TYPE.to_string(),
            predicate,
        }
    }

    /// The one serialization (compact JSON, fields in declared order, annotations sorted).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement serializes")
    }

    /// Parses a payload (already authenticated) and checks every field rule.
    pub fn parse(payload: &[u8]) -> Result<Checked, StatementError> {
        let s: Statement =
            serde_json::from_slice(payload).map_err(|e| StatementError::Json(e.to_string()))?;
        s.check()
    }

    pub fn check(self) -> Result<Checked, StatementError> {
        if self.statement_type != STATEMENT_TYPE {
            return Err(StatementError::StatementType(
                self.statement_type.chars().take(100).collect(),
            ));
        }
        match (self.predicate_type.as_str(), &self.predicate.derivation) {
            (PREDICATE_TYPE, None) => {}
            (PREDICATE_TYPE, Some(_)) => {
                return Err(StatementError::Derivation(
                    "predicate.derivation is only in a derivation statement",
                ))
            }
            (DERIVATION_PREDICATE_TYPE, None) => {
                return Err(StatementError::Derivation(
                    "a derivation statement needs predicate.derivation",
                ))
            }
            (DERIVATION_PREDICATE_TYPE, Some(d)) => {
                if self.predicate.version.is_some() || !self.predicate.derived_from.is_empty() {
                    return Err(StatementError::Derivation(
                        "a derivation statement states no version and no derived_from",
                    ));
                }
                check_hex("derivation.base.digest.blake3", &d.base.digest.blake3)?;
                check_hex("derivation.recipe.blake3", &d.recipe.blake3)?;
            }
            _ => {
                return Err(StatementError::PredicateType(
                    self.predicate_type.chars().take(100).collect(),
                ))
            }
        }
        if self.subject.len() != 1 {
            return Err(StatementError::SubjectCount(self.subject.len()));
        }
        let subject_digest = check_hex("subject.digest.blake3", &self.subject[0].digest.blake3)?;
        for d in &self.predicate.derived_from {
            check_hex("derived_from.digest.blake3", &d.digest.blake3)?;
        }
        if !valid_role(&self.predicate.role) {
            return Err(StatementError::BadRole(
                self.predicate.role.chars().take(40).collect(),
            ));
        }
        let issued_at = Timestamp::parse(&self.predicate.issued_at).map_err(|source| {
            StatementError::BadTime {
                field: "issued_at",
                source,
            }
        })?;
        let expires_at = match &self.predicate.expires_at {
            Some(e) => Some(
                Timestamp::parse(e).map_err(|source| StatementError::BadTime {
                    field: "expires_at",
                    source,
                })?,
            ),
            None => None,
        };
        if let Some(e) = expires_at {
            if e <= issued_at {
                return Err(StatementError::ExpiresBeforeIssued {
                    issued: self.predicate.issued_at.clone(),
                    expires: self.predicate.expires_at.clone().unwrap_or_default(),
                });
            }
        }
        Ok(Checked {
            statement: self,
            subject_digest,
            issued_at,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred() -> Predicate {
        Predicate {
            role: "publisher".into(),
            signer: "ACME".into(),
            issued_at: "2026-01-01T00:00:00Z".into(),
            expires_at: Some("2027-01-01T00:00:00Z".into()),
            version: Some(3),
            derived_from: vec![DerivedFrom {
                name: "base".into(),
                digest: DigestSet {
                    blake3: "ab".repeat(32),
                },
                relation: Relation::Quantized,
            }],
            annotations: [("license".to_string(), "apache-2.0".to_string())].into(),
            derivation: None,
        }
    }

    #[test]
    fn serializes_in_one_order_and_round_trips() {
        let s = Statement::new("org/m", Digest([1; 32]), pred());
        let b = s.to_bytes();
        let text = String::from_utf8(b.clone()).unwrap();
        assert!(text.starts_with(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"org/m","digest":{"blake3":"0101"#), "{text}");
        assert!(text.contains(r#""derived_from":[{"name":"base","digest":{"blake3":"abab"#));
        let c = Statement::parse(&b).unwrap();
        assert_eq!(c.statement, s);
        assert_eq!(c.subject_digest, Digest([1; 32]));
    }

    #[test]
    fn rejects_each_bad_field() {
        let mut s = Statement::new("m", Digest([1; 32]), pred());
        s.predicate.role = "Publisher".into();
        assert!(matches!(s.check(), Err(StatementError::BadRole(_))));
        let mut s = Statement::new("m", Digest([1; 32]), pred());
        s.predicate_type = "x".into();
        assert!(matches!(s.check(), Err(StatementError::PredicateType(_))));
        let mut s = Statement::new("m", Digest([1; 32]), pred());
        s.subject[0].digest.blake3 = "AB".repeat(32);
        assert!(matches!(s.check(), Err(StatementError::BadDigest { .. })));
        let mut s = Statement::new("m", Digest([1; 32]), pred());
        s.predicate.expires_at = Some("2025-01-01T00:00:00Z".into());
        assert!(matches!(
            s.check(),
            Err(StatementError::ExpiresBeforeIssued { .. })
        ));
        assert!(matches!(
            Statement::parse(b"{\"_type\":1}"),
            Err(StatementError::Json(_))
        ));
        // `null` for an OPTIONAL member is a value of the wrong type, not an absent member.
        let base = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"blake3":"0101010101010101010101010101010101010101010101010101010101010101"}}],"predicateType":"https://weightseal.dev/attestation/v1","predicate":{"role":"publisher","signer":"s","issued_at":"2026-01-01T00:00:00Z"MORE}}"#;
        assert!(Statement::parse(base.replace("MORE", "").as_bytes()).is_ok());
        for member in [
            "expires_at",
            "version",
            "derived_from",
            "annotations",
            "derivation",
        ] {
            let text = base.replace("MORE", &format!(",\"{member}\":null"));
            assert!(
                matches!(
                    Statement::parse(text.as_bytes()),
                    Err(StatementError::Json(_))
                ),
                "{member}: null"
            );
        }
        let with_unknown = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{},"extra":1}"#;
        assert!(matches!(
            Statement::parse(with_unknown.as_bytes()),
            Err(StatementError::Json(_))
        ));
    }
}
