//! The one evidence gatherer: where a release is (a model directory or single file, a mirror
//! URL, a Hugging Face cache snapshot) and what vouches for it (its manifest, its attestation
//! bundle, its transparency log proof, an OpenSSF model signing bundle), read once, here, for
//! every front end. No judging happens here: [`crate::release`] judges what [`gather`] found.
//!
//! Rules every read follows:
//! - a local evidence file is opened only if it is a regular file, without blocking (a named
//!   pipe planted at `weightseal.manifest` is refused, not waited on), and read up to its
//!   bound ([`crate::manifest::MAX_MANIFEST_LEN`], [`crate::attest::bundle::MAX_BUNDLE_LEN`],
//!   [`crate::log::proof::MAX_PROOF_LEN`], [`crate::oms::MAX_BUNDLE_LEN`]);
//! - a remote one is fetched with the same bounds, before any weight byte;
//! - the attestations default to those beside the manifest (a mirror checked against the
//!   publisher's manifest is judged by the publisher's attestations, not the mirror's);
//! - a manifest given separately for a Hugging Face snapshot or a directory describes that
//!   directory: the model root is the directory, wherever the manifest file lies.

use std::path::{Path, PathBuf};

use crate::attest::bundle::{self, BundleLine};
use crate::fetch::Remote;
use crate::manifest::Manifest;
use crate::oms;

/// Where the release is.
pub enum Source<'a> {
    /// A model directory, or one model file (a single-file model: its manifest is
    /// `FILE.weightseal.manifest`).
    Local(&'a Path),
    /// A mirror serving the release's directory.
    Remote(&'a Remote),
    /// A snapshot of the Hugging Face cache (`cache`: default `HF_HUB_CACHE`, `HF_HOME`,
    /// `~/.cache/huggingface/hub`). Its links are followed only into the repository's blobs.
    HfSnapshot {
        repo: &'a str,
        revision: Option<&'a str>,
        cache: Option<&'a Path>,
    },
}

/// Evidence given separately from the release, as paths (or URLs for a remote source).
#[derive(Clone, Debug, Default)]
pub struct Locators {
    /// The manifest (default: beside the release).
    pub manifest: Option<String>,
    /// The attestation bundle (default: beside the manifest; for a remote whose manifest is
    /// served, the one served beside it).
    pub attestations: Option<String>,
    /// A signature file: an OpenSSF model signing bundle (recognised by its media type) or a
    /// weightseal attestation bundle (then it is the attestations).
    pub signature: Option<String>,
    /// Largest manifest and bundle read from a server (0: the format's own bound).
    pub manifest_limit: u64,
    pub bundle_limit: u64,
}

/// Where a piece of evidence came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Beside the release (its default name), at this path or URL.
    Beside(String),
    /// Given separately, at this path or URL.
    Given(String),
}

impl Origin {
    pub fn as_str(&self) -> &str {
        match self {
            Origin::Beside(s) | Origin::Given(s) => s,
        }
    }
}

/// Where the release's files are.
pub enum Place<'a> {
    Local {
        /// The model root.
        dir: PathBuf,
        /// A single-file model: its file name in `dir`.
        only: Option<String>,
        /// The manifest file, when it lies in `dir` (left out of the files checked).
        manifest_path: Option<PathBuf>,
        /// A Hugging Face snapshot: its links (already checked to stay in the repository's
        /// blobs) are followed.
        snapshot: bool,
    },
    Remote(&'a Remote),
}

/// A weightseal release's evidence.
pub struct Weightseal {
    pub manifest: Manifest,
    /// The manifest's exact bytes (delivered with a fetch).
    pub manifest_bytes: Vec<u8>,
    pub manifest_origin: Origin,
    pub attestations: Vec<BundleLine>,
    /// The bundle's bytes, when there is one (delivered with a fetch, as they are: a line
    /// that is not UTF-8 is a bad line of the bundle, not a bad bundle).
    pub bundle_text: Option<Vec<u8>>,
    /// `weightseal.tlog-proof`, when the release has one.
    pub log_proof: Option<Vec<u8>>,
    /// An OpenSSF model signing bundle served with a remote release, and whether the caller
    /// named it (then it must verify).
    pub oms_signature: Option<(String, bool)>,
}

impl Weightseal {
    /// The release's weightseal evidence files, each its name in a release directory and its
    /// bytes (the manifest, and the attestations and log proof when there are any).
    pub fn evidence(&self) -> Vec<(&'static str, &[u8])> {
        let mut v = vec![(crate::path::MANIFEST_FILE, self.manifest_bytes.as_slice())];
        if let Some(t) = &self.bundle_text {
            v.push((crate::path::ATTESTATION_FILE, t.as_slice()));
        }
        if let Some(p) = &self.log_proof {
            v.push((crate::path::LOG_PROOF_FILE, p.as_slice()));
        }
        v
    }
}

/// An OpenSSF model signing bundle given for a local directory.
pub struct OmsSignature {
    pub path: PathBuf,
    pub text: String,
    /// The file read, so that the same file is left out of the directory's files.
    pub identity: oms::FileId,
}

/// What vouches for the release.
pub enum Signed {
    Weightseal(Box<Weightseal>),
    Oms(OmsSignature),
}

/// Everything [`gather`] found.
pub struct Evidence<'a> {
    pub place: Place<'a>,
    pub signed: Signed,
}

impl Evidence<'_> {
    /// The weightseal evidence, if this is a weightseal release.
    pub fn weightseal(&self) -> Option<&Weightseal> {
        match &self.signed {
            Signed::Weightseal(w) => Some(w),
            Signed::Oms(_) => None,
        }
    }

    /// Whether the manifest came from the server being checked (then, unless a key vouches,
    /// a self-consistent server is all a check shows).
    pub fn self_served(&self) -> bool {
        matches!(self.place, Place::Remote(_))
            && self
                .weightseal()
                .is_some_and(|w| matches!(w.manifest_origin, Origin::Beside(_)))
    }
}

/// Why evidence could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Target(#[from] crate::path::TargetError),
    #[error(transparent)]
    Snapshot(#[from] crate::hf::HfError),
    #[error("no Hugging Face cache: none is given and neither HF_HUB_CACHE nor HF_HOME is set")]
    NoCache,
    /// The manifest is not there (`given`: it was named explicitly).
    #[error("no manifest at {origin}")]
    NoManifest { origin: String, given: bool },
    #[error("invalid manifest {origin}: {source}")]
    Manifest {
        origin: String,
        path: Option<PathBuf>,
        #[source]
        source: Box<crate::manifest::ManifestError>,
    },
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Oms(#[from] oms::OmsError),
    #[error("{origin}: no such signature (HTTP 404)")]
    NoSignature { origin: String },
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    /// An OpenSSF bundle is checked against the files of a local directory.
    #[error(
        "an OpenSSF model signing bundle is verified against a model directory on disk, not {what}"
    )]
    OmsNotLocal { what: &'static str },
    /// The URL names a single-file model, but the manifest lists other files.
    #[error("{origin}: the URL names the single-file model {file}, whose manifest must list exactly that file; it lists {count} file(s): {}{}", listed.join(", "), if *count > listed.len() { ", …" } else { "" })]
    NotSingleFile {
        origin: String,
        file: String,
        listed: Vec<String>,
        count: usize,
    },
    #[error("the signature file and the attestation bundle were both given: a signature file that is a weightseal bundle is the attestations")]
    SignatureAndAttestations,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn limit(given: u64, default: u64) -> u64 {
    if given == 0 {
        default
    } else {
        given.min(default)
    }
}

/// Reads a local evidence file (a regular file only, bounded); `None` when there is none.
fn read_local(path: &Path, max: u64) -> Result<Option<Vec<u8>>, GatherError> {
    crate::fsutil::read_regular(path, max).map_err(|source| GatherError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Gathers the evidence of the release at `src`, with the evidence given in `loc`.
pub fn gather<'a>(src: &Source<'a>, loc: &Locators) -> Result<Evidence<'a>, GatherError> {
    // A signature file: an OpenSSF bundle, or weightseal attestations.
    let mut attestations = loc.attestations.clone();
    let mut oms_given: Option<String> = None;
    if let Some(sig) = &loc.signature {
        let kind_oms = if is_url(sig) {
            true
        } else {
            // An empty file is neither kind: it is refused as an OpenSSF bundle (OMS v1.0
            // §8.1), by name, never read as weightseal attestations.
            let text = oms::read_bundle(Path::new(sig))?;
            text.trim().is_empty() || oms::is_oms_bundle(&text)
        };
        if kind_oms {
            oms_given = Some(sig.clone());
        } else if attestations.is_some() {
            return Err(GatherError::SignatureAndAttestations);
        } else {
            attestations = Some(sig.clone());
        }
    }
    match src {
        Source::Local(path) => local(path, false, loc, attestations, oms_given),
        Source::HfSnapshot {
            repo,
            revision,
            cache,
        } => {
            let cache = match cache {
                Some(c) => c.to_path_buf(),
                None => crate::hf::cache_dir().ok_or(GatherError::NoCache)?,
            };
            let snap = crate::hf::snapshot(&cache, repo, *revision)?;
            crate::hf::check_snapshot_links(&snap)?;
            local(&snap, true, loc, attestations, oms_given)
        }
        Source::Remote(remote) => {
            let w = remote_weightseal(remote, loc, attestations.as_deref(), oms_given)?;
            Ok(Evidence {
                place: Place::Remote(remote),
                signed: Signed::Weightseal(Box::new(w)),
            })
        }
    }
}

/// A local directory or file (or a checked snapshot, `snapshot`).
fn local<'a>(
    path: &Path,
    snapshot: bool,
    loc: &Locators,
    attestations: Option<String>,
    oms_given: Option<String>,
) -> Result<Evidence<'a>, GatherError> {
    if let Some(sig) = oms_given {
        if is_url(&sig) {
            return Err(GatherError::OmsNotLocal { what: "a URL" });
        }
        let sig = PathBuf::from(sig);
        let (text, identity) = oms::read_signature(&sig)?;
        std::fs::metadata(path).map_err(|source| GatherError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(Evidence {
            place: Place::Local {
                dir: path.to_path_buf(),
                only: None,
                manifest_path: None,
                snapshot,
            },
            signed: Signed::Oms(OmsSignature {
                path: sig,
                text,
                identity,
            }),
        });
    }
    let given = loc.manifest.as_deref().map(Path::new);
    let t = crate::path::ModelTarget::resolve(path, given)?;
    let origin = match given {
        Some(_) => Origin::Given(t.manifest.display().to_string()),
        None => Origin::Beside(t.manifest.display().to_string()),
    };
    let manifest_bytes = read_local(&t.manifest, crate::manifest::MAX_MANIFEST_LEN)
        .map_err(|e| match e {
            GatherError::Io { path, source }
                if source.kind() == std::io::ErrorKind::FileTooLarge =>
            {
                GatherError::Manifest {
                    origin: path.display().to_string(),
                    path: Some(path),
                    source: Box::new(crate::manifest::ManifestError::TooLarge {
                        len: crate::manifest::MAX_MANIFEST_LEN + 1,
                        max: crate::manifest::MAX_MANIFEST_LEN,
                    }),
                }
            }
            e => e,
        })?
        .ok_or_else(|| GatherError::NoManifest {
            origin: t.manifest.display().to_string(),
            given: given.is_some(),
        })?;
    let manifest = Manifest::decode(&manifest_bytes).map_err(|source| GatherError::Manifest {
        origin: t.manifest.display().to_string(),
        path: Some(t.manifest.clone()),
        source: Box::new(source),
    })?;
    let apath = match &attestations {
        Some(a) => PathBuf::from(a),
        None => crate::path::attestations_for(&t.manifest),
    };
    let bundle_text = read_local(&apath, bundle::MAX_BUNDLE_LEN).map_err(|e| match e {
        GatherError::Io { path, source } if source.kind() == std::io::ErrorKind::FileTooLarge => {
            GatherError::Bundle(bundle::BundleError::TooLarge {
                len: bundle::MAX_BUNDLE_LEN + 1,
                path,
            })
        }
        e => e,
    })?;
    let attestations = bundle_text
        .as_deref()
        .map(bundle::parse_bytes)
        .unwrap_or_default();
    let log_proof = read_local(
        &crate::path::log_proof_for(&t.manifest),
        crate::log::proof::MAX_PROOF_LEN as u64,
    )?;
    Ok(Evidence {
        place: Place::Local {
            dir: t.dir.clone(),
            only: t.only.clone(),
            manifest_path: Some(t.manifest.clone()),
            snapshot,
        },
        signed: Signed::Weightseal(Box::new(Weightseal {
            manifest,
            manifest_bytes,
            manifest_origin: origin,
            attestations,
            bundle_text,
            log_proof,
            oms_signature: None,
        })),
    })
}

/// A remote release's weightseal evidence.
fn remote_weightseal(
    remote: &Remote,
    loc: &Locators,
    attestations: Option<&str>,
    oms_given: Option<String>,
) -> Result<Weightseal, GatherError> {
    let mlimit = limit(loc.manifest_limit, crate::manifest::MAX_MANIFEST_LEN);
    let blimit = limit(loc.bundle_limit, bundle::MAX_BUNDLE_LEN);
    // The manifest: a local file, another URL, or the one served.
    let (origin, bytes, local_manifest) = match loc.manifest.as_deref() {
        Some(p) if !is_url(p) => {
            let b =
                read_local(Path::new(p), crate::manifest::MAX_MANIFEST_LEN)?.ok_or_else(|| {
                    GatherError::NoManifest {
                        origin: p.to_string(),
                        given: true,
                    }
                })?;
            (Origin::Given(p.to_string()), b, Some(p))
        }
        other => {
            let url = other.map(str::to_string).unwrap_or_else(|| {
                remote.url_for(&remote.weightseal_evidence(crate::path::MANIFEST_FILE))
            });
            let shown = crate::net::redact_url(&url);
            let b = remote
                .get_document(&url, mlimit)?
                .ok_or_else(|| GatherError::NoManifest {
                    origin: shown.clone(),
                    given: other.is_some(),
                })?;
            (
                if other.is_some() {
                    Origin::Given(shown)
                } else {
                    Origin::Beside(shown)
                },
                b,
                None,
            )
        }
    };
    let manifest = Manifest::decode(&bytes).map_err(|source| GatherError::Manifest {
        origin: origin.as_str().to_string(),
        path: local_manifest.map(PathBuf::from),
        source: Box::new(source),
    })?;
    // A single-file model's manifest lists exactly that file, under its name (spec/manifest.md):
    // a manifest that lists more would land files `verify FILE` never looks at.
    if let Some(name) = remote.single_file() {
        let listed: Vec<&str> = manifest.files().iter().map(|f| f.path.as_str()).collect();
        if listed != [name] {
            return Err(GatherError::NotSingleFile {
                origin: origin.as_str().to_string(),
                file: name.to_string(),
                listed: listed.iter().take(5).map(|p| p.to_string()).collect(),
                count: listed.len(),
            });
        }
    }
    // The attestations: given, beside a local manifest, or served.
    let source = match (attestations, local_manifest) {
        (Some(a), _) => Some(a.to_string()),
        (None, Some(m)) => Some(
            crate::path::attestations_for(Path::new(m))
                .display()
                .to_string(),
        ),
        (None, None) => None,
    };
    let bundle_bytes = match source.as_deref() {
        Some(p) if !is_url(p) => read_local(Path::new(p), bundle::MAX_BUNDLE_LEN)?,
        other => {
            let url = other.map(str::to_string).unwrap_or_else(|| {
                remote.url_for(&remote.weightseal_evidence(crate::path::ATTESTATION_FILE))
            });
            remote.get_document(&url, blimit)?
        }
    };
    let bundle_text = bundle_bytes;
    let attestations = bundle_text
        .as_deref()
        .map(bundle::parse_bytes)
        .unwrap_or_default();
    // The log proof: beside a local manifest, else the one served with the release (a proof
    // authenticates itself: it is checked against the manifest and the log's key whenever a
    // log is required, here or when the delivered release is verified later).
    let served_proof = || {
        remote.get_document(
            &remote.url_for(&remote.weightseal_evidence(crate::path::LOG_PROOF_FILE)),
            crate::log::proof::MAX_PROOF_LEN as u64,
        )
    };
    let log_proof = match local_manifest {
        Some(m) => match read_local(
            &crate::path::log_proof_for(Path::new(m)),
            crate::log::proof::MAX_PROOF_LEN as u64,
        )? {
            Some(p) => Some(p),
            None => served_proof()?,
        },
        None => served_proof()?,
    };
    // The OpenSSF bundle: the one named (which must exist), else the one served, if any.
    let olimit = limit(loc.bundle_limit, oms::MAX_BUNDLE_LEN);
    let oms_signature = match oms_given {
        Some(p) if !is_url(&p) => Some((oms::read_signature(Path::new(&p))?.0, true)),
        Some(url) => {
            let b = remote
                .get_document(&url, olimit)?
                .ok_or_else(|| GatherError::NoSignature {
                    origin: crate::net::redact_url(&url),
                })?;
            Some((String::from_utf8_lossy(&b).into_owned(), true))
        }
        None => match remote.evidence_name(crate::path::OMS_SIGNATURE_FILE) {
            Some(name) => remote
                .get_document(&remote.url_for(&name), olimit)?
                .map(|b| (String::from_utf8_lossy(&b).into_owned(), false)),
            None => None,
        },
    };
    Ok(Weightseal {
        manifest,
        manifest_bytes: bytes,
        manifest_origin: origin,
        attestations,
        bundle_text,
        log_proof,
        oms_signature,
    })
}
