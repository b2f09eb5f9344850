//! `weightseal._native`: the Python package's bindings to the weightseal library.
//!
//! Each call parses its arguments, releases the GIL for the work (hashing, downloading,
//! reading tensors) and returns the library's typed result as JSON, which `weightseal/_types.py`
//! turns into typed objects. Errors are raised as the classes of `weightseal.errors`.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};
use rayon::prelude::*;

use weightseal::ask::{Ask, AskOptions};
use weightseal::attest::time::Timestamp;
use weightseal::attest::{Claims, PrivateKey};
use weightseal::evidence::{gather, GatherError, Locators, Place, Source};
use weightseal::manifest::{BuildOptions, Manifest, Sha256, Tensor, Tensors};
use weightseal::progress::Progress;
use weightseal::release::{CheckOptions, ReleaseError, Verdict};
use weightseal::verify::{ExtraFiles, Mode};
use weightseal::walk::Symlinks;
use weightseal::Digest;

/// The `weightseal` command line, the same source as the binary's (`src/cli`), so that
/// `pip install weightseal` installs the same command as `cargo install`.
#[allow(dead_code)]
#[path = "../../src/cli/mod.rs"]
mod cli;

/// Runs the `weightseal` command with `argv` (the first is the program name) and returns its
/// exit status. The GIL is released while it runs.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| cli::run_from(argv))
}

/// An exception of `weightseal.errors` (`kind` is its class name).
fn error(py: Python<'_>, kind: &str, msg: impl std::fmt::Display) -> PyErr {
    let msg = msg.to_string();
    match py
        .import("weightseal.errors")
        .and_then(|m| m.getattr(kind))
        .and_then(|c| c.call1((msg.clone(),)))
    {
        Ok(v) => PyErr::from_value(v),
        Err(e) => e,
    }
}

/// A progress callback `(done_bytes, total_bytes)`, called at most about 200 times per
/// operation, with the GIL taken only for the call. The first exception it raises is kept and
/// raised when the operation returns.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    total: AtomicU64,
    done: AtomicU64,
    reported: AtomicU64,
    /// The last value reported, under the lock that serializes the calls.
    order: Mutex<u64>,
    failure: Mutex<Option<PyErr>>,
}

impl PyProgress {
    fn new(callback: Option<Py<PyAny>>) -> PyProgress {
        PyProgress {
            callback,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            order: Mutex::new(0),
            failure: Mutex::new(None),
        }
    }

    fn call(&self, done: u64, total: u64) {
        let Some(cb) = &self.callback else { return };
        if self.failure.lock().map(|f| f.is_some()).unwrap_or(true) {
            return;
        }
        Python::attach(|py| {
            if let Err(e) = cb.call1(py, (done, total)) {
                if let Ok(mut f) = self.failure.lock() {
                    f.get_or_insert(e);
                }
            }
        });
    }

    /// The callback's exception, if it raised one.
    fn finish(self) -> PyResult<()> {
        match self.failure.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

impl Progress for PyProgress {
    fn set_total(&self, bytes: u64) {
        self.total.store(bytes, Ordering::Relaxed);
        self.call(0, bytes);
    }

    fn advance(&self, bytes: u64) {
        if self.callback.is_none() {
            return;
        }
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let step = (total / 200).max(1 << 20);
        let last = self.reported.load(Ordering::Relaxed);
        if done < total && done.saturating_sub(last) < step {
            return;
        }
        // One report at a time, in increasing order, the last one (done == total) always.
        let Ok(mut reported) = self.order.lock() else {
            return;
        };
        if done <= *reported {
            return;
        }
        *reported = done;
        self.reported.store(done, Ordering::Relaxed);
        self.call(done, total.max(done));
    }
}

fn json(py: Python<'_>, v: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| error(py, "WeightsealError", e))
}

fn parse_digest(py: Python<'_>, digest: Option<&str>) -> PyResult<Option<Digest>> {
    digest
        .map(|d| {
            Digest::from_hex(d).ok_or_else(|| {
                error(
                    py,
                    "WeightsealError",
                    format!("digest {d:?}: expected 64 lowercase hex digits (a manifest digest)"),
                )
            })
        })
        .transpose()
}

/// A model argument: a directory, or one file (a single-file model).
fn model_target(
    py: Python<'_>,
    path: &Path,
    manifest: Option<&Path>,
) -> PyResult<weightseal::path::ModelTarget> {
    weightseal::path::ModelTarget::resolve(path, manifest).map_err(|e| match e {
        weightseal::path::TargetError::Missing { .. } => {
            PyErr::new::<pyo3::exceptions::PyFileNotFoundError, _>(e.to_string())
        }
        e => error(py, "WeightsealError", e),
    })
}

/// `hash(path, ...) -> (manifest bytes, warnings)`; with `write`, writes the manifest to
/// `output`, by default the model's own manifest path.
#[pyfunction]
#[pyo3(signature = (path, *, write=true, output=None, name=None, chunk_size=None, tensors=true, sha256=false, follow_symlinks=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn hash<'py>(
    py: Python<'py>,
    path: PathBuf,
    write: bool,
    output: Option<PathBuf>,
    name: Option<String>,
    chunk_size: Option<u64>,
    tensors: bool,
    sha256: bool,
    follow_symlinks: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyBytes>, Vec<String>)> {
    let t = model_target(py, &path, output.as_deref())?;
    let output = write.then_some(t.manifest);
    let mut opts = BuildOptions {
        only: t.only,
        name,
        sha256: if sha256 { Sha256::Record } else { Sha256::Skip },
        symlinks: if follow_symlinks {
            Symlinks::Follow
        } else {
            Symlinks::Refuse
        },
        tensors: if tensors {
            Tensors::Record
        } else {
            Tensors::Skip
        },
        exclude: output.iter().cloned().collect(),
        ..Default::default()
    };
    if let Some(cs) = chunk_size {
        opts.chunk_size = weightseal::ChunkSize::new(cs)
            .map_err(|e| error(py, "WeightsealError", format!("chunk_size {cs}: {e}")))?;
    }
    let pr = PyProgress::new(progress);
    let built = py.detach(|| weightseal::manifest::build(&t.dir, &opts, &pr));
    pr.finish()?;
    let built = built.map_err(|e| {
        error(
            py,
            "ManifestError",
            format!("hashing {}: {e}", path.display()),
        )
    })?;
    let bytes = built.manifest.encode();
    if let Some(out) = &output {
        weightseal::fsutil::write_atomic(out, &bytes, 0o644).map_err(|e| {
            error(
                py,
                "WeightsealError",
                format!("writing manifest {}: {e}", out.display()),
            )
        })?;
    }
    Ok((
        PyBytes::new(py, &bytes),
        built.warnings.iter().map(ToString::to_string).collect(),
    ))
}

/// The manifest `bytes` as JSON (what `weightseal show --json` prints); raises ManifestError
/// when they are not a valid manifest.
#[pyfunction]
fn manifest_json(py: Python<'_>, bytes: &[u8]) -> PyResult<String> {
    let m = Manifest::decode(bytes)
        .map_err(|e| error(py, "ManifestError", format!("invalid manifest: {e}")))?;
    json(py, &m.to_json())
}

/// `sign(path, key, ...) -> JSON of weightseal::publish::Published` (plus the manifest digest).
#[pyfunction]
#[pyo3(signature = (path, key, *, passphrase=None, role="publisher".to_string(), signer=None, version=None, expires=None, derived_from=vec![], annotations=HashMap::new(), manifest=None, attestations=None, format="weightseal".to_string(), signature=None, manifest_only=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn sign(
    py: Python<'_>,
    path: PathBuf,
    key: PathBuf,
    passphrase: Option<String>,
    role: String,
    signer: Option<String>,
    version: Option<u64>,
    expires: Option<String>,
    derived_from: Vec<String>,
    annotations: HashMap<String, String>,
    manifest: Option<PathBuf>,
    attestations: Option<PathBuf>,
    format: String,
    signature: Option<PathBuf>,
    manifest_only: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    use weightseal::publish::{publish, Format, PublishOptions};
    // The key and every claim are checked before anything is hashed or written.
    let pass = passphrase.or_else(|| std::env::var("WEIGHTSEAL_PASSPHRASE").ok());
    let key =
        PrivateKey::read_with(&key, &|| pass.clone()).map_err(|e| error(py, "KeyLoadError", e))?;
    let now = Timestamp::now();
    let expires_at = expires
        .as_deref()
        .map(|e| Timestamp::parse_expiry(e, now))
        .transpose()
        .map_err(|e| error(py, "WeightsealError", format!("expires: {e}")))?;
    if !weightseal::attest::statement::valid_role(&role) {
        return Err(error(
            py,
            "WeightsealError",
            format!("role {role:?} is not a lowercase word of 1 to 32 letters, digits or '-'"),
        ));
    }
    let derived_from = derived_from
        .iter()
        .map(|d| weightseal::attest::parse_derived(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(py, "WeightsealError", format!("derived_from {e}")))?;
    let claims = Claims {
        role,
        signer: signer.unwrap_or_else(|| "unnamed".into()),
        issued_at: now,
        expires_at,
        version,
        derived_from,
        annotations: annotations.into_iter().collect(),
    };
    let format = match format.as_str() {
        "weightseal" => Format::Weightseal,
        "oms" => Format::Oms,
        "both" => Format::Both,
        other => {
            return Err(error(
                py,
                "WeightsealError",
                format!("format {other:?}: expected \"weightseal\", \"oms\" or \"both\""),
            ))
        }
    };
    let t = model_target(py, &path, manifest.as_deref())?;
    let mut opts = PublishOptions {
        attestations: attestations.unwrap_or_else(|| t.attestations()),
        manifest_path: t.manifest.clone(),
        manifest_only,
        format,
        oms_signature: signature.unwrap_or_else(|| t.dir.join("model.sig")),
        ..PublishOptions::for_dir(&t.dir)
    };
    opts.build.only = t.only.clone();
    let pr = PyProgress::new(progress);
    let published = py.detach(|| publish(&t.dir, &key, &claims, &opts, &pr));
    pr.finish()?;
    let p = published.map_err(|e| match e {
        weightseal::publish::PublishError::Mismatch { .. } => error(
            py,
            "ManifestError",
            format!("{e}: verify the model, or sign with manifest_only=True"),
        ),
        weightseal::publish::PublishError::Manifest { .. }
        | weightseal::publish::PublishError::Build { .. } => error(py, "ManifestError", e),
        e => error(py, "WeightsealError", e),
    })?;
    let mut v = serde_json::to_value(&p).map_err(|e| error(py, "WeightsealError", e))?;
    v["name"] = p.manifest.name().into();
    v["manifest_digest"] = p.manifest.digest().to_hex().into();
    v["manifest_path"] = opts.manifest_path.display().to_string().into();
    v["attestations_path"] = opts.attestations.display().to_string().into();
    v["role"] = claims.role.into();
    json(py, &v)
}

/// The trust keywords every judging function takes, with the same names and meanings as the
/// CLI flags (`key` arrives as `keys`), collected by `weightseal._util.trust_keywords` into one
/// dict so that no function lists them twice.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct TrustKeywords {
    keys: Vec<PathBuf>,
    policy: Option<PathBuf>,
    trust_store: bool,
    model: Option<String>,
    digest: Option<String>,
    log_key: Option<String>,
    witnesses: Vec<String>,
    quorum: Option<usize>,
    allow_unsigned: bool,
}

/// The question the keywords ask, as the library's one options type (the question is made by
/// `Ask::new`).
fn ask(py: Python<'_>, t: TrustKeywords, oms: OmsKeywords) -> PyResult<Ask> {
    let o = AskOptions {
        keys: t.keys,
        policy: t.policy,
        trust_store: t.trust_store,
        model: t.model,
        digest: parse_digest(py, t.digest.as_deref())?,
        log_key: t.log_key,
        witnesses: t.witnesses,
        quorum: t.quorum,
        allow_unsigned: t.allow_unsigned,
        certificate_chain: oms.certificate_chain,
        identity: oms.identity,
        identity_provider: oms.identity_provider,
        trusted_root: oms.trusted_root,
        ..AskOptions::default()
    };
    Ask::new(&o).map_err(|e| {
        use weightseal::ask::AskError as E;
        match &e {
            E::Key(_) => error(py, "KeyLoadError", e),
            E::Policy(_) => error(py, "PolicyError", e),
            E::KeysAndPolicy => error(py, "WeightsealError", format!("{e}: give key= or policy=, not both")),
            E::OmsMethods => error(py, "WeightsealError", format!("{e}: give one of key=, certificate_chain= or identity= with identity_provider=")),
            E::WitnessesWithoutLog => error(py, "WeightsealError", format!("{e}: witnesses= and quorum= need log_key=")),
            E::TwoLogRequirements => error(py, "WeightsealError", format!("{e}: the policy's [log] table, or log_key= with witnesses= and quorum=")),
            _ => error(py, "WeightsealError", e),
        }
    })
}

/// The keywords of an OpenSSF model signing check (`verify(signature=...)`).
#[derive(Default)]
struct OmsKeywords {
    certificate_chain: Vec<PathBuf>,
    identity: Option<String>,
    identity_provider: Option<String>,
    trusted_root: Option<PathBuf>,
}

/// A gathering failure as the exception of `weightseal.errors` it is.
fn gather_error(py: Python<'_>, e: GatherError) -> PyErr {
    match &e {
        GatherError::NoManifest { origin, given: false } => error(
            py,
            "ManifestError",
            format!("no manifest at {origin}: hash the model first (weightseal.hash), or pass manifest="),
        ),
        GatherError::NoManifest { .. } | GatherError::Manifest { .. } => error(py, "ManifestError", e),
        GatherError::Bundle(_) | GatherError::Oms(_) | GatherError::NoSignature { .. } => {
            error(py, "AttestationError", e)
        }
        GatherError::Snapshot(_) | GatherError::NoCache => error(
            py,
            "SnapshotError",
            if matches!(e, GatherError::NoCache) {
                format!("{e}; pass cache_dir=")
            } else {
                e.to_string()
            },
        ),
        GatherError::Target(weightseal::path::TargetError::Missing { .. }) => {
            PyErr::new::<pyo3::exceptions::PyFileNotFoundError, _>(e.to_string())
        }
        GatherError::Fetch(_) => error(py, "FetchError", e),
        _ => error(py, "WeightsealError", e),
    }
}

/// A judging failure as the exception of `weightseal.errors` it is, with the advice in
/// keyword terms.
fn release_error(py: Python<'_>, e: ReleaseError, what: &str) -> PyErr {
    match &e {
        ReleaseError::NoOmsCheck => error(py, "TrustError", format!("{what}: {e}: pass key=, certificate_chain= or identity= with identity_provider=, or add the publisher to the trust store")),
        ReleaseError::PolicyForOms | ReleaseError::LogForOms => error(py, "WeightsealError", format!("{what}: {e}")),
        ReleaseError::Trust(_) | ReleaseError::State(_) => error(py, "PolicyError", format!("{what}: {e}")),
        ReleaseError::Fetch(_) => error(py, "FetchError", format!("{what}: {e}")),
        _ => error(py, "WeightsealError", format!("{what}: {e}")),
    }
}

/// A verdict as the library's one JSON shape, with the path judged.
fn verdict_json(py: Python<'_>, v: &Verdict, path: &str) -> PyResult<String> {
    let mut out = v.to_json();
    out["path"] = path.into();
    json(py, &out)
}

/// Raises the exception a refused verdict is (for the loaders, which return tensors, not a
/// report): TrustError when nobody vouches, VerificationError for a pin, SignatureError
/// otherwise.
fn refuse(py: Python<'_>, v: &Verdict) -> PyErr {
    let kind = if !v.pins.is_empty() {
        "VerificationError"
    } else if v.vouched == weightseal::release::Vouched::NoTrustedKey {
        "TrustError"
    } else {
        "SignatureError"
    };
    error(
        py,
        kind,
        format!("{}: NOT verified: {}", v.name, v.reasons.join("; ")),
    )
}

/// Verifies the model in `path`: JSON of the library's one verdict. With `signature` (an
/// OpenSSF model signing bundle), the bundle is checked with `keys`, `certificate_chain` or
/// `identity`/`identity_provider` instead of weightseal attestations.
#[pyfunction]
#[pyo3(signature = (path, trust, *, manifest=None, attestations=None, tensors=false, allow_extra=false, follow_symlinks=false, signature=None, certificate_chain=vec![], identity=None, identity_provider=None, trusted_root=None, ignore_paths=vec![], ignore_git_paths=true, progress=None))]
#[allow(clippy::too_many_arguments)]
fn verify(
    py: Python<'_>,
    path: PathBuf,
    trust: TrustKeywords,
    manifest: Option<PathBuf>,
    attestations: Option<PathBuf>,
    tensors: bool,
    allow_extra: bool,
    follow_symlinks: bool,
    signature: Option<PathBuf>,
    certificate_chain: Vec<PathBuf>,
    identity: Option<String>,
    identity_provider: Option<String>,
    trusted_root: Option<PathBuf>,
    ignore_paths: Vec<PathBuf>,
    ignore_git_paths: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let ask = ask(
        py,
        trust,
        OmsKeywords {
            certificate_chain,
            identity,
            identity_provider,
            trusted_root,
        },
    )?;
    let loc = Locators {
        manifest: manifest.map(|p| p.display().to_string()),
        attestations: attestations.map(|p| p.display().to_string()),
        signature: signature.map(|p| p.display().to_string()),
        ..Locators::default()
    };
    let how = check_options(
        tensors,
        allow_extra,
        follow_symlinks,
        ignore_paths,
        ignore_git_paths,
    );
    judge_local(
        py,
        Source::Local(&path),
        &loc,
        &ask,
        &how,
        progress,
        &path.display().to_string(),
    )
}

fn check_options(
    tensors: bool,
    allow_extra: bool,
    follow_symlinks: bool,
    ignore_paths: Vec<PathBuf>,
    ignore_git: bool,
) -> CheckOptions {
    CheckOptions {
        mode: if tensors { Mode::Tensors } else { Mode::Files },
        extra: if allow_extra {
            ExtraFiles::Allow
        } else {
            ExtraFiles::Reject
        },
        follow_symlinks,
        sample: None,
        ignore_paths,
        ignore_git,
    }
}

/// Gathers and judges a local release (a directory, a file, a snapshot): the verdict's JSON.
fn judge_local(
    py: Python<'_>,
    src: Source<'_>,
    loc: &Locators,
    ask: &Ask,
    how: &CheckOptions,
    progress: Option<Py<PyAny>>,
    shown: &str,
) -> PyResult<String> {
    let pr = PyProgress::new(progress);
    let out = py.detach(
        || -> Result<Result<(Verdict, String), ReleaseError>, GatherError> {
            let ev = gather(&src, loc)?;
            let path = match &ev.place {
                Place::Local { dir, .. } => dir.display().to_string(),
                Place::Remote(_) => shown.to_string(),
            };
            Ok(weightseal::release::verify(&ev, ask, how, &pr).map(|v| (v, path)))
        },
    );
    pr.finish()?;
    let (v, path) = out
        .map_err(|e| gather_error(py, e))?
        .map_err(|e| release_error(py, e, &format!("verifying {shown}")))?;
    verdict_json(py, &v, &path)
}

/// Verifies a snapshot of the Hugging Face cache, following its links only into the
/// repository's `blobs/`.
#[pyfunction]
#[pyo3(signature = (repo_id, trust, *, revision=None, cache_dir=None, manifest=None, attestations=None, tensors=false, allow_extra=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn verify_snapshot(
    py: Python<'_>,
    repo_id: String,
    trust: TrustKeywords,
    revision: Option<String>,
    cache_dir: Option<PathBuf>,
    manifest: Option<PathBuf>,
    attestations: Option<PathBuf>,
    tensors: bool,
    allow_extra: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let ask = ask(py, trust, OmsKeywords::default())?;
    let (repo, rev) = repo_spec(py, repo_id, revision)?;
    let loc = Locators {
        manifest: manifest.map(|p| p.display().to_string()),
        attestations: attestations.map(|p| p.display().to_string()),
        ..Locators::default()
    };
    let how = check_options(tensors, allow_extra, true, Vec::new(), true);
    judge_local(
        py,
        Source::HfSnapshot {
            repo: &repo,
            revision: rev.as_deref(),
            cache: cache_dir.as_deref(),
        },
        &loc,
        &ask,
        &how,
        progress,
        &repo,
    )
}

/// `ORG/NAME` and a revision, checked.
fn repo_spec(
    py: Python<'_>,
    repo_id: String,
    revision: Option<String>,
) -> PyResult<(String, Option<String>)> {
    let spec = match &revision {
        Some(r) => format!("{repo_id}@{r}"),
        None => repo_id,
    };
    weightseal::hf::parse_repo(&spec).map_err(|e| error(py, "SnapshotError", e))
}

/// The snapshot directory of `repo_id` in the Hugging Face cache, its links checked.
#[pyfunction]
#[pyo3(signature = (repo_id, *, revision=None, cache_dir=None))]
fn snapshot_path(
    py: Python<'_>,
    repo_id: String,
    revision: Option<String>,
    cache_dir: Option<PathBuf>,
) -> PyResult<String> {
    let (repo, rev) = repo_spec(py, repo_id, revision)?;
    let cache = match cache_dir.or_else(weightseal::hf::cache_dir) {
        Some(c) => c,
        None => return Err(gather_error(py, GatherError::NoCache)),
    };
    let snap = weightseal::hf::snapshot(&cache, &repo, rev.as_deref())
        .map_err(|e| error(py, "SnapshotError", e))?;
    weightseal::hf::check_snapshot_links(&snap).map_err(|e| error(py, "SnapshotError", e))?;
    Ok(snap.display().to_string())
}

/// The network options of every function that reads a mirror: extra headers, the idle
/// timeout, and `HF_TOKEN` (sent to Hugging Face hosts only).
fn net_options(
    py: Python<'_>,
    headers: HashMap<String, String>,
    timeout: Option<f64>,
) -> PyResult<weightseal::fetch::FetchOptions> {
    let mut opts = weightseal::fetch::FetchOptions {
        headers: headers.into_iter().collect(),
        hf_token: std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()),
        ..Default::default()
    };
    if let Some(t) = timeout {
        if !(t.is_finite() && t > 0.0) {
            return Err(error(
                py,
                "WeightsealError",
                format!("timeout {t}: expected a positive number of seconds"),
            ));
        }
        opts.timeout = std::time::Duration::from_secs_f64(t);
    }
    Ok(opts)
}

/// Downloads `url` into `dest`, verifying as it goes: JSON of the library's one verdict.
#[pyfunction]
#[pyo3(signature = (url, dest, trust, *, manifest=None, attestations=None, allow_extra=false, headers=HashMap::new(), timeout=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn fetch(
    py: Python<'_>,
    url: String,
    dest: PathBuf,
    trust: TrustKeywords,
    manifest: Option<String>,
    attestations: Option<String>,
    allow_extra: bool,
    headers: HashMap<String, String>,
    timeout: Option<f64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let ask = ask(py, trust, OmsKeywords::default())?;
    let opts = weightseal::fetch::FetchOptions {
        extra: if allow_extra {
            ExtraFiles::Allow
        } else {
            ExtraFiles::Reject
        },
        ..net_options(py, headers, timeout)?
    };
    let remote =
        weightseal::fetch::Remote::new(&url, opts).map_err(|e| error(py, "FetchError", e))?;
    let loc = Locators {
        manifest,
        attestations,
        ..Locators::default()
    };
    let pr = PyProgress::new(progress);
    let out = py.detach(|| -> Result<Result<Verdict, ReleaseError>, GatherError> {
        let ev = gather(&Source::Remote(&remote), &loc)?;
        Ok(weightseal::release::fetch(&ev, &ask, &dest, &pr))
    });
    pr.finish()?;
    let v = out.map_err(|e| gather_error(py, e))?.map_err(|e| {
        release_error(
            py,
            e,
            &format!("fetching {}", weightseal::net::redact_url(&url)),
        )
    })?;
    verdict_json(py, &v, &dest.display().to_string())
}

/// A recipe from a file or from text (at most one of them), or the default recipe (`None`).
fn read_recipe(
    py: Python<'_>,
    path: Option<PathBuf>,
    text: Option<String>,
) -> PyResult<Option<weightseal::derive::Recipe>> {
    use weightseal::derive::{recipe::MAX_RECIPE_LEN, Recipe};
    let recipe_error = |e: weightseal::derive::RecipeError, origin: &str| -> PyErr {
        let msg = format!("{origin}{e}");
        match py
            .import("weightseal.errors")
            .and_then(|m| m.getattr("RecipeError"))
            .and_then(|c| c.call1((msg.clone(), e.code())))
        {
            Ok(v) => PyErr::from_value(v),
            Err(err) => err,
        }
    };
    match (path, text) {
        (Some(_), Some(_)) => Err(error(
            py,
            "WeightsealError",
            "give recipe= (a file) or recipe_text= (its text), not both",
        )),
        (None, None) => Ok(None),
        (None, Some(t)) => Recipe::parse(&t).map(Some).map_err(|e| recipe_error(e, "")),
        (Some(p), None) => {
            let bytes = weightseal::fsutil::read_regular(&p, MAX_RECIPE_LEN)
                .map_err(|e| {
                    error(
                        py,
                        "WeightsealError",
                        format!("cannot read recipe {}: {e}", p.display()),
                    )
                })?
                .ok_or_else(|| {
                    PyErr::new::<pyo3::exceptions::PyFileNotFoundError, _>(format!(
                        "recipe {} does not exist",
                        p.display()
                    ))
                })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                error(
                    py,
                    "WeightsealError",
                    format!("recipe {}: not UTF-8", p.display()),
                )
            })?;
            Recipe::parse(&text)
                .map(Some)
                .map_err(|e| recipe_error(e, &format!("{}: ", p.display())))
        }
    }
}

/// A derivation failure (not a verdict: the check could not be made) as the exception of
/// `weightseal.errors` it is.
fn derive_error(py: Python<'_>, e: weightseal::derive::DeriveError, shown: &str) -> PyErr {
    use weightseal::derive::DeriveError as E;
    match e {
        E::Release(e) => release_error(py, e, &format!("deriving {shown}")),
        e @ E::NotWeightseal(_) => error(py, "ManifestError", e),
        e => error(py, "WeightsealError", format!("deriving {shown}: {e}")),
    }
}

/// Checks that the release `derived` (a directory, a model file, or the `http(s)://` URL of a
/// mirror serving it) is reproduced from the signed release `base` (on disk): the base judged
/// with the trust keywords (the library's one question and judge), then every derived tensor
/// recomputed from the base's verified bytes (`weightseal::derive::check`). JSON of the
/// library's `DeriveReport`, whose `ok` is the answer.
#[pyfunction]
#[pyo3(signature = (derived, base, trust, *, recipe=None, recipe_text=None, headers=HashMap::new(), timeout=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn derive_check(
    py: Python<'_>,
    derived: String,
    base: PathBuf,
    trust: TrustKeywords,
    recipe: Option<PathBuf>,
    recipe_text: Option<String>,
    headers: HashMap<String, String>,
    timeout: Option<f64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let ask = ask(py, trust, OmsKeywords::default())?;
    let recipe = read_recipe(py, recipe, recipe_text)?;
    let is_url = derived.starts_with("http://") || derived.starts_with("https://");
    let remote = if is_url {
        Some(
            weightseal::fetch::Remote::new(&derived, net_options(py, headers, timeout)?)
                .map_err(|e| error(py, "FetchError", e))?,
        )
    } else {
        None
    };
    let derived_path = PathBuf::from(&derived);
    let shown = if is_url {
        weightseal::net::redact_url(&derived)
    } else {
        derived.clone()
    };
    let pr = PyProgress::new(progress);
    let out = py.detach(
        || -> Result<Result<(weightseal::derive::DeriveReport, String), weightseal::derive::DeriveError>, GatherError> {
            let base_ev = gather(&Source::Local(&base), &Locators::default())?;
            let source = match &remote {
                Some(r) => Source::Remote(r),
                None => Source::Local(&derived_path),
            };
            let derived_ev = gather(&source, &Locators::default())?;
            let base_dir = match &base_ev.place {
                Place::Local { dir, .. } => dir.display().to_string(),
                Place::Remote(_) => base.display().to_string(),
            };
            Ok(weightseal::derive::check(&base_ev, &derived_ev, &ask, recipe.as_ref(), &pr)
                .map(|r| (r, base_dir)))
        },
    );
    pr.finish()?;
    let (report, base_dir) = out
        .map_err(|e| gather_error(py, e))?
        .map_err(|e| derive_error(py, e, &shown))?;
    let mut v = report.to_json();
    v["base"]["path"] = base_dir.into();
    json(py, &v)
}

/// Gathers a local release (a model directory, a file, a snapshot) and judges its manifest
/// alone, with the GIL released: the evidence and the verdict, or the exception a refusal is.
fn admitted<'a>(
    py: Python<'_>,
    src: Source<'a>,
    loc: &Locators,
    ask: &Ask,
    shown: &Path,
) -> PyResult<(weightseal::evidence::Evidence<'a>, Verdict)> {
    let out = py.detach(|| -> Result<_, GatherError> {
        let ev = gather(&src, loc)?;
        let v = weightseal::release::admit(&ev, ask);
        Ok((ev, v))
    });
    let (ev, v) = out.map_err(|e| gather_error(py, e))?;
    let v = v.map_err(|e| release_error(py, e, &format!("judging {}", shown.display())))?;
    if !v.ok() {
        return Err(refuse(py, &v));
    }
    Ok((ev, v))
}

/// The largest `model.safetensors.index.json` read.
const MAX_INDEX_LEN: u64 = 64 << 20;

/// Opens the safetensors weights of a Hugging Face snapshot for verified reading: the
/// snapshot's release is judged once (trust, pins, log) against its manifest or the one given
/// (which describes the snapshot, wherever it lies); then every shard is read against that
/// one judged manifest, never against a manifest lying beside a shard. Without `filename`:
/// the shards the index names, which must be exactly the safetensors files the manifest
/// records (the index's own bytes are checked against the manifest first), else
/// `model.safetensors`.
#[pyfunction]
#[pyo3(signature = (repo_id, trust, *, filename=None, revision=None, cache_dir=None, manifest=None, attestations=None))]
#[allow(clippy::too_many_arguments)]
fn open_snapshot(
    py: Python<'_>,
    repo_id: String,
    trust: TrustKeywords,
    filename: Option<String>,
    revision: Option<String>,
    cache_dir: Option<PathBuf>,
    manifest: Option<PathBuf>,
    attestations: Option<PathBuf>,
) -> PyResult<Vec<SafetensorsReader>> {
    let ask = ask(py, trust, OmsKeywords::default())?;
    let (repo, rev) = repo_spec(py, repo_id, revision)?;
    let loc = Locators {
        manifest: manifest.map(|p| p.display().to_string()),
        attestations: attestations.map(|p| p.display().to_string()),
        ..Locators::default()
    };
    let src = Source::HfSnapshot {
        repo: &repo,
        revision: rev.as_deref(),
        cache: cache_dir.as_deref(),
    };
    let (ev, verdict) = admitted(py, src, &loc, &ask, Path::new(&repo))?;
    let (Some(w), Place::Local { dir, .. }) = (ev.weightseal(), &ev.place) else {
        return Err(error(py, "ManifestError", "not a weightseal release"));
    };
    let m = &w.manifest;
    let names = match filename {
        Some(f) => vec![f],
        None => shards(py, dir, m)?,
    };
    names
        .into_iter()
        .map(|n| SafetensorsReader::open(py, &dir.join(&n), n, m, &verdict))
        .collect()
}

/// The shards of a snapshot, as its index names them, checked against the judged manifest.
fn shards(py: Python<'_>, dir: &Path, m: &weightseal::Manifest) -> PyResult<Vec<String>> {
    const INDEX: &str = "model.safetensors.index.json";
    let bad = |msg: String| error(py, "VerificationError", msg);
    let path = dir.join(INDEX);
    let bytes = weightseal::fsutil::read_regular(&path, MAX_INDEX_LEN)
        .map_err(|e| bad(format!("{INDEX}: {e}")))?;
    let Some(bytes) = bytes else {
        return Ok(vec!["model.safetensors".into()]);
    };
    // The index is a file of the release: its bytes must be the manifest's before it names
    // anything.
    let entry = m.file(INDEX).ok_or_else(|| {
        bad(format!(
            "{INDEX}: the manifest of {} does not record it, so it cannot name the shards",
            m.name()
        ))
    })?;
    if Digest(*blake3::hash(&bytes).as_bytes()) != entry.tree.root {
        return Err(bad(format!(
            "{INDEX}: its bytes differ from the manifest's (BLAKE3 {}, the manifest records {})",
            Digest(*blake3::hash(&bytes).as_bytes()),
            entry.tree.root
        )));
    }
    let index: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{INDEX}: not JSON: {e}")))?;
    let mut named: Vec<String> = index
        .get("weight_map")
        .and_then(|w| w.as_object())
        .map(|w| {
            w.values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    named.sort();
    named.dedup();
    let recorded: Vec<String> = m
        .files()
        .iter()
        .filter(|f| {
            f.tensors
                .as_ref()
                .is_some_and(|t| t.format == weightseal::formats::Format::Safetensors)
        })
        .map(|f| f.path.as_str().to_string())
        .collect();
    if named != recorded {
        return Err(bad(format!(
            "{INDEX} names the shards {named:?}, but the manifest of {} records {recorded:?}",
            m.name()
        )));
    }
    Ok(named)
}

/// A safetensors file opened for verified reading: its header verified against the manifest
/// (so the tensor layout is the published one), its tensors read and hashed on request.
#[pyclass(module = "weightseal._native", frozen)]
struct SafetensorsReader {
    file: std::fs::File,
    path: String,
    /// The manifest's tensors of this file, by name.
    tensors: HashMap<String, Tensor>,
    /// Names in file order.
    order: Vec<String>,
    /// The header's `__metadata__`, from the verified header bytes.
    metadata: Option<String>,
    /// The signature verdict (JSON), or `null` when no trust was given.
    signatures: String,
    manifest_digest: String,
    name: String,
}

/// A failure found while reading tensors with the GIL released.
enum ReadFailure {
    Io(String),
    Tensors(Vec<String>),
}

/// Reads `t`'s bytes into `buf` (exactly its length) from `file` and checks their BLAKE3
/// against the manifest: the bytes compared are the bytes returned.
fn read_tensor(file: &std::fs::File, t: &Tensor, buf: &mut [u8]) -> Result<bool, String> {
    const PIECE: usize = 4 << 20;
    let mut hasher = blake3::Hasher::new();
    let mut offset = t.start;
    for piece in buf.chunks_mut(PIECE) {
        file.read_exact_at(piece, offset)
            .map_err(|e| format!("reading tensor {:?} at byte {offset}: {e}", t.name))?;
        offset += piece.len() as u64;
        if piece.len() >= PIECE {
            hasher.update_rayon(piece);
        } else {
            hasher.update(piece);
        }
    }
    Ok(Digest(*hasher.finalize().as_bytes()) == t.digest)
}

#[pymethods]
impl SafetensorsReader {
    /// Opens `path` (a file of the model whose manifest is `manifest`: by default its
    /// directory's `weightseal.manifest`, or `FILE.weightseal.manifest` for a single-file
    /// model), judges the manifest with the library's one question and judge (trust, pins,
    /// log), and verifies the header.
    #[new]
    #[pyo3(signature = (path, trust, *, manifest=None, attestations=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        trust: TrustKeywords,
        manifest: Option<PathBuf>,
        attestations: Option<PathBuf>,
    ) -> PyResult<SafetensorsReader> {
        let ask = ask(py, trust, OmsKeywords::default())?;
        // Lexical absolute paths: a Hugging Face snapshot's file is a link into blobs/, and its
        // path in the manifest is its name in the snapshot.
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(p)
            }
        };
        let file_path = abs(&path);
        let dir = file_path.parent().unwrap_or(Path::new("/")).to_path_buf();
        // The model: a single-file model (its FILE.weightseal.manifest beside it), else the
        // given manifest's directory when the file is inside it, else the file's directory.
        let manifest = manifest.map(|m| abs(&m));
        let single = weightseal::path::single_file_manifest(&file_path);
        let root = match &manifest {
            None if single.exists() => file_path.clone(),
            None => dir,
            Some(m) => match m.parent() {
                Some(p) if file_path.starts_with(p) => p.to_path_buf(),
                _ => dir,
            },
        };
        let loc = Locators {
            manifest: manifest.map(|p| p.display().to_string()),
            attestations: attestations.map(|p| p.display().to_string()),
            ..Locators::default()
        };
        let (ev, verdict) = admitted(py, Source::Local(&root), &loc, &ask, &path)?;
        let (Some(w), Place::Local { dir, .. }) = (ev.weightseal(), &ev.place) else {
            return Err(error(py, "ManifestError", "not a weightseal release"));
        };
        let rel = file_path
            .strip_prefix(dir)
            .ok()
            .and_then(|r| r.to_str())
            .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
            .ok_or_else(|| {
                error(
                    py,
                    "ManifestError",
                    format!(
                        "{} is not inside the model directory {}",
                        path.display(),
                        dir.display(),
                    ),
                )
            })?;
        SafetensorsReader::open(py, &file_path, rel, &w.manifest, &verdict)
    }
    /// Tensor names in file order.
    fn keys(&self) -> Vec<String> {
        self.order.clone()
    }

    /// `(dtype, shape)` of a tensor.
    fn info(&self, py: Python<'_>, name: &str) -> PyResult<(String, Vec<u64>)> {
        let t = self.tensor(py, name)?;
        Ok((t.dtype.clone(), t.shape.clone()))
    }

    /// The header's `__metadata__` as JSON, or None.
    fn metadata(&self) -> Option<String> {
        self.metadata.clone()
    }

    /// The attestations' verdict as JSON (`null` when no trust was given).
    fn signatures(&self) -> String {
        self.signatures.clone()
    }

    #[getter]
    fn manifest_digest(&self) -> String {
        self.manifest_digest.clone()
    }

    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// One tensor's bytes, verified: `(dtype, shape, bytearray)`. Raises
    /// TensorVerificationError naming it when they differ from the manifest's digest.
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<(String, Vec<u64>, Bound<'py, PyByteArray>)> {
        let t = self.tensor(py, name)?;
        let len = usize::try_from(t.end - t.start)
            .map_err(|_| error(py, "WeightsealError", "tensor too large"))?;
        let buf = PyByteArray::new_with(py, len, |buf| {
            match py.detach(|| read_tensor(&self.file, t, buf)) {
                Ok(true) => Ok(()),
                Ok(false) => Err(self.tensor_error(py, std::slice::from_ref(&t.name))),
                Err(e) => Err(error(py, "WeightsealError", format!("{}: {e}", self.path))),
            }
        })?;
        Ok((t.dtype.clone(), t.shape.clone(), buf))
    }

    /// Every tensor, read and verified in parallel into one buffer: `(bytearray, [(name,
    /// dtype, shape, offset, length)])`. Raises TensorVerificationError naming every tensor
    /// that differs; then no buffer is returned.
    #[allow(clippy::type_complexity)]
    fn read_all<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, PyByteArray>,
        Vec<(String, String, Vec<u64>, usize, usize)>,
    )> {
        let mut sorted: Vec<&Tensor> = self.tensors.values().collect();
        sorted.sort_by_key(|t| (t.start, t.end));
        let base = sorted.first().map(|t| t.start).unwrap_or(0);
        let end = sorted.iter().map(|t| t.end).max().unwrap_or(base);
        let total = usize::try_from(end - base)
            .map_err(|_| error(py, "WeightsealError", "file too large"))?;
        let mut layout = Vec::with_capacity(sorted.len());
        for t in &sorted {
            layout.push((
                t.name.clone(),
                t.dtype.clone(),
                t.shape.clone(),
                (t.start - base) as usize,
                (t.end - t.start) as usize,
            ));
        }
        let buf = PyByteArray::new_with(py, total, |buf| {
            let outcome = py.detach(|| {
                // Split the buffer into one slice per tensor (they are disjoint and sorted).
                let mut slices: Vec<(&Tensor, &mut [u8])> = Vec::with_capacity(sorted.len());
                let mut rest: &mut [u8] = buf;
                let mut pos = base;
                for t in &sorted {
                    let (_, tail) = rest.split_at_mut((t.start - pos) as usize);
                    let (mine, tail) = tail.split_at_mut((t.end - t.start) as usize);
                    slices.push((t, mine));
                    rest = tail;
                    pos = t.end;
                }
                let results: Vec<Result<Option<String>, String>> = slices
                    .into_par_iter()
                    .map(|(t, slice)| {
                        read_tensor(&self.file, t, slice).map(|ok| (!ok).then(|| t.name.clone()))
                    })
                    .collect();
                let mut bad = Vec::new();
                for r in results {
                    match r {
                        Ok(Some(name)) => bad.push(name),
                        Ok(None) => {}
                        Err(e) => return Err(ReadFailure::Io(e)),
                    }
                }
                if bad.is_empty() {
                    Ok(())
                } else {
                    Err(ReadFailure::Tensors(bad))
                }
            });
            match outcome {
                Ok(()) => Ok(()),
                Err(ReadFailure::Tensors(bad)) => Err(self.tensor_error(py, &bad)),
                Err(ReadFailure::Io(e)) => {
                    Err(error(py, "WeightsealError", format!("{}: {e}", self.path)))
                }
            }
        })?;
        Ok((buf, layout))
    }
}

impl SafetensorsReader {
    /// A reader of the file `rel` of a release whose manifest `m` was judged (`verdict`
    /// ok): the entry, the size and the header are checked against `m` before any tensor.
    fn open(
        py: Python<'_>,
        file_path: &Path,
        rel: String,
        m: &weightseal::Manifest,
        verdict: &Verdict,
    ) -> PyResult<SafetensorsReader> {
        let path = file_path;
        let entry = m.file(&rel).ok_or_else(|| {
            error(
                py,
                "ManifestError",
                format!("the manifest of {} lists no file {rel:?}", m.name()),
            )
        })?;
        let tf = match &entry.tensors {
            Some(tf) if tf.format == weightseal::formats::Format::Safetensors => tf,
            Some(_) => return Err(error(py, "ManifestError", format!("{rel}: the manifest records it as a GGUF file, not safetensors"))),
            None => return Err(error(py, "ManifestError", format!("{rel}: the manifest of {} records no tensors for it (hashed with tensors=False or not a safetensors file); hash the model again with tensor digests", m.name()))),
        };
        let signatures = match &verdict.signatures {
            Some(r) => json(py, r)?,
            None => "null".into(),
        };
        // A regular file only: a named pipe at a shard's name is refused, not waited on.
        let file = weightseal::fsutil::open_regular(file_path)
            .map(|(f, _)| f)
            .map_err(|e| {
                error(
                    py,
                    "WeightsealError",
                    format!("cannot open {}: {e}", path.display()),
                )
            })?;
        let size = file
            .metadata()
            .map_err(|e| error(py, "WeightsealError", format!("{}: {e}", path.display())))?
            .len();
        if size != entry.tree.size {
            return Err(error(
                py,
                "VerificationError",
                format!(
                    "{rel}: {size} bytes where the manifest records {}",
                    entry.tree.size
                ),
            ));
        }
        let header_len = usize::try_from(tf.header_len)
            .map_err(|_| error(py, "ManifestError", "header too large"))?;
        let mut header = vec![0u8; header_len];
        file.read_exact_at(&mut header, 0).map_err(|e| {
            error(
                py,
                "WeightsealError",
                format!("reading the header of {}: {e}", path.display()),
            )
        })?;
        if Digest(*blake3::hash(&header).as_bytes()) != tf.header {
            return Err(error(py, "VerificationError", format!("{rel}: the header (tensor names, dtypes, shapes, offsets, metadata) differs from the manifest's")));
        }
        // The verified header's metadata, for `metadata()`.
        let metadata = header
            .get(8..)
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(h).ok())
            .and_then(|v| v.get("__metadata__").cloned())
            .map(|v| v.to_string());
        let order: Vec<String> = tf.tensors.iter().map(|t| t.name.clone()).collect();
        Ok(SafetensorsReader {
            file,
            path: rel,
            tensors: tf
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            order,
            metadata,
            signatures,
            manifest_digest: m.digest().to_hex(),
            name: m.name().to_string(),
        })
    }

    fn tensor(&self, py: Python<'_>, name: &str) -> PyResult<&Tensor> {
        self.tensors.get(name).ok_or_else(|| {
            match py
                .import("builtins")
                .and_then(|b| b.getattr("KeyError"))
                .and_then(|k| {
                    k.call1((format!("{}: no tensor {name:?} in the manifest", self.path),))
                }) {
                Ok(v) => PyErr::from_value(v),
                Err(e) => e,
            }
        })
    }

    /// TensorVerificationError(message, path, names).
    fn tensor_error(&self, py: Python<'_>, names: &[String]) -> PyErr {
        let msg = format!(
            "{}: tensor(s) {} do not match the manifest's digests; nothing of them was returned",
            self.path,
            names.join(", ")
        );
        match py
            .import("weightseal.errors")
            .and_then(|m| m.getattr("TensorVerificationError"))
            .and_then(|c| c.call1((msg, self.path.clone(), names.to_vec())))
        {
            Ok(v) => PyErr::from_value(v),
            Err(e) => e,
        }
    }
}

/// The version of the weightseal library these bindings were built with.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(hash, m)?)?;
    m.add_function(wrap_pyfunction!(manifest_json, m)?)?;
    m.add_function(wrap_pyfunction!(sign, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(fetch, m)?)?;
    m.add_function(wrap_pyfunction!(snapshot_path, m)?)?;
    m.add_function(wrap_pyfunction!(open_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(derive_check, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_class::<SafetensorsReader>()?;
    Ok(())
}
