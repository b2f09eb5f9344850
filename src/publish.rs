//! Publishing a release: hash a model directory into its manifest (or check the stored one
//! still describes it), sign it, and write the manifest, the attestation bundle and, when
//! asked, an OpenSSF model signing bundle. Every front end (the CLI's `sign`, the Python
//! package's `sign`) calls [`publish`] and renders its [`Published`].
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use weightseal::attest::{time::Timestamp, Claims, PrivateKey};
//! use weightseal::progress::NoProgress;
//! use weightseal::publish::{publish, PublishOptions};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("weights.bin"), vec![7u8; 100_000])?;
//! let key = PrivateKey::from_seed(&[1; 32]);
//! let claims = Claims {
//!     role: "publisher".into(), signer: "ACME".into(), issued_at: Timestamp::now(),
//!     expires_at: None, version: Some(1), derived_from: vec![], annotations: Default::default(),
//! };
//! let opts = PublishOptions::for_dir(dir.path());
//! let p = publish(dir.path(), &key, &claims, &opts, &NoProgress)?;
//! assert!(p.manifest_written);
//! assert_eq!(p.attestations, Some(1));
//! assert!(dir.path().join("weightseal.manifest").exists());
//! assert!(dir.path().join("weightseal.intoto.jsonl").exists());
//!
//! // Signing again with the same key and role replaces that attestation.
//! let again = publish(dir.path(), &key, &claims, &opts, &NoProgress)?;
//! assert!(!again.manifest_written && again.replaced && again.attestations == Some(1));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::attest::bundle;
use crate::attest::dsse::Envelope;
use crate::attest::statement::Statement;
use crate::attest::{attest, Claims, PrivateKey, SignError};
use crate::manifest::{build, BuildError, BuildOptions, Built, Manifest, ManifestError, Sha256};
use crate::path::{ATTESTATION_FILE, MANIFEST_FILE, PARTIAL_DIR};
use crate::progress::Progress;
use crate::verify::{verify_dir, VerifyError, VerifyOptions};

/// Which signature formats to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A weightseal attestation appended to the bundle.
    #[default]
    Weightseal,
    /// An OpenSSF model signing bundle only (no manifest is written).
    Oms,
    Both,
}

/// Where to write and what to check.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// How to hash the directory when no manifest is stored (the manifest path is always left
    /// out of it).
    pub build: BuildOptions,
    /// The manifest: read when it exists (and checked against the directory), written when not.
    pub manifest_path: PathBuf,
    /// The attestation bundle the signature is added to.
    pub attestations: PathBuf,
    /// Sign a stored manifest without checking that the directory still matches it.
    pub manifest_only: bool,
    pub format: Format,
    /// Where the OpenSSF model signing bundle goes (`Format::Oms`, `Format::Both`).
    pub oms_signature: PathBuf,
    /// The stat record directory ([`crate::manifest::update`]): when it holds a record made
    /// for the stored manifest, the directory is checked against it by re-reading only the
    /// files whose stat changed, and the record is refreshed. `None`: read every file.
    pub stat_cache: Option<PathBuf>,
}

impl PublishOptions {
    /// The defaults for a model directory: `DIR/weightseal.manifest`,
    /// `DIR/weightseal.intoto.jsonl`, a weightseal attestation only.
    pub fn for_dir(dir: &Path) -> PublishOptions {
        PublishOptions {
            build: BuildOptions::default(),
            manifest_path: dir.join(MANIFEST_FILE),
            attestations: dir.join(ATTESTATION_FILE),
            manifest_only: false,
            format: Format::Weightseal,
            oms_signature: PathBuf::from("model.sig"),
            stat_cache: crate::manifest::update::cache_dir(),
        }
    }
}

/// What was published.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    #[serde(skip)]
    pub manifest: Manifest,
    /// The directory was hashed and the manifest written (it did not exist).
    pub manifest_written: bool,
    pub key_id: String,
    /// Envelopes in the bundle after signing (`None`: no weightseal attestation was written).
    pub attestations: Option<usize>,
    /// An attestation by the same key, role and manifest was in the bundle and was replaced
    /// rather than duplicated.
    pub replaced: bool,
    /// Files signed in the OpenSSF model signing bundle, when one was written.
    pub oms_files: Option<usize>,
    /// Hashing warnings (unparsable tensor files, index problems) and signing notes.
    pub warnings: Vec<String>,
    /// The stored manifest was checked with the stat record: how many files were re-read
    /// (changed or racy) and how many were taken as unchanged.
    pub stat_checked: Option<StatChecked>,
}

/// How a stored manifest was checked with the stat record.
#[derive(Clone, Debug, Serialize)]
pub struct StatChecked {
    pub rehashed: Vec<String>,
    pub unchanged: usize,
}

/// Why publishing failed. Nothing is written unless everything before the write succeeded.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("hashing {}: {source}", dir.display())]
    Build {
        dir: PathBuf,
        #[source]
        source: BuildError,
    },
    #[error("invalid manifest {}: {source}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: ManifestError,
    },
    #[error("checking {}: {source}", dir.display())]
    Check {
        dir: PathBuf,
        #[source]
        source: VerifyError,
    },
    /// A name was asked for, and the stored manifest records another (the name is part of the
    /// manifest and its digest: renaming means hashing again).
    #[error("the manifest {} names the model {found:?}, not {asked:?}: the name is part of the manifest and its digest, so hash again with `weightseal hash DIR --name {asked}` (or sign without --name)", manifest.display())]
    NameMismatch {
        manifest: PathBuf,
        asked: String,
        found: String,
    },
    /// The stored manifest does not describe the directory any more.
    #[error("the manifest {} does not match the directory {} ({} path(s) differ, e.g. {})", manifest.display(), dir.display(), paths.len(), paths.first().map(String::as_str).unwrap_or("?"))]
    Mismatch {
        manifest: PathBuf,
        dir: PathBuf,
        paths: Vec<String>,
    },
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error("{}: no SHA-256 recorded for {path} (the manifest was hashed without it)", manifest.display())]
    NoSha256 { manifest: PathBuf, path: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Publishes the model in `dir`: the stored manifest (checked against the directory unless
/// `manifest_only`) or a fresh one (written), signed with `key` as `claims` say.
pub fn publish(
    dir: &Path,
    key: &PrivateKey,
    claims: &Claims,
    opts: &PublishOptions,
    progress: &dyn Progress,
) -> Result<Published, PublishError> {
    let path = &opts.manifest_path;
    let oms = opts.format != Format::Weightseal;
    let stored = match path.exists() {
        true => Some(
            Manifest::read_file(path).map_err(|source| PublishError::Manifest {
                path: path.clone(),
                source,
            })?,
        ),
        false => None,
    };
    let mut warnings = Vec::new();
    // With a stat record made for the stored manifest, re-read only what changed.
    let checked = match (&stored, &opts.stat_cache) {
        // (An OMS signature over a manifest without SHA-256 values hashes everything anyway.)
        (Some(m), Some(cache))
            if !opts.manifest_only && (!oms || m.files().iter().all(|f| f.sha256.is_some())) =>
        {
            crate::manifest::update::check_with_record(
                dir,
                opts.build.symlinks,
                opts.build.only.as_deref(),
                std::slice::from_ref(path),
                path,
                cache,
                progress,
            )
            .map_err(|source| PublishError::Build {
                dir: dir.to_path_buf(),
                source,
            })?
        }
        _ => None,
    };
    if let Some(e) = checked.as_ref().and_then(|u| u.record_error.as_ref()) {
        warnings.push(format!("stat record not refreshed: {e}"));
    }
    let hash = |sha256: Sha256, warnings: &mut Vec<String>| {
        let mut b = opts.build.clone();
        b.exclude.push(path.clone());
        if sha256 == Sha256::Record {
            b.sha256 = Sha256::Record;
        }
        let built = build(dir, &b, progress).map_err(|source| PublishError::Build {
            dir: dir.to_path_buf(),
            source,
        })?;
        warnings.extend(built.warnings.iter().map(ToString::to_string));
        Ok::<_, PublishError>(built.manifest)
    };
    // The OMS bundle needs every file's SHA-256, computed from the bytes: hash once, with it,
    // and check the stored manifest against that same pass. A stored manifest's SHA-256
    // values are used only when the stat record vouches that this program computed them for
    // these very files (spec/manifest.md, "Security": no digest is used that was not checked
    // against bytes).
    // (`--manifest-only` vouches for the stored manifest as it is, without reading a byte.)
    let fresh = if oms
        && ((checked.is_none() && !opts.manifest_only)
            || stored
                .as_ref()
                .is_none_or(|m| m.files().iter().any(|f| f.sha256.is_none())))
    {
        Some(hash(Sha256::Record, &mut warnings)?)
    } else {
        None
    };
    let mut manifest_written = false;
    let m = match stored {
        Some(m) => {
            if let Some(asked) = &opts.build.name {
                if m.name() != asked {
                    return Err(PublishError::NameMismatch {
                        manifest: path.clone(),
                        asked: asked.clone(),
                        found: m.name().to_string(),
                    });
                }
            }
            if !opts.manifest_only {
                let paths = match (&fresh, &checked) {
                    (Some(f), _)
                    | (
                        None,
                        Some(crate::manifest::update::Updated {
                            built: Built { manifest: f, .. },
                            ..
                        }),
                    ) => {
                        let d = crate::diff::diff_manifests(&m, f);
                        // A SHA-256 the stored manifest records that the bytes do not have is
                        // a change too: the manifest would contradict itself.
                        let sha_differs = m.files().iter().filter_map(|s| {
                            let found = f.file(s.path.as_str())?;
                            // (A file whose bytes changed is named once, as changed.)
                            (s.sha256.is_some()
                                && found.sha256.is_some()
                                && s.sha256 != found.sha256
                                && !d.files_changed.iter().any(|c| c.path == s.path.as_str()))
                            .then(|| format!("{} (its recorded SHA-256)", s.path))
                        });
                        d.files_added
                            .iter()
                            .chain(&d.files_removed)
                            .cloned()
                            .chain(d.files_changed.iter().map(|c| c.path.clone()))
                            .chain(sha_differs)
                            .collect()
                    }
                    (None, None) => {
                        let vo = VerifyOptions {
                            exclude: vec![path.clone()],
                            only: opts.build.only.clone(),
                            ..Default::default()
                        };
                        let report = verify_dir(dir, &m, &vo, progress).map_err(|source| {
                            PublishError::Check {
                                dir: dir.to_path_buf(),
                                source,
                            }
                        })?;
                        let mut bad: Vec<String> = report
                            .files
                            .iter()
                            .filter(|f| !f.status.passes())
                            .map(|f| f.path.clone())
                            .collect();
                        if !report.ok && bad.is_empty() {
                            bad.push("an index file".into());
                        }
                        bad
                    }
                };
                let mut paths: Vec<String> = paths;
                if paths.is_empty()
                    && fresh.is_none()
                    && checked
                        .as_ref()
                        .is_some_and(|u| u.built.manifest.encode() != m.encode())
                {
                    paths.push("the manifest's name or chunk size".into());
                }
                if !paths.is_empty() {
                    return Err(PublishError::Mismatch {
                        manifest: path.clone(),
                        dir: dir.to_path_buf(),
                        paths,
                    });
                }
            }
            m
        }
        None => {
            let m = match &fresh {
                Some(f) => f.clone(),
                None => hash(Sha256::Skip, &mut warnings)?,
            };
            if opts.format != Format::Oms {
                write(path, &m.encode())?;
                manifest_written = true;
            }
            m
        }
    };
    let mut published = Published {
        key_id: key.public().id().to_string(),
        manifest: m,
        manifest_written,
        attestations: None,
        replaced: false,
        oms_files: None,
        warnings,
        stat_checked: checked.map(|u| StatChecked {
            unchanged: u.reused.len(),
            rehashed: u.hashed,
        }),
    };
    if oms {
        let with_sha = fresh.as_ref().unwrap_or(&published.manifest);
        if key.algorithm() == crate::attest::keys::Algorithm::Ed25519 {
            published.warnings.push("model_signing verifies ECDSA keys only, so it will not verify this ed25519 signature (weightseal will); for model_signing users sign with a P-256 key: `weightseal keygen --type ecdsa-p256 --out KEY`".into());
        }
        published.oms_files = Some(sign_oms(
            dir,
            with_sha,
            key,
            &opts.oms_signature,
            opts.build.only.as_deref(),
        )?);
    }
    if opts.format != Format::Oms {
        let env = attest(&published.manifest, key, claims)?;
        let existing = match std::fs::read_to_string(&opts.attestations) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(bundle::BundleError::Io {
                    path: opts.attestations.clone(),
                    source,
                }
                .into())
            }
        };
        let (text, replaced) = upsert(&existing, &env, key, &published.manifest, &claims.role);
        write(&opts.attestations, text.as_bytes())?;
        published.attestations = Some(bundle::parse(&text).len());
        published.replaced = replaced;
    }
    Ok(published)
}

/// The bundle with `env` in it: in place of the line that `key` signed over the same manifest
/// in the same role (`true`), or appended.
pub(crate) fn upsert(
    existing: &str,
    env: &Envelope,
    key: &PrivateKey,
    m: &Manifest,
    role: &str,
) -> (String, bool) {
    let public = [key.public()];
    let kind = |e: &Envelope| {
        e.verify(&public)
            .ok()
            .and_then(|(p, _)| Statement::parse(&p).ok())
            .map(|c| c.statement.predicate_type)
    };
    let new_kind = kind(env);
    let same = |line: &str| {
        let Ok(e) = Envelope::parse(line.trim()) else {
            return false;
        };
        let Ok((payload, _)) = e.verify(&public) else {
            return false;
        };
        Statement::parse(&payload).is_ok_and(|c| {
            c.subject_digest == m.digest()
                && Some(&c.statement.predicate_type) == new_kind.as_ref()
                && c.statement.predicate.role == role
                && c.statement.subject.iter().any(|s| s.name == m.name())
        })
    };
    let mut out = String::new();
    let mut replaced = false;
    for line in existing.lines() {
        if !replaced && !line.trim().is_empty() && same(line) {
            out.push_str(&env.to_line());
            replaced = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if replaced {
        (out, true)
    } else {
        (bundle::appended(existing, env), false)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    crate::fsutil::write_atomic(path, bytes, 0o644).map_err(|source| PublishError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the OMS bundle of `dir` (hashed with per-file SHA-256 in `m`) to `sig_path`, leaving
/// out what model_signing leaves out by default, weightseal's own files and the signature
/// itself. A single-file model (`only`: its file name in `dir`) is signed as
/// `model_signing sign key FILE` signs it: one resource named `.`, the model named after the
/// file. Returns the number of files signed.
pub fn sign_oms(
    dir: &Path,
    m: &Manifest,
    key: &PrivateKey,
    sig_path: &Path,
    only: Option<&str>,
) -> Result<usize, PublishError> {
    use crate::oms::{self, SignedFile, GIT_PATHS};
    // Every evidence file, present or not: a log proof or a bundle added later must not make
    // the directory differ from what this signature covers (spec/manifest.md, "Release
    // directory").
    let mut ignore: Vec<String> = GIT_PATHS.iter().map(|s| s.to_string()).collect();
    ignore.push(PARTIAL_DIR.to_string());
    ignore.extend(crate::path::EVIDENCE_FILES.iter().map(|s| s.to_string()));
    // The signature file itself, when it is inside the model.
    let parent = match sig_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let (Ok(root), Ok(pc)) = (dir.canonicalize(), parent.canonicalize()) {
        if let Ok(rel) = pc
            .join(sig_path.file_name().unwrap_or_default())
            .strip_prefix(&root)
        {
            ignore.push(rel.to_string_lossy().into_owned());
        }
    }
    let mut files = Vec::new();
    for f in m.files() {
        let p = f.path.as_str();
        if ignore
            .iter()
            .any(|i| p == i || p.starts_with(&format!("{i}/")))
        {
            continue;
        }
        let sha256 = f.sha256.ok_or_else(|| PublishError::NoSha256 {
            manifest: PathBuf::from(MANIFEST_FILE),
            path: p.to_string(),
        })?;
        files.push(SignedFile { path: p, sha256 });
    }
    if let Some(file) = only {
        let f = m
            .files()
            .iter()
            .find(|f| f.path.as_str() == file)
            .ok_or_else(|| PublishError::NoSha256 {
                manifest: PathBuf::from(MANIFEST_FILE),
                path: file.to_string(),
            })?;
        let sha256 = f.sha256.ok_or_else(|| PublishError::NoSha256 {
            manifest: PathBuf::from(MANIFEST_FILE),
            path: file.to_string(),
        })?;
        let text = oms::sign(
            file,
            &[SignedFile { path: ".", sha256 }],
            &GIT_PATHS.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            key,
        );
        write(sig_path, text.as_bytes())?;
        return Ok(1);
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| m.name().to_string());
    let text = oms::sign(&name, &files, &ignore, key);
    write(sig_path, text.as_bytes())?;
    Ok(files.len())
}
