//! The generator of weightseal's known-answer vectors (testvectors/README.md).
//!
//! Run `cargo run --example generate-vectors` to rewrite `testvectors/`; the test
//! `tests/vectors.rs` fails when the checked-in files differ from what this code produces.
//! Everything here is deterministic: inputs are the BLAKE3 test-vector pattern
//! (byte i = (i + seed) mod 251), never random.
//!
//! Manifest bytes are produced by a small CBOR writer of its own (not the library's encoder),
//! so the success vectors check the library against an independent encoding, and the failure
//! vectors can hold exactly the non-canonical or malformed bytes they describe.

use std::collections::BTreeMap;

use weightseal::digest::hex;
use weightseal::tree::{hash_bytes, ChunkSize, FileTree};

/// File name (relative to `testvectors/`) → content.
pub type Vectors = BTreeMap<String, String>;

/// The input pattern: byte i = (i + seed) mod 251.
pub fn pattern(len: u64, seed: u64) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) % 251) as u8).collect()
}

pub fn generate() -> Vectors {
    let mut v = Vectors::new();
    tree_vectors(&mut v);
    manifest_vectors(&mut v);
    fold_vectors(&mut v);
    index_vectors(&mut v);
    format_vectors(&mut v);
    tensor_set_vectors(&mut v);
    tensor_manifest_vectors(&mut v);
    attestation_vectors(&mut v);
    policy_vectors(&mut v);
    log_vectors(&mut v);
    derive_recipe_vectors(&mut v);
    derive_vectors(&mut v);
    v
}

// ---------------------------------------------------------------------------------------------
// Tree vectors

fn tree_vectors(v: &mut Vectors) {
    for cs in [16384u64, 65536] {
        let k = cs / 1024;
        let cases: Vec<(String, u64)> = vec![
            ("len-0".into(), 0),
            ("len-1".into(), 1),
            ("len-1023".into(), 1023),
            ("len-1024".into(), 1024),
            ("len-1025".into(), 1025),
            ("one-group-minus-1".into(), cs - 1),
            ("one-group".into(), cs),
            ("one-group-plus-1".into(), cs + 1),
            ("2-groups".into(), 2 * cs),
            ("2-groups-plus-1023".into(), 2 * cs + 1023),
            ("3-groups".into(), 3 * cs),
            ("3-groups-plus-7".into(), 3 * cs + 7),
            ("5-groups".into(), 5 * cs),
            ("5-groups-plus-1025".into(), 5 * cs + 1025),
            ("8-groups".into(), 8 * cs),
            ("8-groups-plus-1".into(), 8 * cs + 1),
            ("9-groups-minus-1".into(), 9 * cs - 1),
        ];
        for (name, len) in cases {
            let c = ChunkSize::new(cs).expect("valid chunk size");
            let t = hash_bytes(&pattern(len, 0), c);
            let mut s = format!(
                "# Tree of a {len}-byte input at chunk size {cs}: the root is BLAKE3 of the input;\n\
                 # one chunk value per {cs}-byte group unless the input fits in one group.\n"
            );
            s.push_str("expect: success\n");
            s.push_str(&tree_body(cs, len, &t));
            v.insert(format!("tree/cs{k}k-{name}.txt"), s);
        }
    }
    // Tampered inputs: the chunk values locate the change.
    let cs = 16384u64;
    let c = ChunkSize::new(cs).expect("valid chunk size");
    for (name, len, flip, start, end) in [
        ("flip-in-group-1", 40000u64, 20000u64, 16384u64, 32768u64),
        ("flip-in-short-last-group", 40000, 39999, 32768, 40000),
        ("flip-in-one-group-file", 1025, 0, 0, 1025),
    ] {
        let t = hash_bytes(&pattern(len, 0), c);
        let how = if t.chunks.is_empty() {
            "the file has no chunk values (one group), so the whole file is reported"
        } else {
            "comparing chunk values names"
        };
        let mut s = format!(
            "# The input with byte {flip} XORed with 0x01 no longer matches this tree;\n\
             # {how}: bytes {start}..{end}.\n"
        );
        s.push_str("expect: digest mismatch\n");
        s.push_str(&tree_body(cs, len, &t));
        s.push_str(&format!("tamper: {flip}\nrange: {start}..{end}\n"));
        v.insert(format!("tree/cs16k-{name}.txt"), s);
    }
    // A file that grew (issue 26, M-7): group 2 is in both trees but covers another byte range,
    // and group 3 is in one only; ranges are taken at the larger size and merge.
    let t = hash_bytes(&pattern(40000, 0), c);
    let mut s = "# The 40000-byte input of this tree, grown to the 50000-byte pattern: group 2 covers\n\
                 # 32768..40000 in the tree and 32768..49152 in the file (another range), group 3 is\n\
                 # the file's only; both are taken at the larger size and merge: 32768..50000.\n"
        .to_string();
    s.push_str("expect: digest mismatch\n");
    s.push_str(&tree_body(cs, 40000, &t));
    s.push_str("resize: 50000\nrange: 32768..50000\n");
    v.insert("tree/cs16k-grown-file.txt".into(), s);
}

fn tree_body(cs: u64, len: u64, t: &FileTree) -> String {
    let mut s = format!(
        "input: pattern\nseed: 0\nlength: {len}\nchunk_size: {cs}\nroot: {}\n",
        t.root
    );
    for c in &t.chunks {
        s.push_str(&format!("chunk: {c}\n"));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// A minimal CBOR writer, able to write non-canonical forms on purpose.

#[derive(Clone)]
enum C {
    U(u64),
    /// An unsigned integer with a forced argument width (1, 2, 4 or 8 bytes).
    UWide(u64, u8),
    B(Vec<u8>),
    T(String),
    /// A text string with arbitrary (possibly invalid UTF-8) bytes.
    TRaw(Vec<u8>),
    A(Vec<C>),
    AIndef(Vec<C>),
    M(Vec<(C, C)>),
    /// Bytes written as they are.
    Raw(Vec<u8>),
}

fn head(major: u8, arg: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.extend([m | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend((arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend((arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend(arg.to_be_bytes());
    }
}

fn enc(c: &C, out: &mut Vec<u8>) {
    match c {
        C::U(n) => head(0, *n, out),
        C::UWide(n, w) => {
            let (ai, bytes) = match w {
                1 => (24, vec![*n as u8]),
                2 => (25, (*n as u16).to_be_bytes().to_vec()),
                4 => (26, (*n as u32).to_be_bytes().to_vec()),
                _ => (27, n.to_be_bytes().to_vec()),
            };
            out.push(ai);
            out.extend(bytes);
        }
        C::B(b) => {
            head(2, b.len() as u64, out);
            out.extend(b);
        }
        C::T(t) => {
            head(3, t.len() as u64, out);
            out.extend(t.as_bytes());
        }
        C::TRaw(t) => {
            head(3, t.len() as u64, out);
            out.extend(t);
        }
        C::A(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| enc(i, out));
        }
        C::AIndef(items) => {
            out.push(0x9f);
            items.iter().for_each(|i| enc(i, out));
            out.push(0xff);
        }
        C::M(entries) => {
            head(5, entries.len() as u64, out);
            for (k, val) in entries {
                enc(k, out);
                enc(val, out);
            }
        }
        C::Raw(b) => out.extend(b),
    }
}

fn t(s: &str) -> C {
    C::T(s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Manifest vectors

/// A file of an input tree: path, length, pattern seed.
/// A negative vector: name, description, error code, path reason, bytes.
type Negative = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
);

struct In {
    path: &'static str,
    len: u64,
    seed: u64,
}

struct Model {
    name: &'static str,
    cs: u64,
    sha256: bool,
    files: Vec<In>,
}

fn file_map(f: &In, cs: u64, sha256: bool) -> Vec<(C, C)> {
    let data = pattern(f.len, f.seed);
    let tree = hash_bytes(&data, ChunkSize::new(cs).expect("valid chunk size"));
    let mut m = vec![
        (t("path"), t(f.path)),
        (t("size"), C::U(f.len)),
        (t("blake3"), C::B(tree.root.0.to_vec())),
    ];
    if !tree.chunks.is_empty() {
        m.push((
            t("chunks"),
            C::A(tree.chunks.iter().map(|c| C::B(c.0.to_vec())).collect()),
        ));
    }
    if sha256 {
        use sha2::Digest as _;
        m.push((t("sha256"), C::B(sha2::Sha256::digest(&data).to_vec())));
    }
    m
}

/// The canonical CBOR tree of a model's manifest (files must be given sorted).
fn manifest_tree(m: &Model) -> Vec<(C, C)> {
    vec![
        (t("name"), t(m.name)),
        (
            t("files"),
            C::A(
                m.files
                    .iter()
                    .map(|f| C::M(file_map(f, m.cs, m.sha256)))
                    .collect(),
            ),
        ),
        (t("format"), C::U(1)),
        (t("chunk_size"), C::U(m.cs)),
    ]
}

fn bytes_of(c: &C) -> Vec<u8> {
    let mut out = Vec::new();
    enc(c, &mut out);
    out
}

fn model_lines(m: &Model) -> String {
    let mut s = format!(
        "name: {}\nchunk_size: {}\nsha256: {}\n",
        m.name,
        m.cs,
        if m.sha256 { "yes" } else { "no" }
    );
    for f in &m.files {
        s.push_str(&format!("file: {} {} {}\n", f.len, f.seed, f.path));
    }
    s
}

fn manifest_vectors(v: &mut Vectors) {
    let f = |path, len, seed| In { path, len, seed };
    let positives: Vec<(&str, &str, Model)> = vec![
        (
            "single-small-file",
            "One file that fits in one chunk group: no chunk list.",
            Model { name: "tiny", cs: 16384, sha256: false, files: vec![f("config.json", 100, 0)] },
        ),
        (
            "empty-model",
            "A directory with no files.",
            Model { name: "empty", cs: 4194304, sha256: false, files: vec![] },
        ),
        (
            "empty-file",
            "A zero-byte file: BLAKE3 of the empty input, no chunk list.",
            Model { name: "m", cs: 16384, sha256: false, files: vec![f("empty.bin", 0, 0)] },
        ),
        (
            "group-boundaries",
            "Sizes at the group boundary: exactly one group (no chunks), one byte more (2 chunks).",
            Model {
                name: "m",
                cs: 16384,
                sha256: false,
                files: vec![f("a.bin", 16384, 1), f("b.bin", 16385, 2)],
            },
        ),
        (
            "chunked-file",
            "A file of 3 groups and 7 bytes: four chunk values that merge to the root.",
            Model { name: "org/chunked", cs: 16384, sha256: false, files: vec![f("model.safetensors", 3 * 16384 + 7, 3)] },
        ),
        (
            "sorted-by-utf8-bytes",
            "Paths sort by their UTF-8 bytes: uppercase before lowercase, '-' before '/', non-ASCII last.",
            Model {
                name: "sorting",
                cs: 16384,
                sha256: false,
                files: vec![
                    f("B.json", 3, 0),
                    f("a-b", 4, 1),
                    f("a/b", 5, 2),
                    f("a/c/d.bin", 6, 3),
                    f("z", 7, 4),
                    f("\u{e9}t\u{e9}.txt", 8, 5),
                ],
            },
        ),
        (
            "with-sha256",
            "SHA-256 recorded beside BLAKE3 (the Hugging Face LFS oid of each file).",
            Model {
                name: "lfs",
                cs: 16384,
                sha256: true,
                files: vec![f("config.json", 50, 9), f("model.bin", 40000, 1)],
            },
        ),
        (
            "large-chunk-size",
            "Chunk size 1 GiB (the largest allowed): small files have no chunk list.",
            Model { name: "m", cs: 1 << 30, sha256: false, files: vec![f("w.bin", 70000, 0)] },
        ),
    ];
    for (name, desc, model) in &positives {
        let bytes = bytes_of(&C::M(manifest_tree(model)));
        let mut s = format!("# {desc}\nexpect: success\n");
        s.push_str(&model_lines(model));
        s.push_str(&format!("manifest: {}\n", hex(&bytes)));
        s.push_str(&format!(
            "digest: {}\n",
            hex(blake3::hash(&bytes).as_bytes())
        ));
        v.insert(format!("manifest/ok-{name}.txt"), s);
    }

    // Negative vectors start from this valid manifest and break one rule each.
    let base = Model {
        name: "base",
        cs: 16384,
        sha256: false,
        files: vec![f("a.json", 10, 0), f("b.bin", 40000, 1)],
    };
    let top = manifest_tree(&base);
    let files = |top: &Vec<(C, C)>| match &top[1].1 {
        C::A(items) => items.clone(),
        _ => unreachable!(),
    };
    let file = |i: usize| match &files(&top)[i] {
        C::M(m) => m.clone(),
        _ => unreachable!(),
    };
    let with_files = |fs: Vec<C>| {
        let mut t2 = top.clone();
        t2[1].1 = C::A(fs);
        C::M(t2)
    };
    let with_file0 = |m: Vec<(C, C)>| {
        let mut fs = files(&top);
        fs[0] = C::M(m);
        with_files(fs)
    };
    let with_top = |i: usize, val: C| {
        let mut t2 = top.clone();
        t2[i].1 = val;
        C::M(t2)
    };
    let path0 = |p: C| {
        let mut m = file(0);
        m[0].1 = p;
        with_file0(m)
    };
    let canonical = bytes_of(&C::M(top.clone()));

    // (name, description, error code, optional path reason, bytes)
    let mut neg: Vec<Negative> = vec![
        ("empty-input", "Zero bytes.", "empty", None, vec![]),
        (
            "trailing-bytes",
            "A valid manifest followed by one more byte.",
            "trailing-bytes",
            None,
            {
                let mut b = canonical.clone();
                b.push(0x00);
                b
            },
        ),
        (
            "truncated",
            "A valid manifest missing its last byte.",
            "truncated",
            None,
            canonical[..canonical.len() - 1].to_vec(),
        ),
        (
            "non-shortest-integer",
            "files[0].size 10 written with a one-byte argument (0x18 0x0a) instead of 0x0a.",
            "non-canonical",
            None,
            bytes_of(&{
                let mut m = file(0);
                m[1].1 = C::UWide(10, 1);
                with_file0(m)
            }),
        ),
        (
            "non-shortest-length",
            "The name's length written with a two-byte argument.",
            "non-canonical",
            None,
            bytes_of(&with_top(
                0,
                C::Raw(vec![0x79, 0x00, 0x04, b'b', b'a', b's', b'e']),
            )),
        ),
        (
            "indefinite-length-array",
            "The files array written with indefinite length (0x9f ... 0xff).",
            "non-canonical",
            None,
            bytes_of(&with_top(1, C::AIndef(files(&top)))),
        ),
        (
            "keys-out-of-order",
            "Top-level keys in the wrong order (files before name).",
            "key-order",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2.swap(0, 1);
                C::M(t2)
            }),
        ),
        (
            "duplicate-key",
            "The key name given twice.",
            "key-order",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2.insert(1, (t("name"), t("again")));
                C::M(t2)
            }),
        ),
        (
            "unknown-field",
            "An extra top-level key the format does not define.",
            "unknown-field",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2.push((t("comment"), t("x")));
                C::M(t2)
            }),
        ),
        (
            "missing-chunk-size",
            "No chunk_size field.",
            "missing-field",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2.pop();
                C::M(t2)
            }),
        ),
        (
            "missing-blake3",
            "A file without its blake3 root.",
            "missing-field",
            None,
            bytes_of(&{
                let mut m = file(0);
                m.remove(2);
                with_file0(m)
            }),
        ),
        (
            "size-as-text",
            "files[0].size is a text string.",
            "wrong-type",
            None,
            bytes_of(&{
                let mut m = file(0);
                m[1].1 = t("10");
                with_file0(m)
            }),
        ),
        (
            "path-as-bytes",
            "files[0].path is a byte string, not text.",
            "wrong-type",
            None,
            bytes_of(&path0(C::B(b"a.json".to_vec()))),
        ),
        (
            "top-level-array",
            "The manifest is an array, not a map.",
            "wrong-type",
            None,
            bytes_of(&C::A(vec![C::U(1)])),
        ),
        (
            "format-2",
            "Format version 2 (this version of the format is 1).",
            "unsupported-version",
            None,
            bytes_of(&with_top(2, C::U(2))),
        ),
        (
            "chunk-size-not-power-of-two",
            "chunk_size 20000.",
            "bad-chunk-size",
            None,
            bytes_of(&with_top(3, C::U(20000))),
        ),
        (
            "chunk-size-too-small",
            "chunk_size 8192 (the minimum is 16384).",
            "bad-chunk-size",
            None,
            bytes_of(&with_top(3, C::U(8192))),
        ),
        (
            "chunk-size-too-large",
            "chunk_size 2^31 (the maximum is 2^30).",
            "bad-chunk-size",
            None,
            bytes_of(&with_top(3, C::U(1 << 31))),
        ),
        (
            "empty-name",
            "An empty model name.",
            "bad-name",
            None,
            bytes_of(&with_top(0, t(""))),
        ),
        (
            "name-control-char",
            "A model name with a newline.",
            "bad-name",
            None,
            bytes_of(&with_top(0, t("a\nb"))),
        ),
        (
            "path-absolute",
            "An absolute path.",
            "bad-path",
            Some("absolute"),
            bytes_of(&path0(t("/a.json"))),
        ),
        (
            "path-dotdot",
            "A path with a '..' component.",
            "bad-path",
            Some("dotdot-component"),
            bytes_of(&path0(t("../a.json"))),
        ),
        (
            "path-dot",
            "A path with a '.' component.",
            "bad-path",
            Some("dot-component"),
            bytes_of(&path0(t("./a.json"))),
        ),
        (
            "path-empty-component",
            "A path with '//'.",
            "bad-path",
            Some("empty-component"),
            bytes_of(&path0(t("a//a.json"))),
        ),
        (
            "path-trailing-slash",
            "A path ending in '/'.",
            "bad-path",
            Some("empty-component"),
            bytes_of(&path0(t("a/"))),
        ),
        (
            "path-backslash",
            "A path with a backslash.",
            "bad-path",
            Some("backslash"),
            bytes_of(&path0(t("a\\a.json"))),
        ),
        (
            "path-control-char",
            "A path with a NUL byte.",
            "bad-path",
            Some("control-character"),
            bytes_of(&path0(t("a\u{0}.json"))),
        ),
        (
            "path-empty",
            "An empty path.",
            "bad-path",
            Some("empty"),
            bytes_of(&path0(t(""))),
        ),
        (
            "path-git",
            "A path inside .git/.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t(".git/config"))),
        ),
        (
            "path-manifest",
            "The manifest's own file name at the root.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t("weightseal.manifest"))),
        ),
        (
            "path-model-sig",
            "model.sig at the root: the OpenSSF model signing bundle kept beside the weights is a signature of the release, not a file of it.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t("model.sig"))),
        ),
        (
            "path-tlog-proof",
            "weightseal.tlog-proof at the root: the release's transparency log proof, not a file of it.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t("weightseal.tlog-proof"))),
        ),
        (
            "path-model-sig-uppercase",
            "MODEL.SIG at the root, the same name on case-insensitive file systems.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t("MODEL.SIG"))),
        ),
        (
            "path-partial-dir",
            "A path inside the download scratch directory.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t(".weightseal-partial/a"))),
        ),
        (
            "path-not-utf8",
            "A path text string holding invalid UTF-8 (0xff).",
            "malformed-cbor",
            None,
            bytes_of(&path0(C::TRaw(vec![b'a', 0xff]))),
        ),
        (
            "unsorted-paths",
            "Files listed in the wrong order.",
            "unsorted-paths",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                fs.swap(0, 1);
                with_files(fs)
            }),
        ),
        (
            "duplicate-path",
            "The same file listed twice.",
            "duplicate-path",
            None,
            bytes_of(&{
                let fs = files(&top);
                with_files(vec![fs[0].clone(), fs[0].clone(), fs[1].clone()])
            }),
        ),
        (
            "path-conflict",
            "'a.json' is listed as a file and as the directory of 'a.json/x'.",
            "path-conflict",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                let mut m = file(0);
                m[0].1 = t("a.json/x");
                fs.insert(1, C::M(m));
                with_files(fs)
            }),
        ),
        // Error precedence (spec/manifest.md, "Reading a manifest", "Which error"): inputs that
        // break two rules, and the one code a reader reports.
        (
            "two-rules-name-after-files",
            "An empty name and files[0].path '.git/config': the files are read before the name rule is applied, so bad-path.",
            "bad-path",
            Some("reserved"),
            bytes_of(&{
                let mut m = file(0);
                m[0].1 = t(".git/config");
                let mut fs = files(&top);
                fs[0] = C::M(m);
                let mut t2 = top.clone();
                t2[1].1 = C::A(fs);
                t2[0].1 = t("");
                C::M(t2)
            }),
        ),
        (
            "two-rules-keys-before-values",
            "An unknown top-level key after chunk_size, and format 2: every key is checked before any value, so unknown-field.",
            "unknown-field",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2[2].1 = C::U(2);
                t2.push((t("zzz"), C::U(1)));
                C::M(t2)
            }),
        ),
        (
            "two-rules-format-before-name",
            "format 2 and an empty name: format is read first, so unsupported-version.",
            "unsupported-version",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2[2].1 = C::U(2);
                t2[0].1 = t("");
                C::M(t2)
            }),
        ),
        (
            "two-rules-name-type-before-chunk-size",
            "name is the integer 5 and chunk_size is 3: name is read before chunk_size, and a value of the wrong CBOR type is wrong-type.",
            "wrong-type",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2[0].1 = C::U(5);
                t2[3].1 = C::U(3);
                C::M(t2)
            }),
        ),
        (
            "two-rules-non-text-key",
            "A top-level map key that is the integer 1 (placed first), and format 2: every key is checked before any value, and a key that is not a text string is wrong-type.",
            "wrong-type",
            None,
            bytes_of(&{
                let mut t2 = top.clone();
                t2[2].1 = C::U(2);
                t2.insert(0, (C::U(1), C::U(1)));
                C::M(t2)
            }),
        ),
        (
            "two-rules-file-keys-before-values",
            "files[0] has size as text and an unknown key zzz after its other keys: a file map's keys are checked before its values, so unknown-field.",
            "unknown-field",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                if let C::M(m) = &mut fs[0] {
                    for (k, v) in m.iter_mut() {
                        if matches!(k, C::T(x) if x == "size") {
                            *v = t("20");
                        }
                    }
                    m.push((t("zzz"), C::U(1)));
                }
                with_files(fs)
            }),
        ),
        (
            "two-rules-path-rule-before-order",
            "The first two files in the wrong order, and a third file at 'z/../x': the path rule is checked as each file is read, order only after every file, so bad-path.",
            "bad-path",
            Some("dotdot-component"),
            bytes_of(&{
                let mut fs = files(&top);
                fs.swap(0, 1);
                let mut m = file(0);
                m[0].1 = t("z/../x");
                fs.push(C::M(m));
                with_files(fs)
            }),
        ),
        (
            "chunk-value-31-bytes",
            "b.bin (40000 bytes, three chunks) with a chunk value of 31 bytes: every digest of a file map, chunk values included, is digest-length when not 32 bytes.",
            "digest-length",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for f in fs.iter_mut() {
                    if let C::M(m) = f {
                        for (k, v) in m.iter_mut() {
                            if let (C::T(x), C::A(cs)) = (&*k, &mut *v) {
                                if x == "chunks" {
                                    cs[1] = C::B(vec![0; 31]);
                                }
                            }
                        }
                    }
                }
                with_files(fs)
            }),
        ),
        (
            "two-rules-chunks-of-the-first-file",
            "The files in the wrong order, and the first of them (b.bin, 40000 bytes) without its chunks: each file is checked whole (order with its predecessor, then its chunks) before the next, so chunk-count.",
            "chunk-count",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                fs.swap(0, 1);
                if let C::M(m) = &mut fs[0] {
                    m.retain(|(k, _)| !matches!(k, C::T(x) if x == "chunks"));
                }
                with_files(fs)
            }),
        ),
        (
            "two-rules-earlier-file-first",
            "files[0].path '../x' and files[1].blake3 of 31 bytes: files[0] is read whole first, so bad-path.",
            "bad-path",
            Some("dotdot-component"),
            bytes_of(&{
                let mut fs = files(&top);
                if let C::M(m) = &mut fs[0] {
                    m[0].1 = t("../x");
                }
                if let C::M(m) = &mut fs[1] {
                    for (k, v) in m.iter_mut() {
                        if matches!(k, C::T(x) if x == "blake3") {
                            *v = C::B(vec![7; 31]);
                        }
                    }
                }
                with_files(fs)
            }),
        ),
        (
            "path-git-nested",
            "A path inside a nested .git directory (git would read sub/.git/config).",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t("a/.git/config"))),
        ),
        (
            "path-git-uppercase",
            "A path inside .Git/, the same directory as .git/ on case-insensitive file systems.",
            "bad-path",
            Some("reserved"),
            bytes_of(&path0(t(".Git/config"))),
        ),
        (
            "path-format-char",
            "A path with U+202E RIGHT-TO-LEFT OVERRIDE (a Unicode format character).",
            "bad-path",
            Some("format-character"),
            bytes_of(&path0(t("a\u{202e}nosj.json"))),
        ),
        (
            "name-format-char",
            "A model name with U+200B ZERO WIDTH SPACE.",
            "bad-name",
            None,
            bytes_of(&with_top(0, t("org/\u{200b}model"))),
        ),
        (
            "path-collision-case",
            "'A.json' and 'a.json': one file on a case-insensitive file system.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                let mut m = file(0);
                m[0].1 = t("A.json");
                fs.insert(0, C::M(m));
                with_files(fs)
            }),
        ),
        (
            "path-collision-nfc",
            "'cafe' + U+0301 and 'caf' + U+00E9: the same name after NFC normalisation.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["cafe\u{301}", "caf\u{e9}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-final-sigma",
            "'\u{39f}\u{394}\u{39f}\u{3a3}' (ODOS in Greek capitals) and '\u{3bf}\u{3b4}\u{3bf}\u{3c2}' (odos, final sigma): the lowercase mapping applies the Final_Sigma condition, so both fold to the final-sigma form.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["\u{39f}\u{394}\u{39f}\u{3a3}", "\u{3bf}\u{3b4}\u{3bf}\u{3c2}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-unicode-16",
            "U+0264 and U+A7CB LATIN CAPITAL LETTER RAMS HORN (assigned in Unicode 16.0, lowercase U+0264): the folded form uses Unicode 17.0 data, so they collide (under Unicode 15 or older they would not).",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["\u{264}", "\u{a7cb}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-unicode-17",
            "U+A7CE LATIN CAPITAL LETTER PHARYNGEAL VOICED FRICATIVE and U+A7CF, its lowercase (a case pair assigned in Unicode 17.0): they collide under the folding table (fold/table.txt), and under Unicode 16.0 or older data they would not.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["\u{a7ce}", "\u{a7cf}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-nfc-unicode-16",
            "U+105C9 TODHRI LETTER EI and U+105D2 U+0307 (its canonical decomposition, assigned in Unicode 16.0): NFC with the folding table composes the second into the first, so they collide; NFC with Unicode 15.1 or older data leaves them apart.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["\u{105c9}", "\u{105d2}\u{307}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-sigma-after-cased-ignorable",
            "U+02B0 U+03A3 and U+02B0 U+03C3: the uppercase step maps both sigmas to U+03A3, so they fold alike whatever the Final_Sigma test then says (fold/final-sigma-cased-and-ignorable pins that test).",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["\u{2b0}\u{3a3}", "\u{2b0}\u{3c3}"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-long-s",
            "'model.safetensors' and 'model.\u{17f}afetensors' (U+017F LONG S): one file on APFS and NTFS, which fold or uppercase names; the folded form uppercases before it lowercases, so they collide (lowercasing alone keeps U+017F).",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["model.safetensors", "model.\u{17f}afetensors"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-sharp-s",
            "'strasse.bin' and 'stra\u{df}e.bin': U+00DF uppercases to 'SS' (a full mapping), so they collide.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                for p in ["strasse.bin", "stra\u{df}e.bin"] {
                    let mut m = file(0);
                    m[0].1 = t(p);
                    fs.push(C::M(m));
                }
                with_files(fs)
            }),
        ),
        (
            "path-collision-parent",
            "'A.JSON/x' needs a directory that folds to the file 'a.json'.",
            "path-collision",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                let mut m = file(0);
                m[0].1 = t("A.JSON/x");
                fs.insert(0, C::M(m));
                with_files(fs)
            }),
        ),
        (
            "digest-31-bytes",
            "A blake3 root of 31 bytes.",
            "digest-length",
            None,
            bytes_of(&{
                let mut m = file(0);
                m[2].1 = C::B(vec![0; 31]);
                with_file0(m)
            }),
        ),
        (
            "chunks-missing",
            "A 40000-byte file at chunk size 16384 without its chunk list.",
            "chunk-count",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                let mut m = file(1);
                m.remove(3);
                fs[1] = C::M(m);
                with_files(fs)
            }),
        ),
        (
            "chunks-on-small-file",
            "A one-group file with a chunk list.",
            "chunk-count",
            None,
            bytes_of(&{
                let mut m = file(0);
                let root = m[2].1.clone();
                m.push((t("chunks"), C::A(vec![root.clone(), root])));
                with_file0(m)
            }),
        ),
        (
            "chunks-do-not-merge-to-root",
            "The chunk values of b.bin in the wrong order: they merge to another root.",
            "chunk-root-mismatch",
            None,
            bytes_of(&{
                let mut fs = files(&top);
                let mut m = file(1);
                if let C::A(ch) = &mut m[3].1 {
                    ch.swap(0, 1);
                }
                fs[1] = C::M(m);
                with_files(fs)
            }),
        ),
        (
            "float",
            "A float where an integer belongs (format 1.0).",
            "unsupported-item",
            None,
            bytes_of(&with_top(2, C::Raw(vec![0xf9, 0x3c, 0x00]))),
        ),
        (
            "tag",
            "A tagged item (tag 24) as the name.",
            "unsupported-item",
            None,
            bytes_of(&with_top(0, C::Raw(vec![0xd8, 0x18, 0x60]))),
        ),
        (
            "negative-integer",
            "A negative size.",
            "unsupported-item",
            None,
            bytes_of(&{
                let mut m = file(0);
                m[1].1 = C::Raw(vec![0x20]);
                with_file0(m)
            }),
        ),
        (
            "boolean",
            "true as the format.",
            "unsupported-item",
            None,
            bytes_of(&with_top(2, C::Raw(vec![0xf5]))),
        ),
        (
            "array-length-bomb",
            "An array declaring 2^32 items in a few bytes: rejected before any allocation.",
            "truncated",
            None,
            bytes_of(&with_top(1, C::Raw(vec![0x9b, 0, 0, 0, 1, 0, 0, 0, 0]))),
        ),
        (
            "bytes-length-bomb",
            "A byte string declaring 2^60 bytes.",
            "truncated",
            None,
            bytes_of(&{
                let mut m = file(0);
                m[2].1 = C::Raw(vec![0x5b, 0x10, 0, 0, 0, 0, 0, 0, 0]);
                with_file0(m)
            }),
        ),
        (
            "too-deep",
            "Arrays nested 20 deep.",
            "too-deep",
            None,
            vec![0x81; 20].into_iter().chain([0x00]).collect(),
        ),
        (
            "depth-8-is-not-too-deep",
            "Arrays nested exactly 8 deep (the top-level array is depth 1): the nesting rule of step 2 allows it, so step 3 rejects it for not being a map.",
            "wrong-type",
            None,
            vec![0x81; 8].into_iter().chain([0x00]).collect(),
        ),
        (
            "depth-9",
            "Arrays nested 9 deep: one more than step 2 allows.",
            "too-deep",
            None,
            vec![0x81; 9].into_iter().chain([0x00]).collect(),
        ),
        (
            "map-counts-keys-and-values",
            "A map declaring 3 entries with 4 bytes left: 3 entries are 6 items, more than the bytes that remain, so it is truncated before anything is read (a reader counting entries, not items, would go on).",
            "truncated",
            None,
            vec![0xa3, 0x00, 0x00, 0x00, 0x00],
        ),
        (
            "reserved-additional-information",
            "Additional information 28 (reserved by RFC 8949) in the first head.",
            "malformed-cbor",
            None,
            vec![0xbc],
        ),
        (
            "break-byte",
            "A stray break byte (0xff) where an item is expected.",
            "unsupported-item",
            None,
            vec![0xff],
        ),
        (
            "non-shortest-negative",
            "A negative integer whose argument is not in shortest form: the shortest-form rule is checked before the major type (non-canonical, not unsupported-item).",
            "non-canonical",
            None,
            vec![0x38, 0x01],
        ),
    ];
    for (name, desc, code, reason, bytes) in neg.drain(..) {
        let mut s = format!("# {desc}\nexpect: manifest invalid\nerror: {code}\n");
        if let Some(r) = reason {
            s.push_str(&format!("reason: {r}\n"));
        }
        s.push_str(&format!("manifest: {}\n", hex(&bytes)));
        v.insert(format!("manifest/bad-{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Sharded-checkpoint indexes (spec/manifest.md, "Sharded checkpoints")

fn index_vectors(v: &mut Vectors) {
    use weightseal::index::{check, FileTensors};
    // The model every index is checked against: two shards and a plain file.
    let model: &[(&str, Option<&[&str]>)] = &[
        ("sub/a.safetensors", Some(&["x", "y"])),
        ("sub/b.safetensors", Some(&["z"])),
        ("sub/config.json", None),
    ];
    let files: FileTensors = model
        .iter()
        .map(|(p, t)| (*p, t.map(|t| t.iter().copied().collect())))
        .collect();
    let good = r#""weight_map":{"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"}"#;
    let cases: Vec<(&str, &str, String)> = vec![
        ("ok", "Every tensor mapped to the shard that holds it.", format!("{{{good}}}")),
        ("ok-other-members", "Members other than weight_map (metadata, anything) are ignored, whatever their value, and may repeat keys inside them.", format!(r#"{{"metadata":{{"total_size":9,"total_size":9}},"x":[null],{good}}}"#)),
        ("duplicate-tensor", "weight_map lists x twice, to the same shard: malformed (loaders disagree on which value counts).", r#"{"weight_map":{"x":"a.safetensors","x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"}}"#.into()),
        ("duplicate-member", "The top-level key metadata twice: malformed.", format!(r#"{{"metadata":{{}},"metadata":{{}},{good}}}"#)),
        ("value-not-string", "A weight_map value that is not a string: malformed.", r#"{"weight_map":{"x":1,"y":"a.safetensors","z":"b.safetensors"}}"#.into()),
        ("no-weight-map", "No weight_map member: malformed.", r#"{"metadata":{}}"#.into()),
        ("not-an-object", "A JSON array: malformed.", r#"["weight_map"]"#.into()),
        ("disagreements", "A bad shard path, a shard that does not exist, a plain file, a tensor its shard lacks, and a tensor a mapped shard holds but the index leaves out (y).", r#"{"weight_map":{"u":"../up.safetensors","w":"c.safetensors","v":"config.json","q":"b.safetensors","x":"a.safetensors","z":"b.safetensors"}}"#.into()),
    ];
    for (name, desc, json) in cases {
        let codes: Vec<&str> = check("sub/model.safetensors.index.json", json.as_bytes(), &files)
            .iter()
            .map(|p| p.issue.code())
            .collect();
        let mut s = format!("# {desc}\n");
        if codes.is_empty() {
            s.push_str("expect: success\n");
        } else {
            s.push_str(&format!(
                "expect: index problems\nproblems: {}\n",
                codes.join(" ")
            ));
        }
        s.push_str("index_path: sub/model.safetensors.index.json\n");
        for (p, t) in model {
            s.push_str(&format!(
                "file: {p} {}\n",
                t.map_or("-".to_string(), |t| t.join(","))
            ));
        }
        s.push_str(&format!("index: {}\n", hex(json.as_bytes())));
        v.insert(format!("index/{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// The folding table (spec/manifest.md, "Folding table") and folded forms

/// `CP` as four or more uppercase hex digits, as in the Unicode Character Database.
fn ucd(c: char) -> String {
    format!("{:04X}", c as u32)
}

/// Runs of consecutive code points of `cps` with the same value: `A..B VALUE` or `A VALUE`.
fn ucd_ranges(cps: &[(char, String)]) -> Vec<String> {
    let mut out: Vec<(char, char, &str)> = Vec::new();
    for (c, val) in cps {
        match out.last_mut() {
            Some((_, b, v)) if *v == val.as_str() && *b as u32 + 1 == *c as u32 => *b = *c,
            _ => out.push((*c, *c, val.as_str())),
        }
    }
    out.into_iter()
        .map(|(a, b, v)| {
            let r = if a == b {
                ucd(a)
            } else {
                format!("{}..{}", ucd(a), ucd(b))
            };
            if v.is_empty() {
                r
            } else {
                format!("{r} {v}")
            }
        })
        .collect()
}

/// The folding table, read from the implementation's own data: the uppercase and lowercase
/// mappings of Rust's `char::to_uppercase` and `char::to_lowercase`, the Final_Sigma classes as `str::to_lowercase` uses them, and
/// the normaliser's (icu_normalizer's) decompositions, combining classes and compositions.
pub fn fold_table() -> String {
    use icu_normalizer::properties::{
        CanonicalCombiningClassMapBorrowed, CanonicalCompositionBorrowed,
        CanonicalDecompositionBorrowed, Decomposed,
    };
    let dec = CanonicalDecompositionBorrowed::new();
    let comp = CanonicalCompositionBorrowed::new();
    let ccc = CanonicalCombiningClassMapBorrowed::new();
    let (mut upper, mut lower, mut classes, mut decomp, mut exclude) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cased, mut ignorable) = (Vec::new(), Vec::new());
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let u: Vec<String> = c.to_uppercase().map(ucd).collect();
        if u != [ucd(c)] {
            upper.push(format!("upper: {} {}", ucd(c), u.join(" ")));
        }
        let l: Vec<String> = c.to_lowercase().map(ucd).collect();
        if l != [ucd(c)] {
            lower.push(format!("lower: {} {}", ucd(c), l.join(" ")));
        }
        let k = ccc.get_u8(c);
        if k != 0 {
            classes.push((c, k.to_string()));
        }
        // Hangul syllables decompose and compose by arithmetic (Unicode 17.0, section 3.12).
        if !('\u{ac00}'..='\u{d7a3}').contains(&c) {
            match dec.decompose(c) {
                Decomposed::Default => {}
                Decomposed::Singleton(a) => {
                    decomp.push(format!("decomp: {} {}", ucd(c), ucd(a)));
                    exclude.push((c, String::new()));
                }
                Decomposed::Expansion(a, b) => {
                    decomp.push(format!("decomp: {} {} {}", ucd(c), ucd(a), ucd(b)));
                    if comp.compose(a, b) != Some(c) {
                        exclude.push((c, String::new()));
                    }
                }
            }
        }
        // The classes Final_Sigma sees, probed through the lowercase mapping itself: a
        // character before U+03A3 makes it final when it is cased and not case-ignorable; after
        // a cased 'A' it keeps it final when it is case-ignorable (then it is skipped).
        let before = format!("{c}\u{3a3}").to_lowercase().ends_with('\u{3c2}');
        let skipped = format!("A{c}\u{3a3}").to_lowercase().ends_with('\u{3c2}');
        if before {
            cased.push((c, String::new()));
        } else if skipped {
            ignorable.push((c, String::new()));
        }
    }
    let (v0, v1, v2) = char::UNICODE_VERSION;
    let mut s = format!(
        "# The data of the folded form of a path (spec/manifest.md, \"Folding table\"): Unicode\n\
         # {v0}.{v1}.{v2}, as the reference implementation uses it. Code points are hex, as in the UCD.\n\
         expect: table\nunicode: {v0}.{v1}.{v2}\n"
    );
    for line in upper.into_iter().chain(lower).chain(decomp) {
        s.push_str(&line);
        s.push('\n');
    }
    for (key, set) in [
        ("ccc", &classes),
        ("exclude", &exclude),
        ("cased", &cased),
        ("ignorable", &ignorable),
    ] {
        for r in ucd_ranges(set) {
            s.push_str(&format!("{key}: {r}\n"));
        }
    }
    s
}

fn fold_vectors(v: &mut Vectors) {
    v.insert("fold/table.txt".into(), fold_table());
    let cases: &[(&str, &str, &str)] = &[
        ("ascii", "ASCII letters lowercase; '/', '.', digits stay.", "Model/Config.JSON"),
        ("nfc-first", "'E' + U+0301: NFC composes it to U+00C9 before the lowercase mapping gives U+00E9.", "CAFE\u{301}"),
        ("lowercase-then-nfc", "U+0130 (capital I with dot above) lowercases to 'i' + U+0307, which has no composition: the second NFC keeps two code points.", "\u{130}.bin"),
        ("singleton", "U+212B ANGSTROM SIGN: NFC replaces it by U+00C5 (a singleton decomposition, never recomposed), which lowercases to U+00E5.", "\u{212b}"),
        ("hangul", "Hangul: U+1100 U+1161 U+11A8 compose by arithmetic to U+AC01.", "\u{1100}\u{1161}\u{11a8}"),
        ("reorder", "U+0301 (class 230) before U+0323 (class 220) after 'a': canonical order puts U+0323 first, then a + U+0323 composes to U+1EA1, and U+0301 stays (U+1EA1 + U+0301 has no composite).", "A\u{301}\u{323}"),
        ("combining-class-unicode-17", "'e', U+1ADD (a combining mark of class 220, not in Unicode 14.0), U+0301 (230): with Unicode 17.0's classes U+1ADD does not block U+0301, which composes with 'e' (U+00E9); with older data U+1ADD is a starter and blocks it.", "e\u{1add}\u{301}"),
        ("todhri-unicode-16", "U+105D2 U+0307: composed to U+105C9 with Unicode 16.0 or later data.", "\u{105d2}\u{307}"),
        ("case-pair-unicode-17", "U+A7CE and U+16EA0 (case pairs new in Unicode 17.0) lowercase to U+A7CF and U+16EBB.", "\u{a7ce}\u{16ea0}"),
        ("final-sigma", "A sigma after a cased letter and before no cased letter is final (U+03C2).", "\u{39f}\u{394}\u{39f}\u{3a3}"),
        ("final-sigma-before-extension", "'.' is case-ignorable and 't' is cased: the sigma is followed by a cased letter, so not final (U+03C3).", "\u{39f}\u{3a3}.txt"),
        ("final-sigma-after-case-ignorable", "A sigma after 'A' and U+00B7 (case-ignorable, skipped): final.", "A\u{b7}\u{3a3}"),
        ("final-sigma-cased-and-ignorable", "U+02B0 is cased and case-ignorable: it is skipped as case-ignorable, no character is found before the sigma, so it is not final (U+03C3).", "\u{2b0}\u{3a3}"),
        ("sigma-after-slash", "'/' is neither cased nor case-ignorable: a sigma right after it is not final.", "A/\u{3a3}"),
        ("long-s", "U+017F LATIN SMALL LETTER LONG S is lowercase already: it uppercases to 'S', which lowercases to 's' (lowercasing alone would keep it apart).", "model.\u{17f}afetensors"),
        ("sharp-s", "U+00DF uppercases to 'SS' (a full mapping of two code points), which lowercases to 'ss'.", "Stra\u{df}e.bin"),
        ("medial-final-sigma", "U+03C2 (final sigma) inside a name: uppercase U+03A3, then the Final_Sigma test finds it not final, U+03C3.", "\u{3c2}a"),
        ("micro-sign", "U+00B5 MICRO SIGN uppercases to U+039C GREEK CAPITAL MU, which lowercases to U+03BC.", "\u{b5}s.bin"),
        ("ligature-fi", "U+FB01 LATIN SMALL LIGATURE FI uppercases to 'FI', which lowercases to 'fi'.", "\u{fb01}le.bin"),
        ("dotless-i", "U+0131 LATIN SMALL LETTER DOTLESS I uppercases to 'I', which lowercases to 'i': it folds with 'i' (more than Unicode's case folding, which keeps it: a collision rule may only refuse more).", "\u{131}.bin"),
    ];
    for (name, desc, input) in cases {
        let folded = weightseal::path::fold(input);
        let cps = |s: &str| s.chars().map(ucd).collect::<Vec<_>>().join(" ");
        v.insert(
            format!("fold/{name}.txt"),
            format!(
                "# {desc}\n# Code points: {} -> {}\nexpect: success\ninput: {}\nfolded: {}\n",
                cps(input),
                cps(&folded),
                hex(input.as_bytes()),
                hex(folded.as_bytes())
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tensor files: safetensors and GGUF layouts

/// A safetensors file from a header JSON string and a data length (data = pattern, seed 7).
fn st_raw(header: &str, data_len: u64) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(pattern(data_len, 7));
    v
}

/// A small valid safetensors file written by the official `safetensors` crate.
pub fn st_official() -> Vec<u8> {
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;
    let a = pattern(2 * 3 * 4, 1);
    let b = pattern(5 * 2, 2);
    let c = pattern(3, 3);
    let tensors = vec![
        (
            "layer.0.weight",
            TensorView::new(Dtype::F32, vec![2, 3], &a).expect("valid view"),
        ),
        (
            "layer.0.bias",
            TensorView::new(Dtype::BF16, vec![5], &b).expect("valid view"),
        ),
        (
            "mask",
            TensorView::new(Dtype::BOOL, vec![3], &c).expect("valid view"),
        ),
        (
            "empty",
            TensorView::new(Dtype::F16, vec![0, 4], &[]).expect("valid view"),
        ),
    ];
    safetensors::serialize(tensors, None).expect("serializes")
}

/// A GGUF v3 file: metadata (a string, a u32 alignment when given, an array of strings) and
/// tensors (name, dims, ggml type, offset), data = pattern (seed 9) of `data_len` bytes.
pub fn gguf_raw(
    version: u32,
    alignment: Option<u32>,
    tensors: &[(&str, &[u64], u32, u64)],
    data_len: u64,
) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(version.to_le_bytes());
    v.extend((tensors.len() as u64).to_le_bytes());
    v.extend((2 + alignment.is_some() as u64).to_le_bytes());
    let s = |v: &mut Vec<u8>, x: &str| {
        v.extend((x.len() as u64).to_le_bytes());
        v.extend(x.as_bytes());
    };
    s(&mut v, "general.architecture");
    v.extend(8u32.to_le_bytes());
    s(&mut v, "llama");
    s(&mut v, "tokenizer.ggml.tokens");
    v.extend(9u32.to_le_bytes());
    v.extend(8u32.to_le_bytes());
    v.extend(3u64.to_le_bytes());
    for tok in ["<s>", "a", "bc"] {
        s(&mut v, tok);
    }
    if let Some(a) = alignment {
        s(&mut v, "general.alignment");
        v.extend(4u32.to_le_bytes());
        v.extend(a.to_le_bytes());
    }
    for (name, dims, ty, off) in tensors {
        s(&mut v, name);
        v.extend((dims.len() as u32).to_le_bytes());
        for d in *dims {
            v.extend(d.to_le_bytes());
        }
        v.extend(ty.to_le_bytes());
        v.extend(off.to_le_bytes());
    }
    let a = alignment.unwrap_or(32) as usize;
    while !v.len().is_multiple_of(a) {
        v.push(0);
    }
    v.extend(pattern(data_len, 9));
    v
}

/// The GGUF file used by the success vectors: F32, Q4_0, Q4_K and a zero-size tensor.
pub fn gguf_good() -> Vec<u8> {
    gguf_raw(
        3,
        Some(64),
        &[
            ("tok.weight", &[8, 2], 0, 0),
            ("blk.0.q", &[64, 2], 2, 64),
            ("blk.0.k", &[256], 12, 192),
            ("blk.0.none", &[0], 0, 384),
        ],
        384,
    )
}

const METADATA_DOMAIN: &[u8] = b"weightseal-metadata-v1\0";

/// The digest of one metadata entry: the domain, the key's length (u64 LE) and bytes, then the
/// value as GGUF encodes it (type u32 LE, then the value).
fn metadata_digest(key: &str, typed_value: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(METADATA_DOMAIN);
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(typed_value);
    *h.finalize().as_bytes()
}

/// A string value as GGUF encodes it, with its type: 8, length, bytes.
fn gguf_string_value(s: &str) -> Vec<u8> {
    let mut v = 8u32.to_le_bytes().to_vec();
    v.extend((s.len() as u64).to_le_bytes());
    v.extend(s.as_bytes());
    v
}

/// The metadata entries of a tensor file, computed without the library's parsers: for
/// safetensors the `__metadata__` strings; for GGUF every key/value pair except the layout
/// keys, each value's bytes taken straight from the file. Sorted by key bytes.
pub fn metadata_rows(bytes: &[u8], format: weightseal::formats::Format) -> Vec<(String, [u8; 32])> {
    let mut rows = Vec::new();
    match format {
        weightseal::formats::Format::Safetensors => {
            let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
            let v: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("JSON");
            if let Some(m) = v.get("__metadata__").and_then(|m| m.as_object()) {
                for (k, val) in m {
                    let val = val.as_str().expect("string metadata");
                    rows.push((k.clone(), metadata_digest(k, &gguf_string_value(val))));
                }
            }
        }
        weightseal::formats::Format::Gguf => {
            let u32_at = |p: usize| u32::from_le_bytes(bytes[p..p + 4].try_into().expect("4"));
            let u64_at = |p: usize| u64::from_le_bytes(bytes[p..p + 8].try_into().expect("8"));
            // The end of a value of type `t` starting at `p`.
            fn skip(b: &[u8], t: u32, p: usize) -> usize {
                let u64_at = |p: usize| u64::from_le_bytes(b[p..p + 8].try_into().expect("8"));
                match t {
                    0 | 1 | 7 => p + 1,
                    2 | 3 => p + 2,
                    4..=6 => p + 4,
                    10..=12 => p + 8,
                    8 => p + 8 + u64_at(p) as usize,
                    9 => {
                        let et = u32::from_le_bytes(b[p..p + 4].try_into().expect("4"));
                        let n = u64_at(p + 4);
                        let mut q = p + 12;
                        for _ in 0..n {
                            q = skip(b, et, q);
                        }
                        q
                    }
                    _ => panic!("unknown GGUF type {t}"),
                }
            }
            let kv_count = u64_at(16);
            let mut p = 24;
            for _ in 0..kv_count {
                let klen = u64_at(p) as usize;
                let key = std::str::from_utf8(&bytes[p + 8..p + 8 + klen]).expect("UTF-8 key");
                let tpos = p + 8 + klen;
                let end = skip(bytes, u32_at(tpos), tpos + 4);
                if ![
                    "general.alignment",
                    "split.no",
                    "split.count",
                    "split.tensors.count",
                ]
                .contains(&key)
                {
                    rows.push((key.to_string(), metadata_digest(key, &bytes[tpos..end])));
                }
                p = end;
            }
        }
    }
    rows.sort();
    rows
}

/// The model-wide metadata digest: the distinct (key, digest) pairs of all tensor files,
/// sorted, as a CBOR array of [key, digest] arrays, after the domain
/// `weightseal-metadata-set-v1\0`.
pub fn metadata_set(rows: &[(String, [u8; 32])]) -> [u8; 32] {
    let mut rows = rows.to_vec();
    rows.sort();
    rows.dedup();
    let mut b = b"weightseal-metadata-set-v1\0".to_vec();
    enc(
        &C::A(
            rows.iter()
                .map(|(k, d)| C::A(vec![t(k), C::B(d.to_vec())]))
                .collect(),
        ),
        &mut b,
    );
    *blake3::hash(&b).as_bytes()
}

/// A GGUF v3 file with no tensors and these key/value pairs (each value typed: u32 LE type,
/// then the value as GGUF encodes it).
pub fn gguf_kvs(kvs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend(0u64.to_le_bytes());
    v.extend((kvs.len() as u64).to_le_bytes());
    for (k, val) in kvs {
        v.extend((k.len() as u64).to_le_bytes());
        v.extend(k.as_bytes());
        v.extend(val);
    }
    while !v.len().is_multiple_of(32) {
        v.push(0);
    }
    v
}

/// A typed GGUF array value nested `depth` deep (depth 1: an array of u32), the innermost empty.
fn gguf_nested(depth: usize) -> Vec<u8> {
    let mut v = 9u32.to_le_bytes().to_vec();
    for level in 1..=depth {
        let et = if level == depth { 4u32 } else { 9 };
        v.extend(et.to_le_bytes());
        v.extend((if level == depth { 0u64 } else { 1 }).to_le_bytes());
    }
    v
}

/// One value of each GGUF metadata type, typed.
fn gguf_all_types() -> Vec<(&'static str, Vec<u8>)> {
    let typed = |t: u32, b: &[u8]| [t.to_le_bytes().as_slice(), b].concat();
    let mut arr_u32 = 4u32.to_le_bytes().to_vec();
    arr_u32.extend(3u64.to_le_bytes());
    for x in [1u32, 2, 3] {
        arr_u32.extend(x.to_le_bytes());
    }
    // An array of arrays of strings.
    let mut nested = 9u32.to_le_bytes().to_vec();
    nested.extend(2u64.to_le_bytes());
    for words in [&["a", "bc"][..], &["<|im_start|>"][..]] {
        nested.extend(8u32.to_le_bytes());
        nested.extend((words.len() as u64).to_le_bytes());
        for w in words {
            nested.extend((w.len() as u64).to_le_bytes());
            nested.extend(w.as_bytes());
        }
    }
    vec![
        ("general.alignment", typed(4, &32u32.to_le_bytes())),
        ("t.bool", typed(7, &[1])),
        ("t.f32", typed(6, &1.5f32.to_le_bytes())),
        ("t.f64", typed(12, &(-2.25f64).to_le_bytes())),
        ("t.i16", typed(3, &(-2i16).to_le_bytes())),
        ("t.i32", typed(5, &(-3i32).to_le_bytes())),
        ("t.i64", typed(11, &(-4i64).to_le_bytes())),
        ("t.i8", typed(1, &[0xff])),
        ("t.u16", typed(2, &2u16.to_le_bytes())),
        ("t.u32", typed(4, &3u32.to_le_bytes())),
        ("t.u64", typed(10, &4u64.to_le_bytes())),
        ("t.u8", typed(0, &[7])),
        ("split.count", typed(2, &1u16.to_le_bytes())),
        (
            "tokenizer.chat_template",
            gguf_string_value("{% for m in messages %}{{ m.content }}{% endfor %}"),
        ),
        ("t.array.u32", typed(9, &arr_u32)),
        ("t.array.nested", typed(9, &nested)),
    ]
}

fn layout_lines(bytes: &[u8], format: weightseal::formats::Format) -> Result<String, String> {
    let mut f = tempfile::tempfile().expect("temp file");
    std::io::Write::write_all(&mut f, bytes).expect("write");
    let l = weightseal::formats::parse(&f, bytes.len() as u64, format)
        .map_err(|e| e.code().to_string())?;
    let mut s = format!("header_len: {}\n", l.header_len);
    for t in &l.tensors {
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        s.push_str(&format!(
            "tensor: {} {} [{}] {}..{} {}\n",
            t.name,
            t.dtype,
            shape.join(","),
            t.start,
            t.end,
            hex(blake3::hash(&bytes[t.start as usize..t.end as usize]).as_bytes())
        ));
    }
    for (k, d) in metadata_rows(bytes, format) {
        s.push_str(&format!("metadata: {k} {}\n", hex(&d)));
    }
    Ok(s)
}

fn format_vectors(v: &mut Vectors) {
    use weightseal::formats::Format;
    let tens = |body: &str| format!("{{{body}}}");
    let cases: Vec<(&str, &str, Format, Vec<u8>)> = vec![
        ("st-official", "A file written by the official safetensors crate: every tensor's absolute range is 8 + N + data_offsets.", Format::Safetensors, st_official()),
        ("st-metadata-and-order", "__metadata__ is not a tensor; tensors are listed by offset, whatever their order in the JSON.", Format::Safetensors, st_raw(&tens(r#""b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]},"__metadata__":{"format":"pt"},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}"#), 5)),
        ("gguf-metadata-types", "One metadata value of every GGUF type (scalars, string, array, array of arrays): each entry's digest covers its key and typed value bytes; general.alignment and split.count are layout keys and left out.", Format::Gguf, gguf_kvs(&gguf_all_types())),
        ("st-metadata-values", "__metadata__ strings: each becomes an entry digested as a GGUF string value.", Format::Safetensors, st_raw(&tens(r#""__metadata__":{"format":"pt","z":"","chat_template":"{{ x }}"},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}"#), 3)),
        ("st-metadata-not-string", "A __metadata__ value that is not a string.", Format::Safetensors, st_raw(&tens(r#""__metadata__":{"format":1},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}"#), 3)),
        ("st-metadata-duplicate-key", "A __metadata__ key listed twice.", Format::Safetensors, st_raw(&tens(r#""__metadata__":{"k":"a","k":"b"},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}"#), 3)),
        ("st-too-small", "Fewer than 8 bytes.", Format::Safetensors, vec![1, 0, 0]),
        ("st-header-too-large", "N = 100000001, above the official limit.", Format::Safetensors, st_raw("", 0).into_iter().take(0).chain(100_000_001u64.to_le_bytes()).collect()),
        ("st-header-past-end", "N runs past the end of the file.", Format::Safetensors, [64u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat()),
        ("st-bad-start", "The header does not start with '{'.", Format::Safetensors, st_raw(" {}", 0)),
        ("st-not-json", "The header is not JSON.", Format::Safetensors, st_raw("{\"a\":", 0)),
        ("st-duplicate-tensor", "The same tensor name twice.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}"#), 2)),
        ("st-hole", "A gap between two tensors.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}"#), 3)),
        ("st-overlap", "Two tensors share bytes.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}"#), 3)),
        ("st-wrong-length", "data_offsets span 4 bytes for 2 F32 elements (8 bytes).", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#), 4)),
        ("st-data-length", "The tensors end before the end of the file.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}"#), 3)),
        ("st-unknown-dtype", "dtype Q4 is not a safetensors dtype.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}"#), 1)),
        ("st-overflow", "The element count overflows 64 bits.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}"#), 1)),
        // Which error (spec/manifest.md, safetensors, "Which error"): JSON over the whole
        // header first, then the tensor count, then rules 3 to 7 entry by entry, then rule 8.
        ("st-two-rules-entry-by-entry", "Tensor a has dtype Q4 and a later key b is listed twice: rules 3 to 7 are checked entry by entry in header order, so unknown-dtype (a rule-by-rule reading would say duplicate-tensor).", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}"#), 2)),
        ("st-two-rules-json-first", "A tensor with an unknown dtype, then a syntax error later in the header: the whole header is parsed as JSON first, so json.", Format::Safetensors, st_raw(r#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]},"b":1,}"#, 1)),
        ("st-two-rules-tiling-last", "A wrong-length tensor that also leaves a hole: rule 7 is checked before rule 8, so wrong-length.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}"#), 8)),
        ("st-rule7-order", "Both partial-byte (3 F4 elements) and reversed data_offsets: rule 7's checks go overflow, partial-byte, reversed, wrong-length.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"F4","shape":[3],"data_offsets":[2,0]}"#), 2)),
        ("st-data-offsets-twice", "data_offsets given twice in one tensor object: the last value counts, so its 8 bytes are the wrong length for one F32.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offsets":[0,8]}"#), 8)),
        ("st-data-offsets-three", "data_offsets with three integers breaks rule 5 (bad-tensor), not JSON.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}"#), 4)),
        ("st-shape-over-u64", "A shape dimension of 2^64 is not an integer from 0 to 2^64-1: rule 5 (bad-tensor).", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,1]}"#), 1)),
        ("st-negative-zero", "data_offsets [0, -0]: -0 is not a non-negative integer as written, so bad-tensor.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[0],"data_offsets":[0,-0]}"#), 0)),
        ("st-lone-surrogate", "A __metadata__ value holding the escape \\ud800 with no low surrogate: not JSON (json).", Format::Safetensors, st_raw(&tens(r#""__metadata__":{"k":"\ud800"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#), 1)),
        ("st-metadata-escapes", "__metadata__ strings with JSON escapes (\\u00e9, \\n, \\\", \\/ and a surrogate pair): the typed value holds the UTF-8 of the unescaped string.", Format::Safetensors, st_raw(&tens(r#""__metadata__":{"k\u00e9":"a\nb\"c\/d\ud83d\ude00\u00e9"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#), 1)),
        ("st-too-deep", "An ignored member nested 65 deep (the top-level object is depth 1): more than 64 is json.", Format::Safetensors, st_raw(&format!(r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{}{}}}}}"#, "[".repeat(63), "]".repeat(63)), 1)),
        ("st-deep-enough", "An ignored member nested exactly 64 deep is accepted.", Format::Safetensors, st_raw(&format!(r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{}{}}}}}"#, "[".repeat(62), "]".repeat(62)), 1)),
        ("st-empty-header", "N = 0: an empty header is not a JSON object (json).", Format::Safetensors, st_raw("", 0)),
        ("st-first-not-at-zero", "The only tensor begins at data offset 1: a hole before it.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}"#), 2)),
        ("st-no-tensors-data-left", "No tensors, and two data bytes: data-length.", Format::Safetensors, st_raw("{}", 2)),
        // A member given twice (issue 26, M-1): an earlier value only needs rule 5's type.
        ("st-dtype-twice-first-unknown", "dtype given twice, first \"XYZ\" (no safetensors dtype) then \"U8\": an earlier value needs only rule 5's type (a string), and the last one counts, so the tensor is U8.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"XYZ","dtype":"U8","shape":[1],"data_offsets":[0,1]}"#), 1)),
        ("st-dtype-twice-first-not-string", "dtype given twice, first 1 (not a string) then \"U8\": every value given must have rule 5's type, so bad-tensor.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":1,"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#), 1)),
        // Overflow is checked product by product, from left to right (issue 26, M-2).
        ("st-overflow-before-zero", "shape [2^32, 2^32, 0]: the element count is multiplied from left to right, and 2^32 * 2^32 overflows before the 0 is reached, so overflow (not a 0-element tensor).", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}"#), 0)),
        ("st-zero-before-large", "shape [0, 2^32, 2^32]: from left to right every product is 0, so no overflow: a 0-element tensor.", Format::Safetensors, st_raw(&tens(r#""a":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}"#), 0)),
        // Whitespace after the header's object (issue 26, M-4): RFC 8259's four, nothing else.
        ("st-trailing-whitespace", "After the closing '}' the header has space, tab, CR and LF (RFC 8259 whitespace): accepted.", Format::Safetensors, st_raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} \t\r\n", 1)),
        ("st-trailing-nul", "After the closing '}' the header has a NUL byte (padding that is not JSON whitespace): json.", Format::Safetensors, st_raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\0", 1)),
        ("gguf-overflow-before-zero", "An F32 tensor with ne [1, 2^32, 2^32, 0]: 1 * 4 * 2^32 * 2^32 overflows, from left to right, before the 0 is reached: overflow.", Format::Gguf, gguf_raw(3, None, &[("w", &[1, 1 << 32, 1 << 32, 0], 0, 0)], 0)),
        ("gguf-type-size-first", "An F32 tensor with ne [4, 2^62, 0]: the length is ne[0] / 1 * 4 * ne[1] * ne[2] from left to right, and 16 * 2^62 overflows: overflow (multiplying ne[1] * ne[2] first would give 0 bytes).", Format::Gguf, gguf_raw(3, None, &[("w", &[4, 1 << 62, 0], 0, 0)], 0)),
        ("gguf-v3", "GGUF v3 with general.alignment 64: F32, Q4_0 (32-element blocks of 18 bytes), Q4_K (256-element blocks of 144 bytes) and a zero-size tensor.", Format::Gguf, gguf_good()),
        ("gguf-v2-default-alignment", "GGUF v2 (same layout as v3) with the default alignment 32.", Format::Gguf, gguf_raw(2, None, &[("w", &[4], 0, 0), ("x", &[32], 8, 32)], 66)),
        ("gguf-bad-magic", "Not GGUF.", Format::Gguf, b"GGML\x03\x00\x00\x00".to_vec()),
        ("gguf-v1", "Version 1 (32-bit counts) is not supported.", Format::Gguf, gguf_raw(1, None, &[], 0)),
        ("gguf-misaligned", "A tensor offset that is not a multiple of the alignment.", Format::Gguf, gguf_raw(3, None, &[("w", &[4], 0, 4)], 64)),
        ("gguf-out-of-bounds", "A tensor that runs past the end of the file.", Format::Gguf, gguf_raw(3, None, &[("w", &[64], 0, 0)], 100)),
        ("gguf-block-mismatch", "A Q4_0 tensor whose first dimension (40) is not a multiple of 32.", Format::Gguf, gguf_raw(3, None, &[("w", &[40], 2, 0)], 64)),
        ("gguf-unknown-type", "ggml type 4 was removed from ggml.", Format::Gguf, gguf_raw(3, None, &[("w", &[32], 4, 0)], 64)),
        ("gguf-overlap", "Two tensors share bytes.", Format::Gguf, gguf_raw(3, None, &[("a", &[16], 0, 0), ("b", &[16], 0, 32)], 96)),
        ("gguf-duplicate-tensor", "The same tensor name twice.", Format::Gguf, gguf_raw(3, None, &[("a", &[4], 0, 0), ("a", &[4], 0, 32)], 64)),
        ("gguf-bad-alignment", "general.alignment 24 is not a power of two.", Format::Gguf, gguf_raw(3, Some(24), &[], 0)),
        // Which error (spec/manifest.md, GGUF, "Which error"): the header in file order, then
        // each tensor's type, size, alignment and bounds in info order, then overlap.
        ("gguf-two-rules-duplicate-before-type", "Tensor a has ggml type 4 (removed) and a second tensor is also named a: names are checked as the infos are read, types only after every info, so duplicate-tensor.", Format::Gguf, gguf_raw(3, None, &[("a", &[32], 4, 0), ("a", &[4], 0, 32)], 64)),
        ("gguf-two-rules-misaligned-first", "Tensor a is misaligned (offset 4) and the later tensor b has an unknown type: after the infos each tensor is checked whole, in info order, so misaligned.", Format::Gguf, gguf_raw(3, None, &[("a", &[1], 0, 4), ("b", &[32], 4, 32)], 64)),
        ("gguf-two-rules-alignment-before-duplicate", "general.alignment given twice, the second time 24: the value is checked before the key's repetition, so bad-alignment.", Format::Gguf, gguf_kvs(&[("general.alignment", [4u32.to_le_bytes(), 32u32.to_le_bytes()].concat()), ("general.alignment", [4u32.to_le_bytes(), 24u32.to_le_bytes()].concat())])),
        ("gguf-two-rules-count-before-name-length", "A key length of 70000 with 3 bytes left: the length is checked against the bytes left before the 65536-byte name limit, so impossible-count.", Format::Gguf, {
            let mut b = b"GGUF".to_vec();
            b.extend(3u32.to_le_bytes());
            b.extend(0u64.to_le_bytes());
            b.extend(1u64.to_le_bytes());
            b.extend(70000u64.to_le_bytes());
            b.extend(b"abc");
            b
        }),
        ("gguf-short-file", "Two bytes: the magic cannot be read, so truncated (not bad-magic).", Format::Gguf, b"GG".to_vec()),
        ("gguf-too-deep", "An array nested 9 deep (the top-level array value is depth 1) whose innermost element type is 13 (not a value type): too-deep is checked when the ninth array starts, before its element type is read.", Format::Gguf, gguf_kvs(&[("a", {
            let mut v = gguf_nested(9);
            let at = v.len() - 12;
            v[at..at + 4].copy_from_slice(&13u32.to_le_bytes());
            v
        })])),
        ("gguf-deep-enough", "An array nested 8 deep is accepted.", Format::Gguf, gguf_kvs(&[("a", gguf_nested(8))])),
        ("gguf-too-many-dims", "A tensor with 5 dimensions.", Format::Gguf, gguf_raw(3, None, &[("w", &[1, 1, 1, 1, 1], 0, 0)], 4)),
        ("gguf-scalar-block-type", "A tensor with no dimensions (a scalar, ne[0] taken as 1) of block type Q4_0: block-mismatch.", Format::Gguf, gguf_raw(3, None, &[("w", &[], 2, 0)], 32)),
        ("gguf-padding-past-end-no-tensors", "24 bytes, no tensors, no metadata: the padding to 32 would pass the end, so the header length is clamped to 24.", Format::Gguf, [b"GGUF".as_slice(), &3u32.to_le_bytes(), &0u64.to_le_bytes(), &0u64.to_le_bytes()].concat()),
        ("gguf-padding-past-end-empty-tensor", "One empty tensor, and the file ends before the padding: the data section starts past the end (unclamped), so even an empty tensor is out-of-bounds.", Format::Gguf, {
            // 144 bytes of counts and metadata, 33 of tensor info, 15 of padding.
            let b = gguf_raw(3, None, &[("e", &[0], 0, 0)], 0);
            assert_eq!(b.len(), 192);
            b[..177].to_vec()
        }),
        ("gguf-impossible-count", "2^60 tensors declared in a few hundred bytes.", Format::Gguf, {
            let mut b = gguf_raw(3, None, &[], 0);
            b[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
            b
        }),
        ("gguf-truncated", "The header ends inside a tensor info.", Format::Gguf, {
            let b = gguf_raw(3, None, &[("w", &[4], 0, 0)], 16);
            b[..b.len() - 16 - 20].to_vec()
        }),
    ];
    for (name, desc, format, bytes) in cases {
        let mut s = format!("# {desc}\n");
        match layout_lines(&bytes, format) {
            Ok(lines) => {
                s.push_str(&format!("expect: success\nformat: {}\n", format.as_str()));
                s.push_str(&format!("file: {}\n", hex(&bytes)));
                s.push_str(&lines);
            }
            Err(code) => {
                s.push_str(&format!(
                    "expect: format invalid\nformat: {}\nerror: {code}\n",
                    format.as_str()
                ));
                s.push_str(&format!("file: {}\n", hex(&bytes)));
            }
        }
        v.insert(format!("formats/{name}.txt"), s);
    }
    format_run_vectors(v);
}

/// Format vectors whose file is too large to write out: given as `file-run: COUNT HEX` lines
/// (the file is each line's bytes repeated COUNT times, in order).
fn format_run_vectors(v: &mut Vectors) {
    use weightseal::formats::Format;
    let limit = weightseal::formats::MAX_TENSORS as u64;
    let entry = br#""a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"#.to_vec();
    let last = br#""a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#.to_vec();
    type Runs = Vec<(u64, Vec<u8>)>;
    let cases: Vec<(&str, String, Runs)> = vec![
        (
            "st-too-many-tensors-counts-repeats",
            format!("Key \"a\" {} times: the tensor count counts every key other than __metadata__, repeats included, and runs before the duplicate check, so too-many-tensors (counting distinct keys would give duplicate-tensor).", limit + 1),
            vec![(1, b"{".to_vec()), (limit, entry.clone()), (1, last.clone())],
        ),
        (
            "st-tensor-count-at-limit",
            format!("Key \"a\" {limit} times and __metadata__: {limit} keys other than __metadata__ are not more than the limit, so the duplicate check comes next: duplicate-tensor."),
            vec![(1, b"{\"__metadata__\":{},".to_vec()), (limit - 1, entry.clone()), (1, last.clone())],
        ),
    ];
    for (name, desc, runs) in cases {
        let mut header = Vec::new();
        for (n, b) in &runs {
            for _ in 0..*n {
                header.extend(b);
            }
        }
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(&header);
        let code = layout_lines(&bytes, Format::Safetensors).expect_err(name);
        let mut s =
            format!("# {desc}\nexpect: format invalid\nformat: safetensors\nerror: {code}\n");
        s.push_str(&format!(
            "file-run: 1 {}\n",
            hex(&(header.len() as u64).to_le_bytes())
        ));
        for (n, b) in &runs {
            s.push_str(&format!("file-run: {n} {}\n", hex(b)));
        }
        v.insert(format!("formats/{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Tensor-set digests, computed here with this file's own CBOR writer

fn leaf(name: &str, dtype: &str, shape: &[u64], digest: &[u8; 32]) -> [u8; 32] {
    let mut b = vec![0u8];
    enc(
        &C::A(vec![
            t(name),
            t(dtype),
            C::A(shape.iter().map(|&d| C::U(d)).collect()),
            C::B(digest.to_vec()),
        ]),
        &mut b,
    );
    *blake3::hash(&b).as_bytes()
}

fn mth(h: &[[u8; 32]]) -> [u8; 32] {
    match h.len() {
        0 => *blake3::hash(b"").as_bytes(),
        1 => h[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut b = vec![1u8];
            b.extend(mth(&h[..k]));
            b.extend(mth(&h[k..]));
            *blake3::hash(&b).as_bytes()
        }
    }
}

type TensorRow = (String, String, Vec<u64>, [u8; 32]);

fn tensor_set(rows: &[TensorRow]) -> [u8; 32] {
    let mut leaves: Vec<(&str, Vec<u8>, [u8; 32])> = rows
        .iter()
        .map(|(n, d, s, g)| {
            let mut b = vec![0u8];
            enc(
                &C::A(vec![
                    t(n),
                    t(d),
                    C::A(s.iter().map(|&x| C::U(x)).collect()),
                    C::B(g.to_vec()),
                ]),
                &mut b,
            );
            (n.as_str(), b, leaf(n, d, s, g))
        })
        .collect();
    leaves.sort_by(|a, b| (a.0.as_bytes(), &a.1).cmp(&(b.0.as_bytes(), &b.1)));
    mth(&leaves.iter().map(|l| l.2).collect::<Vec<_>>())
}

fn tensor_set_vectors(v: &mut Vectors) {
    let row = |n: &str, d: &str, s: &[u64], seed: u64| -> TensorRow {
        (
            n.to_string(),
            d.to_string(),
            s.to_vec(),
            *blake3::hash(&pattern(16, seed)).as_bytes(),
        )
    };
    let cases: Vec<(&str, &str, Vec<TensorRow>)> = vec![
        ("empty", "No tensors: BLAKE3 of the empty string.", vec![]),
        (
            "one",
            "One tensor: the root is its leaf.",
            vec![row("w", "F32", &[4, 4], 1)],
        ),
        (
            "two",
            "Two tensors, given in reverse order: sorted by name.",
            vec![row("b", "BF16", &[2], 2), row("a", "F32", &[3, 1], 1)],
        ),
        (
            "three",
            "Three tensors: left subtree of 2, right of 1.",
            vec![
                row("x", "Q4_K", &[256, 2], 3),
                row("y", "F16", &[], 4),
                row("z", "I8", &[0], 5),
            ],
        ),
        (
            "five",
            "Five tensors: left subtree of 4.",
            (0..5)
                .map(|i| row(&format!("layer.{i}"), "F32", &[i], i))
                .collect(),
        ),
        (
            "duplicate-names",
            "The same name twice (two files of one model): ordered by leaf bytes.",
            vec![row("w", "F32", &[2], 7), row("w", "F32", &[2], 6)],
        ),
    ];
    for (name, desc, rows) in cases {
        let mut s = format!("# {desc}\nexpect: success\n");
        for (n, d, sh, g) in &rows {
            let shape: Vec<String> = sh.iter().map(|x| x.to_string()).collect();
            s.push_str(&format!(
                "tensor: {n} {d} [{}] {}\n",
                shape.join(","),
                hex(g)
            ));
        }
        s.push_str(&format!("tensor_digest: {}\n", hex(&tensor_set(&rows))));
        v.insert(format!("tensorset/{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests with tensor files

/// The file map of a tensor file, in canonical key order.
fn tensor_file_map(
    path: &str,
    bytes: &[u8],
    cs: u64,
    format: weightseal::formats::Format,
) -> (Vec<(C, C)>, Vec<TensorRow>) {
    let mut f = tempfile::tempfile().expect("temp file");
    std::io::Write::write_all(&mut f, bytes).expect("write");
    let l = weightseal::formats::parse(&f, bytes.len() as u64, format).expect("valid tensor file");
    let tree = hash_bytes(bytes, ChunkSize::new(cs).expect("valid chunk size"));
    let mut m = vec![
        (t("path"), t(path)),
        (t("size"), C::U(bytes.len() as u64)),
        (t("type"), t(format.as_str())),
        (t("blake3"), C::B(tree.root.0.to_vec())),
    ];
    if !tree.chunks.is_empty() {
        m.push((
            t("chunks"),
            C::A(tree.chunks.iter().map(|c| C::B(c.0.to_vec())).collect()),
        ));
    }
    m.push((
        t("header"),
        C::A(vec![
            C::U(l.header_len),
            C::B(
                blake3::hash(&bytes[..l.header_len as usize])
                    .as_bytes()
                    .to_vec(),
            ),
        ]),
    ));
    let mut rows = Vec::new();
    let ts = l
        .tensors
        .iter()
        .map(|x| {
            let d = *blake3::hash(&bytes[x.start as usize..x.end as usize]).as_bytes();
            rows.push((x.name.clone(), x.dtype.clone(), x.shape.clone(), d));
            C::A(vec![
                t(&x.name),
                t(&x.dtype),
                C::A(x.shape.iter().map(|&s| C::U(s)).collect()),
                C::U(x.start),
                C::U(x.end),
                C::B(d.to_vec()),
            ])
        })
        .collect();
    m.push((t("tensors"), C::A(ts)));
    (m, rows)
}

/// The `metadata` entry of a tensor file's map: `[[key, digest], …]` sorted by key bytes.
fn metadata_field(rows: &[(String, [u8; 32])]) -> (C, C) {
    (
        t("metadata"),
        C::A(
            rows.iter()
                .map(|(k, d)| C::A(vec![t(k), C::B(d.to_vec())]))
                .collect(),
        ),
    )
}

fn tensor_manifest_vectors(v: &mut Vectors) {
    use weightseal::formats::Format;
    let st = st_official();
    let gg = gguf_good();
    let cs = 16384u64;
    let plain = In {
        path: "config.json",
        len: 20,
        seed: 4,
    };
    let (st_map, st_rows) = tensor_file_map("model.safetensors", &st, cs, Format::Safetensors);
    let (gg_map, gg_rows) = tensor_file_map("model.gguf", &gg, cs, Format::Gguf);
    let all_rows: Vec<TensorRow> = st_rows.iter().chain(&gg_rows).cloned().collect();
    let st_meta = metadata_rows(&st, Format::Safetensors);
    let gg_meta = metadata_rows(&gg, Format::Gguf);
    let all_meta: Vec<(String, [u8; 32])> = st_meta.iter().chain(&gg_meta).cloned().collect();
    let meta_all = Some(metadata_set(&all_meta));
    let with_meta = |m: &Vec<(C, C)>, rows: &[(String, [u8; 32])]| {
        let mut m = m.clone();
        m.push(metadata_field(rows));
        m
    };
    let top3 = |files: Vec<C>, digest: Option<[u8; 32]>, meta: Option<[u8; 32]>| {
        let mut m = vec![
            (t("name"), t("tensors")),
            (t("files"), C::A(files)),
            (t("format"), C::U(1)),
            (t("chunk_size"), C::U(cs)),
        ];
        if let Some(d) = digest {
            m.push((t("tensor_digest"), C::B(d.to_vec())));
        }
        if let Some(d) = meta {
            m.push((t("metadata_digest"), C::B(d.to_vec())));
        }
        C::M(m)
    };
    let top = |files: Vec<C>, digest: Option<[u8; 32]>| top3(files, digest, None);
    let good_files = vec![
        C::M(file_map(&plain, cs, false)),
        C::M(with_meta(&gg_map, &gg_meta)),
        C::M(with_meta(&st_map, &st_meta)),
    ];
    let good = bytes_of(&top3(
        good_files.clone(),
        Some(tensor_set(&all_rows)),
        meta_all,
    ));
    let mut s = String::from("# A model with a plain file, a GGUF file and a safetensors file: per-file type, header and\n# tensors, and the model's tensor-set digest.\nexpect: success\nname: tensors\nchunk_size: 16384\nsha256: no\n");
    s.push_str(&format!(
        "file: {} {} {}\n",
        plain.len, plain.seed, plain.path
    ));
    s.push_str(&format!("file-hex: model.gguf {}\n", hex(&gg)));
    s.push_str(&format!("file-hex: model.safetensors {}\n", hex(&st)));
    s.push_str(&format!(
        "manifest: {}\ndigest: {}\n",
        hex(&good),
        hex(blake3::hash(&good).as_bytes())
    ));
    v.insert("manifest/ok-tensor-files.txt".into(), s);

    // H1 (spec/manifest.md, Fields): `metadata: []` is metadata. A model whose only tensor
    // file records no metadata keys still carries the metadata-set digest of the empty set.
    let st_only_rows: Vec<TensorRow> = st_rows.clone();
    let empty_meta = Some(metadata_set(&[]));
    let only_empty = |meta: Option<[u8; 32]>| {
        bytes_of(&top3(
            vec![
                C::M(file_map(&plain, cs, false)),
                C::M(with_meta(&st_map, &[])),
            ],
            Some(tensor_set(&st_only_rows)),
            meta,
        ))
    };
    let good_empty = only_empty(empty_meta);
    let mut s = String::from("# A model whose only tensor file (safetensors, no __metadata__) records `metadata: []`: an empty\n# list is metadata, so `metadata_digest` is present, the metadata-set digest of the empty set.\nexpect: success\nname: tensors\nchunk_size: 16384\nsha256: no\n");
    s.push_str(&format!(
        "file: {} {} {}\n",
        plain.len, plain.seed, plain.path
    ));
    s.push_str(&format!("file-hex: model.safetensors {}\n", hex(&st)));
    s.push_str(&format!(
        "manifest: {}\ndigest: {}\n",
        hex(&good_empty),
        hex(blake3::hash(&good_empty).as_bytes())
    ));
    v.insert("manifest/ok-empty-metadata.txt".into(), s);
    v.insert(
        "manifest/bad-empty-metadata-without-digest.txt".into(),
        format!(
            "# The same manifest without `metadata_digest`: an empty `metadata` list still requires it.\nexpect: manifest invalid\nerror: missing-field\nmanifest: {}\n",
            hex(&only_empty(None))
        ),
    );

    let with_st_meta = |m: Vec<(C, C)>, digest: Option<[u8; 32]>, meta: Option<[u8; 32]>| {
        bytes_of(&top3(
            vec![
                C::M(file_map(&plain, cs, false)),
                C::M(with_meta(&gg_map, &gg_meta)),
                C::M(with_meta(&m, &st_meta)),
            ],
            digest,
            meta,
        ))
    };
    let with_st = |m: Vec<(C, C)>, digest: Option<[u8; 32]>| with_st_meta(m, digest, meta_all);
    let d_all = Some(tensor_set(&all_rows));
    let tensors_of = |m: &Vec<(C, C)>| match &m.last().expect("tensors").1 {
        C::A(a) => a.clone(),
        _ => unreachable!(),
    };
    let set_tensors = |m: &Vec<(C, C)>, ts: Vec<C>| {
        let mut m = m.clone();
        m.last_mut().expect("tensors").1 = C::A(ts);
        m
    };
    let field = |x: &C, i: usize| match x {
        C::A(a) => a[i].clone(),
        _ => unreachable!(),
    };
    let with_field = |x: &C, i: usize, val: C| match x {
        C::A(a) => {
            let mut a = a.clone();
            a[i] = val;
            C::A(a)
        }
        _ => unreachable!(),
    };
    let sts = tensors_of(&st_map);
    let neg: Vec<Negative> = vec![
        (
            "metadata-digest-mismatch",
            "metadata_digest does not match the files' metadata.",
            "metadata-digest-mismatch",
            None,
            with_st_meta(st_map.clone(), d_all, Some([0; 32])),
        ),
        (
            "metadata-digest-missing",
            "Tensor files record metadata but metadata_digest is absent.",
            "missing-field",
            None,
            with_st_meta(st_map.clone(), d_all, None),
        ),
        (
            "metadata-digest-unexpected",
            "metadata_digest while no tensor file records metadata.",
            "unexpected-metadata-digest",
            None,
            bytes_of(&top3(
                vec![
                    C::M(file_map(&plain, cs, false)),
                    C::M(gg_map.clone()),
                    C::M(st_map.clone()),
                ],
                d_all,
                Some([0; 32]),
            )),
        ),
        (
            "metadata-unsorted",
            "The GGUF file's metadata keys in reverse order.",
            "metadata-order",
            None,
            bytes_of(&top3(
                vec![
                    C::M(file_map(&plain, cs, false)),
                    C::M(with_meta(
                        &gg_map,
                        &gg_meta.iter().rev().cloned().collect::<Vec<_>>(),
                    )),
                    C::M(with_meta(&st_map, &st_meta)),
                ],
                d_all,
                meta_all,
            )),
        ),
        (
            "metadata-on-plain-file",
            "metadata on a file without type, header and tensors.",
            "partial-tensor-fields",
            None,
            bytes_of(&top3(
                vec![
                    C::M(with_meta(&file_map(&plain, cs, false), &gg_meta)),
                    C::M(with_meta(&gg_map, &gg_meta)),
                    C::M(with_meta(&st_map, &st_meta)),
                ],
                d_all,
                meta_all,
            )),
        ),
        (
            "tensor-digest-mismatch",
            "tensor_digest does not match the files' tensors.",
            "tensor-digest-mismatch",
            None,
            with_st(st_map.clone(), Some([0; 32])),
        ),
        (
            "tensor-digest-missing",
            "Files record tensors but tensor_digest is absent.",
            "missing-field",
            None,
            with_st(st_map.clone(), None),
        ),
        (
            "tensor-digest-unexpected",
            "tensor_digest without any tensor file.",
            "unexpected-tensor-digest",
            None,
            bytes_of(&top(vec![C::M(file_map(&plain, cs, false))], Some([0; 32]))),
        ),
        (
            "unknown-file-type",
            "type \"pytorch\" is not a tensor file type.",
            "file-type",
            None,
            with_st(
                st_map
                    .iter()
                    .map(|(k, x)| {
                        if matches!(k, C::T(s) if s == "type") {
                            (k.clone(), t("pytorch"))
                        } else {
                            (k.clone(), x.clone())
                        }
                    })
                    .collect(),
                d_all,
            ),
        ),
        (
            "type-without-tensors",
            "type and header without tensors.",
            "partial-tensor-fields",
            None,
            with_st(st_map[..st_map.len() - 1].to_vec(), d_all),
        ),
        (
            "tensors-unsorted",
            "Tensors not sorted by start offset.",
            "bad-tensor",
            None,
            {
                let mut ts = sts.clone();
                ts.reverse();
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
        (
            "tensor-out-of-bounds",
            "A tensor ending past the end of the file.",
            "bad-tensor",
            None,
            {
                let mut ts = sts.clone();
                let last = ts.len() - 1;
                ts[last] = with_field(&ts[last], 4, C::U(st.len() as u64 + 1));
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
        (
            "tensor-in-header",
            "A tensor starting inside the header.",
            "bad-tensor",
            None,
            {
                let mut ts = sts.clone();
                ts[0] = with_field(&ts[0], 3, C::U(8));
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
        (
            "tensors-overlap",
            "Two tensors sharing bytes.",
            "bad-tensor",
            None,
            {
                let mut ts = sts.clone();
                let end1 = field(&ts[1], 4);
                ts[0] = with_field(&ts[0], 4, end1);
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
        (
            "header-digest-31-bytes",
            "The safetensors file's header digest is 31 bytes: every digest of a file map is digest-length when it is not 32 bytes.",
            "digest-length",
            None,
            with_st(
                st_map
                    .iter()
                    .map(|(k, x)| match (k, x) {
                        (C::T(s), C::A(h)) if s == "header" => {
                            (k.clone(), C::A(vec![h[0].clone(), C::B(vec![0; 31])]))
                        }
                        _ => (k.clone(), x.clone()),
                    })
                    .collect(),
                d_all,
            ),
        ),
        (
            "tensor-blake3-31-bytes",
            "A tensor entry's digest is 31 bytes.",
            "digest-length",
            None,
            {
                let mut ts = sts.clone();
                ts[0] = with_field(&ts[0], 5, C::B(vec![0; 31]));
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
        (
            "two-rules-file-type-as-read",
            "The GGUF file (files[1]) has type \"pytorch\" and the safetensors file after it a 31-byte header digest: type is checked as its file map is read, before the next file, so file-type.",
            "file-type",
            None,
            bytes_of(&top3(
                vec![
                    C::M(file_map(&plain, cs, false)),
                    C::M(with_meta(
                        &gg_map
                            .iter()
                            .map(|(k, x)| match k {
                                C::T(s) if s == "type" => (k.clone(), t("pytorch")),
                                _ => (k.clone(), x.clone()),
                            })
                            .collect(),
                        &gg_meta,
                    )),
                    C::M(with_meta(
                        &st_map
                            .iter()
                            .map(|(k, x)| match (k, x) {
                                (C::T(s), C::A(h)) if s == "header" => {
                                    (k.clone(), C::A(vec![h[0].clone(), C::B(vec![0; 31])]))
                                }
                                _ => (k.clone(), x.clone()),
                            })
                            .collect(),
                        &st_meta,
                    )),
                ],
                d_all,
                meta_all,
            )),
        ),
        (
            "tensor-wrong-arity",
            "A tensor entry of 5 items.",
            "wrong-type",
            None,
            {
                let mut ts = sts.clone();
                ts[0] = match &ts[0] {
                    C::A(a) => C::A(a[..5].to_vec()),
                    _ => unreachable!(),
                };
                with_st(set_tensors(&st_map, ts), d_all)
            },
        ),
    ];
    for (name, desc, code, reason, bytes) in neg {
        let mut s = format!("# {desc}\nexpect: manifest invalid\nerror: {code}\n");
        if let Some(r) = reason {
            s.push_str(&format!("reason: {r}\n"));
        }
        s.push_str(&format!("manifest: {}\n", hex(&bytes)));
        v.insert(format!("manifest/bad-{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Attestations

fn attestation_vectors(v: &mut Vectors) {
    use base64::Engine as _;
    use weightseal::attest::dsse::Envelope;
    use weightseal::attest::statement::{DerivedFrom, DigestSet, Predicate, Relation, Statement};
    use weightseal::attest::PrivateKey;
    let b64 = base64::engine::general_purpose::STANDARD;
    let model = "org/model";
    let digest = weightseal::Digest(
        *blake3::hash(b"weightseal attestation vectors: the manifest").as_bytes(),
    );
    let other = weightseal::Digest(*blake3::hash(b"another manifest").as_bytes());
    let now = "2026-06-01T00:00:00Z";
    // (policy name, seed, roles, validity window). One seed under two names is one key
    // listed for two signers; one name with two seeds is a signer holding two keys.
    let seeds: [(&str, [u8; 32], &str, &str); 10] = [
        ("publisher", [0x11; 32], "publisher", ""),
        ("reproducer", [0xaa; 32], "reproducer", ""),
        ("auditor-a", [0x22; 32], "auditor", ""),
        ("auditor-b", [0x33; 32], "auditor", ""),
        ("outsider", [0x44; 32], "publisher", ""),
        ("mirror", [0x66; 32], "mirror", ""),
        ("acme-audit", [0x11; 32], "auditor", ""),
        (
            "rotated",
            [0x77; 32],
            "publisher",
            "not_after=2026-04-01T00:00:00Z",
        ),
        (
            "rotated",
            [0x88; 32],
            "publisher",
            "not_before=2026-04-01T00:00:00Z",
        ),
        ("publisher-b", [0x99; 32], "publisher", ""),
    ];
    let seed_of = |name: &str| seeds.iter().find(|s| s.0 == name).expect("known key").1;
    // ECDSA signers: (policy name, algorithm, scalar, roles). ECDSA signatures use RFC 6979
    // nonces, so they are as reproducible as ed25519's.
    use weightseal::attest::keys::Algorithm;
    let ec_keys: [(&str, Algorithm, Vec<u8>, &str); 2] = [
        (
            "ec-publisher",
            Algorithm::EcdsaP256,
            vec![0x21; 32],
            "publisher",
        ),
        (
            "ec384-publisher",
            Algorithm::EcdsaP384,
            vec![0x31; 48],
            "publisher",
        ),
    ];
    let key = |name: &str| match ec_keys.iter().find(|e| e.0 == name) {
        Some((_, alg, scalar, _)) => {
            PrivateKey::from_ecdsa_scalar(*alg, scalar).expect("a valid scalar")
        }
        None => PrivateKey::from_seed(&seed_of(name)),
    };
    let key_seed = |seed: [u8; 32]| PrivateKey::from_seed(&seed);
    let pred = |role: &str, expires: Option<&str>, version: Option<u64>| Predicate {
        role: role.into(),
        signer: format!("{role} signer"),
        issued_at: "2026-05-01T00:00:00Z".into(),
        expires_at: expires.map(str::to_string),
        version,
        derived_from: vec![DerivedFrom {
            name: "org/base".into(),
            digest: DigestSet {
                blake3: other.to_hex(),
            },
            relation: Relation::Finetune,
        }],
        annotations: [("license".to_string(), "apache-2.0".to_string())].into(),
        derivation: None,
    };
    let sign = |k: &str, p: Predicate, d: weightseal::Digest| {
        Envelope::sign(&Statement::new(model, d, p).to_bytes(), &key(k))
    };
    let good_pub = sign(
        "publisher",
        pred("publisher", Some("2027-01-01T00:00:00Z"), Some(7)),
        digest,
    );
    let good_aud_a = sign("auditor-a", pred("auditor", None, None), digest);
    let good_aud_b = sign("auditor-b", pred("auditor", None, None), digest);
    let tamper = |e: &Envelope| {
        let mut e = e.clone();
        let mut p = b64.decode(&e.payload).expect("our base64");
        let i = p.len() - 3;
        p[i] ^= 1;
        e.payload = b64.encode(&p);
        e
    };
    struct Case<'a> {
        name: &'a str,
        desc: &'a str,
        expect: &'a str,
        trusted: Vec<&'a str>,
        thresholds: Vec<(&'a str, u32)>,
        state: Option<u64>,
        envs: Vec<Envelope>,
        codes: Vec<&'a str>,
        problems: Vec<&'a str>,
        /// Policy settings beyond keys and thresholds, as `name: value` lines.
        settings: Vec<(&'a str, String)>,
        /// The release version the policy derives, when the vector pins it.
        version: Option<Option<u64>>,
        /// The bundle's lines as written, when they are not all well-formed envelopes
        /// (then `envs` is ignored).
        lines: Option<Vec<String>>,
        /// The version the state file records for the model after the evaluation.
        state_after: Option<u64>,
        /// Keys trusted without a seed (a small-order key has none): (name, raw key, roles).
        bare_keys: Vec<(&'a str, [u8; 32], &'a str)>,
        /// The roles reported unmet, when the vector pins them.
        unmet: Option<Vec<&'a str>>,
        /// The bundle's exact bytes, when a text line cannot hold them (a CR, bytes that are
        /// not UTF-8); then `envs` and `lines` are ignored.
        bundle: Option<Vec<u8>>,
        /// Trusted keys beyond the fixed set: (name, seed, roles), in the policy's order.
        seeded_keys: Vec<(String, [u8; 32], &'a str)>,
    }
    #[allow(clippy::too_many_arguments)]
    fn case<'a>(
        name: &'a str,
        desc: &'a str,
        expect: &'a str,
        trusted: Vec<&'a str>,
        thresholds: Vec<(&'a str, u32)>,
        state: Option<u64>,
        envs: Vec<Envelope>,
        codes: Vec<&'a str>,
        problems: Vec<&'a str>,
    ) -> Case<'a> {
        Case {
            name,
            desc,
            expect,
            trusted,
            thresholds,
            state,
            envs,
            codes,
            problems,
            settings: Vec::new(),
            version: None,
            lines: None,
            state_after: None,
            bare_keys: Vec::new(),
            unmet: None,
            bundle: None,
            seeded_keys: Vec::new(),
        }
    }
    let p1 = vec![("publisher", 1)];
    let two = vec![("publisher", 1), ("auditor", 2)];
    let keys_pub = vec!["publisher"];
    let keys_all = vec!["publisher", "auditor-a", "auditor-b"];
    let mut cases: Vec<Case> = vec![
        case(
            "valid-single",
            "One publisher attestation by the trusted publisher key.",
            "success",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![good_pub.clone()],
            vec!["valid"],
            vec![],
        ),
        case(
            "valid-two-role",
            "A publisher and two distinct auditors: publisher 1 of 1, auditor 2 of 2.",
            "success",
            keys_all.clone(),
            two.clone(),
            None,
            vec![good_pub.clone(), good_aud_a.clone(), good_aud_b.clone()],
            vec!["valid", "valid", "valid"],
            vec![],
        ),
        case(
            "expired",
            "expires_at is before now.",
            "policy unmet",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![sign(
                "publisher",
                pred("publisher", Some("2026-05-15T00:00:00Z"), None),
                digest,
            )],
            vec!["expired"],
            vec!["threshold-not-met"],
        ),
        case(
            "wrong-subject",
            "A valid signature on a statement about another manifest.",
            "policy unmet",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![sign("publisher", pred("publisher", None, None), other)],
            vec!["wrong-subject"],
            vec!["threshold-not-met"],
        ),
        case(
            "tampered-payload",
            "One payload bit flipped after signing.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![tamper(&good_pub)],
            vec!["bad-signature"],
            vec!["threshold-not-met"],
        ),
        case(
            "wrong-key",
            "Signed by a key the policy does not trust.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![sign("outsider", pred("publisher", None, None), digest)],
            vec!["untrusted"],
            vec!["threshold-not-met"],
        ),
        case(
            "threshold-not-met",
            "Two auditors required; the same auditor key signed twice and counts once.",
            "policy unmet",
            keys_all.clone(),
            two.clone(),
            None,
            vec![
                good_pub.clone(),
                good_aud_a.clone(),
                sign(
                    "auditor-a",
                    pred("auditor", Some("2027-01-01T00:00:00Z"), None),
                    digest,
                ),
            ],
            vec!["valid", "valid", "valid"],
            vec!["threshold-not-met"],
        ),
        case(
            "role-not-allowed",
            "The auditor key attests the publisher role.",
            "policy unmet",
            keys_all.clone(),
            p1.clone(),
            None,
            vec![sign("auditor-a", pred("publisher", None, None), digest)],
            vec!["role-not-allowed"],
            vec!["threshold-not-met"],
        ),
        case(
            "rollback",
            "Version 7 when version 9 was accepted before (state).",
            "policy unmet",
            keys_pub.clone(),
            p1.clone(),
            Some(9),
            vec![good_pub.clone()],
            vec!["valid"],
            vec!["rollback"],
        ),
        case(
            "not-a-rollback",
            "Version 7 when version 7 was accepted before.",
            "success",
            keys_pub.clone(),
            p1.clone(),
            Some(7),
            vec![good_pub.clone()],
            vec!["valid"],
            vec![],
        ),
        case(
            "unknown-payload-type",
            "payloadType is not application/vnd.in-toto+json.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![{
                let mut e = good_pub.clone();
                e.payload_type = "application/json".into();
                e
            }],
            vec!["unknown-payload-type"],
            vec!["threshold-not-met"],
        ),
        case(
            "bad-base64",
            "The signature is not base64.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![{
                let mut e = good_pub.clone();
                e.signatures[0].sig = "not base64!".into();
                e
            }],
            vec!["bad-base64"],
            vec!["threshold-not-met"],
        ),
        case(
            "signature-length",
            "A 63-byte signature.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![{
                let mut e = good_pub.clone();
                let mut raw = b64.decode(&e.signatures[0].sig).expect("our base64");
                raw.pop();
                e.signatures[0].sig = b64.encode(raw);
                e
            }],
            vec!["signature-length"],
            vec!["threshold-not-met"],
        ),
        case(
            "duplicate-signature",
            "The same signature twice in one envelope.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![{
                let mut e = good_pub.clone();
                let s0 = e.signatures[0].clone();
                e.signatures.push(s0);
                e
            }],
            vec!["duplicate-signature"],
            vec!["threshold-not-met"],
        ),
        case(
            "keyid-mismatch",
            "A trusted key's signature labelled with another key id: a signature is tried only under the key its key id names, so it counts for nobody.",
            "signature invalid",
            keys_all.clone(),
            p1.clone(),
            None,
            vec![{
                let mut e = good_pub.clone();
                e.signatures[0].keyid = key("outsider").public().id().to_string();
                e
            }],
            vec!["untrusted"],
            vec!["threshold-not-met"],
        ),
    ];
    let signed_by = |seed: [u8; 32], p: Predicate| {
        Envelope::sign(
            &Statement::new(model, digest, p).to_bytes(),
            &key_seed(seed),
        )
    };
    let with_version = |role: &str, v: Option<u64>| pred(role, None, v);
    let pub_mirror = vec![("publisher", 1), ("mirror", 1)];
    let mut c = case(
        "mirror-cannot-set-version",
        "A trusted mirror countersigns with version 1000; only the publisher role states versions (the default version_roles), so the release is version 7 and state 7 is no rollback.",
        "success",
        vec!["publisher", "mirror"],
        pub_mirror.clone(),
        Some(7),
        vec![good_pub.clone(), sign("mirror", with_version("mirror", Some(1000)), digest)],
        vec!["valid", "valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "version-roles-setting",
        "version_roles = mirror: now the mirror's version 1000 is the release version (the policy said so).",
        "success",
        vec!["publisher", "mirror"],
        pub_mirror.clone(),
        Some(7),
        vec![good_pub.clone(), sign("mirror", with_version("mirror", Some(1000)), digest)],
        vec!["valid", "valid"],
        vec![],
    );
    c.settings.push(("version_roles", "mirror".into()));
    c.version = Some(Some(1000));
    cases.push(c);
    let mut c = case(
        "version-is-the-lowest-counted",
        "Two publishers required; one states version 7, the other 1000: the release is version 7 (no single key raises it).",
        "success",
        vec!["publisher", "publisher-b"],
        vec![("publisher", 2)],
        None,
        vec![good_pub.clone(), sign("publisher-b", with_version("publisher", Some(1000)), digest)],
        vec!["valid", "valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "no-version-with-state",
        "Rollback protection is on (state) and the publisher's attestation states no version.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        Some(3),
        vec![sign("publisher", pred("publisher", None, None), digest)],
        vec!["valid"],
        vec!["no-version"],
    );
    c.version = Some(None);
    cases.push(c);
    let mut c = case(
        "no-version-with-empty-state",
        "A state file in force that records nothing yet (state: -) and an attestation without a version: no-version, as with a state that records this model; the state stays empty.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![sign("publisher", pred("publisher", None, None), digest)],
        vec!["valid"],
        vec!["no-version"],
    );
    c.settings.push(("state", "-".to_string()));
    c.version = Some(None);
    cases.push(c);
    let mut c = case(
        "first-version-with-empty-state",
        "A state file in force that records nothing yet (state: -) and version 7: met, and the state records 7.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![good_pub.clone()],
        vec!["valid"],
        vec![],
    );
    c.settings.push(("state", "-".to_string()));
    c.version = Some(Some(7));
    c.state_after = Some(7);
    cases.push(c);
    cases.push(case(
        "separation-of-duties",
        "One key listed as publisher (\"publisher\") and as auditor (\"acme-audit\") signs both roles: a key counts toward one role, so one threshold stays unmet.",
        "policy unmet",
        vec!["publisher", "acme-audit"],
        vec![("publisher", 1), ("auditor", 1)],
        None,
        vec![good_pub.clone(), sign("acme-audit", pred("auditor", None, None), digest)],
        vec!["valid", "valid"],
        vec!["threshold-not-met"],
    ));
    let mut c = case(
        "separation-of-duties-off",
        "The same as separation-of-duties with separation_of_duties = false: the key meets both roles.",
        "success",
        vec!["publisher", "acme-audit"],
        vec![("publisher", 1), ("auditor", 1)],
        None,
        vec![good_pub.clone(), sign("acme-audit", pred("auditor", None, None), digest)],
        vec!["valid", "valid"],
        vec![],
    );
    c.settings.push(("separation_of_duties", "false".into()));
    cases.push(c);
    cases.push(case(
        "separation-finds-an-assignment",
        "The publisher key is also listed as auditor (signer acme-audit), and auditor-a may attest auditor: the publisher key signs as publisher and as auditor, auditor-a as auditor. Counting the publisher key as publisher and auditor-a as auditor meets both (the assignment is searched, not greedy).",
        "success",
        vec!["publisher", "acme-audit", "auditor-a"],
        vec![("publisher", 1), ("auditor", 1)],
        None,
        vec![
            sign("acme-audit", pred("auditor", None, None), digest),
            good_pub.clone(),
            good_aud_a.clone(),
        ],
        vec!["valid", "valid", "valid"],
        vec![],
    ));
    let mut c = case(
        "too-old",
        "max_age 14d: issued 2026-05-01, now 2026-06-01.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![good_pub.clone()],
        vec!["too-old"],
        vec!["threshold-not-met"],
    );
    c.settings.push(("max_age", "14d".into()));
    cases.push(c);
    let mut c = case(
        "within-max-age",
        "max_age 60d: issued 2026-05-01, now 2026-06-01.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![good_pub.clone()],
        vec!["valid"],
        vec![],
    );
    c.settings.push(("max_age", "60d".into()));
    cases.push(c);
    let mut c = case(
        "revoked-key",
        "The publisher key is listed in revoked.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![good_pub.clone()],
        vec!["revoked-key"],
        vec!["threshold-not-met"],
    );
    c.settings
        .push(("revoked", key("publisher").public().id().to_string()));
    cases.push(c);
    cases.push(case(
        "key-not-in-window",
        "The signer \"rotated\" holds an old key valid until 2026-04-01 and a new one from then; an attestation issued 2026-05-01 with the old key does not count.",
        "policy unmet",
        vec!["rotated"],
        p1.clone(),
        None,
        vec![signed_by([0x77; 32], pred("publisher", None, None))],
        vec!["key-not-in-window"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "rotated-key",
        "The same signer's new key (valid from 2026-04-01) signs: valid.",
        "success",
        vec!["rotated"],
        p1.clone(),
        None,
        vec![signed_by([0x88; 32], pred("publisher", None, None))],
        vec!["valid"],
        vec![],
    ));
    let ec_good = sign("ec-publisher", pred("publisher", None, Some(7)), digest);
    cases.push(case(
        "ecdsa-p256-valid",
        "One publisher attestation by an ECDSA P-256 key: a DER signature over SHA-256 of the PAE.",
        "success",
        vec!["ec-publisher"],
        p1.clone(),
        None,
        vec![ec_good.clone()],
        vec!["valid"],
        vec![],
    ));
    cases.push(case(
        "ecdsa-p384-valid",
        "One publisher attestation by an ECDSA P-384 key: a DER signature over SHA-384 of the PAE.",
        "success",
        vec!["ec384-publisher"],
        p1.clone(),
        None,
        vec![sign(
            "ec384-publisher",
            pred("publisher", None, None),
            digest,
        )],
        vec!["valid"],
        vec![],
    ));
    cases.push(case(
        "ecdsa-tampered-payload",
        "An ECDSA P-256 attestation with one payload bit flipped after signing.",
        "signature invalid",
        vec!["ec-publisher"],
        p1.clone(),
        None,
        vec![tamper(&ec_good)],
        vec!["bad-signature"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "ecdsa-signature-length",
        "An ECDSA P-256 signature of 100 bytes (a DER P-256 signature is at most 72).",
        "signature invalid",
        vec!["ec-publisher"],
        p1.clone(),
        None,
        vec![{
            let mut e = ec_good.clone();
            e.signatures[0].sig = b64.encode([0x30u8; 100]);
            e
        }],
        vec!["signature-length"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "mixed-algorithms",
        "Two publishers required: one ed25519 key and one ECDSA P-256 key.",
        "success",
        vec!["publisher", "ec-publisher"],
        vec![("publisher", 2)],
        None,
        vec![good_pub.clone(), ec_good.clone()],
        vec!["valid", "valid"],
        vec![],
    ));

    // Attestation failures of steps 1-8 that no vector above reaches, and the rules the spec
    // settles by example (spec/attestation.md, "Error codes").
    let custom = |k: &str, issued: &str, f: &dyn Fn(&mut Predicate)| {
        let mut p = pred("publisher", None, Some(7));
        p.issued_at = issued.into();
        f(&mut p);
        sign(k, p, digest)
    };
    cases.push(case(
        "not-yet-valid",
        "issued_at is 10 minutes after now: beyond the 5 minutes of clock skew allowed.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![custom("publisher", "2026-06-01T00:10:00Z", &|_| {})],
        vec!["not-yet-valid"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "within-clock-skew",
        "issued_at is 4 minutes after now: within the clock skew, so valid.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![custom("publisher", "2026-06-01T00:04:00Z", &|_| {})],
        vec!["valid"],
        vec![],
    ));
    let raw_signed = |k: &str, payload: &str| Envelope::sign(payload.as_bytes(), &key(k));
    let statement_json = |predicate: &str| {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{model}","digest":{{"blake3":"{}"}}}}],"predicateType":"https://weightseal.dev/attestation/v1","predicate":{predicate}}}"#,
            digest.to_hex()
        )
    };
    cases.push(case(
        "bad-statement",
        "A correctly signed payload whose predicate has a member the statement does not define (\"extra\"): authenticated, but not a weightseal statement.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![raw_signed(
            "publisher",
            &statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{},"extra":1}"#),
        )],
        vec!["bad-statement"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "bad-statement-float-version",
        "version written as 7.0: a version is a JSON integer, so the statement is bad.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![raw_signed(
            "publisher",
            &statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","version":7.0,"derived_from":[],"annotations":{}}"#),
        )],
        vec!["bad-statement"],
        vec!["threshold-not-met"],
    ));
    // The statement's rules one by one (spec/attestation.md, Statement): each payload is
    // correctly signed; only the statement breaks a rule.
    let bad_statements: Vec<(&str, &str, String)> = vec![
        (
            "bad-statement-duplicate-annotation",
            "annotations lists key \"license\" twice: a member given twice makes the statement bad, in annotations as anywhere.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{"license":"mit","license":"apache-2.0"}}"#),
        ),
        (
            "bad-statement-statement-type",
            "_type is the in-toto v0.1 URI: only https://in-toto.io/Statement/v1 is a weightseal statement.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{}}"#).replace("Statement/v1", "Statement/v0.1"),
        ),
        (
            "bad-statement-predicate-type",
            "predicateType differs from https://weightseal.dev/attestation/v1 (here v2).",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{}}"#).replace("attestation/v1", "attestation/v2"),
        ),
        (
            "bad-statement-missing-issued-at",
            "The predicate has no issued_at: role, signer and issued_at are REQUIRED.",
            statement_json(r#"{"role":"publisher","signer":"p","derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-missing-signer",
            "The predicate has no signer (the empty string is allowed; absence is not).",
            statement_json(r#"{"role":"publisher","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-expires-at-issued",
            "expires_at equals issued_at: it MUST be later.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","expires_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-derived-uppercase",
            "A derived_from digest in uppercase hex: digests are 64 lowercase hex digits.",
            statement_json(&format!(r#"{{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[{{"name":"org/base","digest":{{"blake3":"{}"}},"relation":"finetune"}}],"annotations":{{}}}}"#, "AB".repeat(32))),
        ),
        // Ledger round 3 (A-1, A-2, A-3, A-10): null is a value of the wrong type, never an
        // absent member; every member of a derived_from entry and of the subject is REQUIRED;
        // a version is written without a sign.
        (
            "bad-statement-null-expires-at",
            "expires_at: null. null is a value of the wrong type, not an absent member: bad-statement (absent would be valid).",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","expires_at":null,"derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-null-version",
            "version: null: the wrong type, bad-statement.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","version":null,"derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-null-derived-from",
            "derived_from: null: the wrong type (absent is empty; null is not absent), bad-statement.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":null,"annotations":{}}"#),
        ),
        (
            "bad-statement-null-annotations",
            "annotations: null: the wrong type, bad-statement.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":null}"#),
        ),
        (
            "bad-statement-derived-without-relation",
            "A derived_from entry without relation: name, digest and relation are each REQUIRED in an entry.",
            statement_json(&format!(r#"{{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[{{"name":"org/base","digest":{{"blake3":"{}"}}}}],"annotations":{{}}}}"#, other.to_hex())),
        ),
        (
            "bad-statement-derived-without-name",
            "A derived_from entry without name: REQUIRED (the empty string is a name; absence is not).",
            statement_json(&format!(r#"{{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[{{"digest":{{"blake3":"{}"}},"relation":"finetune"}}],"annotations":{{}}}}"#, other.to_hex())),
        ),
        (
            "bad-statement-subject-without-name",
            "The subject has no name: name and digest are REQUIRED members of the subject, so bad-statement (step 5), not wrong-subject (step 6).",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{}}"#).replace(r#"{"name":"org/model","#, "{"),
        ),
        (
            "bad-statement-negative-zero-version",
            "version written -0: a version is written without sign, fraction or exponent, so bad-statement.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","version":-0,"derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-offset-24",
            "issued_at with the offset +24:00: an offset is at most 23:59.",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00+24:00","derived_from":[],"annotations":{}}"#),
        ),
        (
            "bad-statement-space-for-t",
            "issued_at with a space between date and time: RFC 3339 section 5.6 needs T (or t).",
            statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01 00:00:00Z","derived_from":[],"annotations":{}}"#),
        ),
    ];
    for (name, comment, payload) in bad_statements {
        cases.push(case(
            name,
            comment,
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![raw_signed("publisher", &payload)],
            vec!["bad-statement"],
            vec!["threshold-not-met"],
        ));
    }
    // Two rules at once: the steps run in order, so the earlier step's code wins.
    cases.push(case(
        "two-rules-statement-before-subject",
        "A signed statement with an unknown predicate member and another model's digest: step 5 (the statement) comes before step 6 (the subject), so bad-statement.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![raw_signed(
            "publisher",
            &statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{},"extra":1}"#)
                .replace(&digest.to_hex(), &"0".repeat(64)),
        )],
        vec!["bad-statement"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "two-rules-signature-before-statement",
        "A statement that breaks a rule, with a signature that does not verify: signatures are checked (step 4) before the payload is parsed, so bad-signature.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = raw_signed(
                "publisher",
                &statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{},"extra":1}"#),
            );
            e.signatures[0].sig = good_pub.signatures[0].sig.clone();
            e
        }],
        vec!["bad-signature"],
        vec!["threshold-not-met"],
    ));
    let mut c = case(
        "time-lowercase-and-leap-second",
        "issued_at 2026-05-31t23:59:60z: lowercase t and z are RFC 3339, and second 60 is accepted in any minute and read as second 59.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![raw_signed(
            "publisher",
            &statement_json(r#"{"role":"publisher","signer":"p","issued_at":"2026-05-31t23:59:60z","version":7,"derived_from":[],"annotations":{}}"#),
        )],
        vec!["valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "writer-escapes",
        "The writer's form of strings (spec/attestation.md, Statement): non-ASCII as raw UTF-8, / unescaped, only \" and \\ and control characters escaped (\\n, \\t and \\u001f as written). Re-serialising the payload must give the same bytes.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![custom("publisher", "2026-05-01T00:00:00Z", &|p| {
            p.signer = "Ünïcode \"Labs\" / \\ 😀\n\t\u{1f}\u{7f}".into();
            p.annotations.insert("é/κ".into(), "<b>&amp;</b> \u{2028}".into());
        })],
        vec!["valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "statement-lists-may-be-absent",
        "derived_from and annotations left out, and an empty signer: readers take absent lists as empty (writers always write them) and accept any signer text.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![raw_signed(
            "publisher",
            &statement_json(r#"{"role":"publisher","signer":"","issued_at":"2026-05-01T00:00:00Z","version":7}"#),
        )],
        vec!["valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "malformed-envelope",
        "Three bad lines: not JSON; an envelope without signatures member; an envelope with its payload member twice (duplicate members are malformed).",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![],
        vec!["malformed-envelope", "malformed-envelope", "malformed-envelope"],
        vec!["threshold-not-met"],
    );
    let good_line = good_pub.to_line();
    c.lines = Some(vec![
        "this is not json".into(),
        format!(
            r#"{{"payload":"{}","payloadType":"application/vnd.in-toto+json"}}"#,
            good_pub.payload
        ),
        good_line.replacen(
            r#""payload":"#,
            &format!(r#""payload":"{}","payload":"#, good_pub.payload),
            1,
        ),
    ]);
    cases.push(c);
    let mut c = case(
        "blank-lines-are-skipped",
        "A bundle with blank lines between its envelopes: they are skipped and get no code.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![],
        vec!["valid", "valid"],
        vec![],
    );
    c.lines = Some(vec![
        good_line.clone(),
        String::new(),
        "   ".into(),
        good_line.clone(),
    ]);
    cases.push(c);
    cases.push(case(
        "base64-trailing-bits",
        "The payload's last base64 character has non-zero unused bits (a second spelling of the same bytes): bad-base64.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = good_pub.clone();
            // "...=" ends a 2-byte group: the character before '=' carries 2 unused bits.
            let i = e.payload.len() - 2;
            assert!(e.payload.ends_with('='));
            let c = e.payload.as_bytes()[i];
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let v = alphabet.iter().position(|&a| a == c).expect("base64 character");
            e.payload.replace_range(i..i + 1, &(alphabet[v | 1] as char).to_string());
            e
        }],
        vec!["bad-base64"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "base64-without-padding",
        "The payload without its '=' padding: padding is required.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = good_pub.clone();
            e.payload = e.payload.trim_end_matches('=').to_string();
            e
        }],
        vec!["bad-base64"],
        vec!["threshold-not-met"],
    ));
    let mut c = case(
        "url-safe-base64",
        "The valid envelope with payload and sig in the URL-safe alphabet (- and _ for + and /): readers MUST accept it.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            use base64::Engine as _;
            let std = base64::engine::general_purpose::STANDARD;
            let url = base64::engine::general_purpose::URL_SAFE;
            let mut e = good_pub.clone();
            e.payload = url.encode(std.decode(&e.payload).expect("base64"));
            e.signatures[0].sig = url.encode(std.decode(&e.signatures[0].sig).expect("base64"));
            assert!(
                e.payload.contains(['-', '_']) || e.signatures[0].sig.contains(['-', '_']),
                "the vector must use the URL-safe characters"
            );
            e
        }],
        vec!["valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    cases.push(case(
        "no-signatures",
        "An envelope whose signatures list is empty.",
        "signature invalid",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = good_pub.clone();
            e.signatures.clear();
            e
        }],
        vec!["no-signatures"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "empty-keyid",
        "The publisher's signature with an empty keyid: tried under the trusted keys, it verifies under the publisher's.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = good_pub.clone();
            e.signatures[0].keyid.clear();
            e
        }],
        vec!["valid"],
        vec![],
    ));
    cases.push(case(
        "two-empty-keyids",
        "Two different signatures, both with an empty keyid (the publisher's and an outsider's): empty key ids are not the same key id, so this is no duplicate; the publisher's verifies.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![{
            let mut e = good_pub.clone();
            let other = Envelope::sign(&b64.decode(&e.payload).expect("ours"), &key("outsider"));
            e.signatures[0].keyid.clear();
            let mut s2 = other.signatures[0].clone();
            s2.keyid.clear();
            e.signatures.insert(0, s2);
            e
        }],
        vec!["valid"],
        vec![],
    ));
    {
        // The identity point (0x01, then zeros) is a small-order public key; R = identity and
        // S = 0 satisfy the cofactorless equation [S]B = R + [k]A for every message, so only
        // strict verification (small-order A and R rejected) refuses it.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let weak_key = weightseal::attest::PublicKey::from_bytes(&weak).expect("a point");
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let mut e = good_pub.clone();
        e.signatures = vec![weightseal::attest::dsse::Signature {
            keyid: weak_key.id().to_string(),
            sig: b64.encode(sig),
        }];
        let mut c = case(
            "small-order-key",
            "A trusted key that is a small-order point (the identity) and a signature (R = identity, S = 0) that passes both the cofactorless and the cofactored equation for any message: only the small-order rule of strict verification rejects it.",
            "signature invalid",
            vec![],
            p1.clone(),
            None,
            vec![e],
            vec!["bad-signature"],
            vec!["threshold-not-met"],
        );
        c.bare_keys = vec![("weak", weak, "publisher")];
        cases.push(c);
    }
    let mut c = case(
        "wrong-model",
        "A valid publisher attestation, but the policy names another model.",
        "policy unmet",
        keys_pub.clone(),
        p1.clone(),
        None,
        vec![good_pub.clone()],
        vec!["valid"],
        vec!["wrong-model"],
    );
    c.settings.push(("policy_model", "org/other".into()));
    cases.push(c);
    let mut c = case(
        "state-update",
        "The state records version 5; the release states 7 and meets the policy, so the state now records 7.",
        "success",
        keys_pub.clone(),
        p1.clone(),
        Some(5),
        vec![good_pub.clone()],
        vec!["valid"],
        vec![],
    );
    c.version = Some(Some(7));
    c.state_after = Some(7);
    cases.push(c);
    let mut c = case(
        "no-version-with-state-recorded",
        "The state records version 5 and no counted attestation states a version: no-version (a state file in force needs one).",
        "policy unmet",
        keys_all.clone(),
        vec![("auditor", 1)],
        Some(5),
        vec![good_aud_a.clone()],
        vec!["valid"],
        vec!["no-version"],
    );
    c.version = Some(None);
    c.state_after = Some(5);
    cases.push(c);
    // H2: surplus votes stating different versions. The release version is the lowest stated
    // by any vote of a version role, whatever the flow counts; with a state at 8, that is a
    // rollback even though the vote of version 9 alone would meet the threshold.
    let surplus = || {
        vec![
            sign("publisher-b", with_version("publisher", Some(9)), digest),
            good_pub.clone(),
        ]
    };
    let mut c = case(
        "surplus-votes-lowest-version",
        "Two publisher keys, threshold 1; the first envelope states version 9, the second 7; the state records 8. The release version is 7 (the lowest of every vote), so this is a rollback, whichever vote a flow would count.",
        "policy unmet",
        vec!["publisher", "publisher-b"],
        vec![("publisher", 1)],
        Some(8),
        surplus(),
        vec!["valid", "valid"],
        vec!["rollback"],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "surplus-votes-no-state",
        "The same surplus votes without a state file: verified, release version 7.",
        "success",
        vec!["publisher", "publisher-b"],
        vec![("publisher", 1)],
        None,
        surplus(),
        vec!["valid", "valid"],
        vec![],
    );
    c.version = Some(Some(7));
    cases.push(c);
    let mut c = case(
        "unmet-role-is-the-later-name",
        "One key may attest auditor and publisher (separation of duties on), thresholds 1 and 1: roles are filled in the byte order of their names, so auditor is met and publisher is the role reported unmet.",
        "policy unmet",
        vec!["publisher", "acme-audit"],
        vec![("publisher", 1), ("auditor", 1)],
        None,
        vec![sign("acme-audit", pred("auditor", None, None), digest), good_pub.clone()],
        vec!["valid", "valid"],
        vec!["threshold-not-met"],
    );
    c.unmet = Some(vec!["publisher"]);
    cases.push(c);
    let mut c = case(
        "no-version-beside-unmet-threshold",
        "A state file in force, thresholds unmet, and no vote states a version: both no-version and threshold-not-met (no-version does not depend on the thresholds).",
        "policy unmet",
        vec!["publisher", "publisher-b"],
        vec![("publisher", 2)],
        Some(3),
        vec![sign("publisher", pred("publisher", None, None), digest)],
        vec!["valid"],
        vec!["no-version", "threshold-not-met"],
    );
    c.version = Some(None);
    cases.push(c);
    // Reproduction attestations (spec/derive.md): a statement of the derivation predicate type
    // about this manifest, naming the base it was recomputed from.
    let derivation = |base: weightseal::Digest, version: Option<u64>| {
        let mut st = Statement::new(
            model,
            digest,
            Predicate {
                role: "reproducer".into(),
                signer: "reproducer signer".into(),
                issued_at: "2026-05-01T00:00:00Z".into(),
                expires_at: None,
                version,
                derived_from: vec![],
                annotations: Default::default(),
                derivation: Some(weightseal::attest::statement::Derivation {
                    base: weightseal::attest::statement::Subject {
                        name: "org/base".into(),
                        digest: DigestSet {
                            blake3: base.to_hex(),
                        },
                    },
                    recipe: DigestSet {
                        blake3: hex(blake3::hash(b"a recipe").as_bytes()),
                    },
                    tensors: 3,
                    tool: "weightseal vectors".into(),
                }),
            },
        );
        st.predicate_type = weightseal::attest::statement::DERIVATION_PREDICATE_TYPE.into();
        Envelope::sign(&st.to_bytes(), &key("reproducer"))
    };
    let third = weightseal::Digest(*blake3::hash(b"a third manifest").as_bytes());
    let keys_rep = vec!["publisher", "reproducer"];
    let p_rep = vec![("publisher", 1), ("reproducer", 1)];
    cases.push(case(
        "derivation-of-the-declared-base",
        "A publisher attestation naming org/base in derived_from, and a reproduction attestation (predicate type https://weightseal.dev/derivation/v1) recomputed from that base: both count.",
        "success",
        keys_rep.clone(),
        p_rep.clone(),
        None,
        vec![good_pub.clone(), derivation(other, None)],
        vec!["valid", "valid"],
        vec![],
    ));
    cases.push(case(
        "derivation-of-another-base",
        "A reproduction attestation of a base the publisher's statement does not name: base-not-declared, and it casts no vote.",
        "policy unmet",
        keys_rep.clone(),
        p_rep.clone(),
        None,
        vec![good_pub.clone(), derivation(third, None)],
        vec!["valid", "base-not-declared"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "derivation-without-a-publisher",
        "A reproduction attestation alone: no valid statement of a version role names its base.",
        "policy unmet",
        keys_rep.clone(),
        vec![("reproducer", 1)],
        None,
        vec![derivation(other, None)],
        vec!["base-not-declared"],
        vec!["threshold-not-met"],
    ));
    cases.push(case(
        "bad-statement-derivation-with-version",
        "A derivation statement that states a version: bad-statement (a reproduction states no version and no derived_from).",
        "signature invalid",
        keys_rep.clone(),
        p_rep.clone(),
        None,
        vec![good_pub.clone(), derivation(other, Some(1))],
        vec!["valid", "bad-statement"],
        vec!["threshold-not-met"],
    ));
    // Ledger round 3: the envelope and bundle rules a second implementer had to guess.
    {
        // A-4: a key id names a trusted key only when it is that key's id exactly (lowercase).
        let mut e = good_pub.clone();
        e.signatures[0].keyid = e.signatures[0].keyid.to_uppercase();
        cases.push(case(
            "keyid-uppercase",
            "The publisher's signature with its key id in uppercase hex: key ids are compared as strings, exactly, so it names no trusted key, is tried under none and counts for nobody: untrusted.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![e],
            vec!["untrusted"],
            vec!["threshold-not-met"],
        ));
        // A-5: signatures are compared as decoded bytes, whatever their base64 alphabet.
        let url = base64::engine::general_purpose::URL_SAFE;
        let mut e = good_pub.clone();
        let raw = b64.decode(&e.signatures[0].sig).expect("ours");
        let again = url.encode(&raw);
        assert_ne!(again, e.signatures[0].sig, "the signature must use + or /");
        e.signatures.push(weightseal::attest::dsse::Signature {
            keyid: String::new(),
            sig: again,
        });
        cases.push(case(
            "duplicate-signature-other-alphabet",
            "The publisher's signature, then the same signature bytes in the URL-safe alphabet with an empty key id: signatures are compared as decoded bytes, so duplicate-signature (comparing the text would find the second valid).",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![e],
            vec!["duplicate-signature"],
            vec!["threshold-not-met"],
        ));
        // A-6: 17 signatures; the envelope's whole structure is checked before the count.
        let mut e = good_pub.clone();
        e.signatures = (1..=17u8)
            .map(|i| weightseal::attest::dsse::Signature {
                keyid: String::new(),
                sig: b64.encode([i; 64]),
            })
            .collect();
        cases.push(case(
            "too-many-signatures",
            "An envelope of 17 signatures (empty key ids, 64 bytes each): at most 16, so too-many-signatures, before any signature is tried.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![e.clone()],
            vec!["too-many-signatures"],
            vec!["threshold-not-met"],
        ));
        let line = e.to_line();
        assert!(line.ends_with("\"}]}"));
        let mut c = case(
            "two-rules-malformed-before-too-many-signatures",
            "The same 17 signatures, the last with a member a signature does not define: the whole envelope is read as JSON of the envelope's shape first (step 1), then the count, so malformed-envelope.",
            "signature invalid",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![],
            vec!["malformed-envelope"],
            vec!["threshold-not-met"],
        );
        c.lines = Some(vec![format!(
            "{}\",\"extra\":\"1\"}}]}}",
            &line[..line.len() - 4]
        )]);
        cases.push(c);
        // A-7: RFC 8259 whitespace around the object includes CR (a line holds no LF).
        let mut c = case(
            "cr-around-the-envelope",
            "bundle: holds the exact bytes: an envelope followed by CR, then CRLF; then CR and a tab, an envelope, LF. The CR before the LF is the line ending; the other CRs are JSON whitespace around the object (RFC 8259: space, tab, CR), so both lines are valid.",
            "success",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![],
            vec!["valid", "valid"],
            vec![],
        );
        c.bundle = Some(format!("{good_line}\r\r\n\r\t{good_line}\n").into_bytes());
        cases.push(c);
        // A-8: a line that is not UTF-8 is one bad line, not a bad bundle.
        let mut c = case(
            "line-not-utf8",
            "bundle: holds the exact bytes: a valid envelope, a line of the bytes ff fe (not UTF-8), the valid envelope again. The bad line is malformed-envelope and hides nothing: the release meets the policy.",
            "success",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![],
            vec!["valid", "malformed-envelope", "valid"],
            vec![],
        );
        let mut bytes = format!("{good_line}\n").into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend_from_slice(format!("{good_line}\n").as_bytes());
        c.bundle = Some(bytes);
        cases.push(c);
        // A-18: the 1 MiB bound is on the line without its line ending, and inclusive.
        let mut c = case(
            "line-of-exactly-1-mib",
            "One line of exactly 1048576 bytes (spaces, then the valid envelope), then LF: a line is measured without its line ending and may be 1 MiB long, so valid.",
            "success",
            keys_pub.clone(),
            p1.clone(),
            None,
            vec![],
            vec!["valid"],
            vec![],
        );
        let padded = format!("{}{good_line}", " ".repeat((1 << 20) - good_line.len()));
        assert_eq!(padded.len(), 1 << 20);
        c.lines = Some(vec![padded]);
        cases.push(c);
        // A-17: the budget of 256 tries for empty key ids is the bundle's: tries spent on an
        // envelope that fails later still count, and a signature that would overspend it fails
        // its envelope even when an earlier signature of that envelope verified.
        let trial_keys: Vec<(String, [u8; 32], &str)> = (1..=16u8)
            .map(|i| (format!("t{i:02}"), [0x40 + i; 32], "publisher"))
            .collect();
        let signed_with = |seed: [u8; 32], payload: &[u8]| Envelope::sign(payload, &key_seed(seed));
        let bad_payload = statement_json(
            r#"{"role":"publisher","signer":"p","issued_at":"2026-05-01T00:00:00Z","derived_from":[],"annotations":{},"extra":1}"#,
        );
        let mut first = signed_with(trial_keys[15].1, bad_payload.as_bytes());
        first.signatures[0].keyid.clear();
        let garbage = |i: u8| weightseal::attest::dsse::Signature {
            keyid: String::new(),
            sig: b64.encode([i; 64]),
        };
        let real = first.signatures.remove(0);
        first.signatures = (1..=15u8).map(garbage).collect();
        first.signatures.push(real);
        let good_payload =
            Statement::new(model, digest, pred("publisher", None, Some(7))).to_bytes();
        let mut second = signed_with(trial_keys[0].1, &good_payload);
        second.signatures.push(garbage(16));
        let mut third = signed_with(trial_keys[0].1, &good_payload);
        third.signatures[0].keyid.clear();
        let fourth = signed_with(trial_keys[1].1, &good_payload);
        let mut c = case(
            "too-many-trials",
            "16 trusted keys t01..t16. Line 1: a bad statement with 16 signatures without key id: 15 that verify under no key (16 tries each) and t16's (16 tries, it verifies under the last): 256 tries spend the budget, and the line is then bad-statement. Line 2: t01's signature with its key id (no try), then one without key id: no try is left, too-many-trials. Line 3: t01's signature without key id: too-many-trials. Line 4: t02's signature with its key id is not tried blind: valid.",
            "success",
            vec![],
            p1.clone(),
            None,
            vec![first, second, third, fourth],
            vec!["bad-statement", "too-many-trials", "too-many-trials", "valid"],
            vec![],
        );
        c.seeded_keys = trial_keys;
        c.version = Some(Some(7));
        cases.push(c);
    }
    for c in cases {
        let Case {
            name,
            desc,
            expect,
            trusted,
            thresholds,
            state,
            envs,
            codes,
            problems,
            settings,
            version,
            lines,
            state_after,
            bare_keys,
            unmet,
            bundle,
            seeded_keys,
        } = c;
        let mut s = format!(
            "# {desc}\nexpect: {expect}\nnow: {now}\nmodel: {model}\nmanifest_digest: {digest}\n"
        );
        for k in &trusted {
            for (n, alg, scalar, role) in ec_keys.iter().filter(|e| e.0 == *k) {
                let a = alg.as_str();
                s.push_str(&format!(
                    "key: {n} {a}:{} {a}:{} {role}\n",
                    hex(scalar),
                    hex(&key(n).public().as_bytes())
                ));
            }
            for (n, seed, role, window) in seeds.iter().filter(|s| s.0 == *k) {
                let window = if window.is_empty() {
                    String::new()
                } else {
                    format!(" {window}")
                };
                s.push_str(&format!(
                    "key: {n} {} {} {role}{window}\n",
                    hex(seed),
                    hex(&key_seed(*seed).public().as_bytes())
                ));
            }
        }
        for (n, seed, role) in &seeded_keys {
            s.push_str(&format!(
                "key: {n} {} {} {role}\n",
                hex(seed),
                hex(&key_seed(*seed).public().as_bytes())
            ));
        }
        for (n, raw, role) in &bare_keys {
            s.push_str(&format!("key: {n} - {} {role}\n", hex(raw)));
        }
        for (role, t) in &thresholds {
            s.push_str(&format!("threshold: {role} {t}\n"));
        }
        for (k, val) in &settings {
            s.push_str(&format!("{k}: {val}\n"));
        }
        if let Some(v) = state {
            s.push_str(&format!("state: {model} {v}\n"));
        }
        match (&bundle, &lines) {
            (Some(bytes), _) => s.push_str(&format!("bundle: {}\n", b64.encode(bytes))),
            (None, Some(lines)) => {
                for l in lines {
                    s.push_str(&format!("envelope: {l}\n"));
                }
            }
            (None, None) => {
                for e in &envs {
                    s.push_str(&format!("envelope: {}\n", e.to_line()));
                }
            }
        }
        s.push_str(&format!("codes: {}\n", codes.join(" ")));
        s.push_str(&format!(
            "problems: {}\n",
            if problems.is_empty() {
                "none".to_string()
            } else {
                problems.join(" ")
            }
        ));
        if let Some(v) = version {
            s.push_str(&format!(
                "version: {}\n",
                v.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
            ));
        }
        if let Some(after) = state_after {
            s.push_str(&format!("state_after: {model} {after}\n"));
        }
        if let Some(u) = unmet {
            s.push_str(&format!("unmet: {}\n", u.join(" ")));
        }
        v.insert(format!("attestation/{name}.txt"), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Trust policies: what a reader accepts and rejects (spec/attestation.md, "Trust policy")

fn policy_vectors(v: &mut Vectors) {
    use weightseal::attest::PrivateKey;
    let pem = |seed: u8| PrivateKey::from_seed(&[seed; 32]).public().to_pem();
    let a = pem(0x11);
    let b = pem(0x22);
    let signer = |name: &str, key: &str, roles: &str| {
        format!("[keys.{name}]\npublic_key_pem = \"\"\"\n{key}\"\"\"\nroles = [{roles}]\n")
    };
    let publisher = signer("acme", &a, "\"publisher\"");
    let one = "[roles.publisher]\nthreshold = 1\n";
    // (name, description, policy text, Ok(thresholds summary) or Err(code))
    let cases: Vec<(&str, &str, String, Result<&str, &str>)> = vec![
        ("minimal", "One signer, one role.", format!("{publisher}{one}"), Ok("publisher=1")),
        (
            "log-table",
            "A [log] table: a release must carry a proof of inclusion in this transparency log, cosigned by 1 of the 1 witness (spec/log.md).",
            format!(
                "{publisher}{one}[log]\nkey = \"{}\"\nwitnesses = [\"{}\"]\nquorum = 1\n",
                weightseal::log::keys::LogSigner::log("example.test/log", std::sync::Arc::new(PrivateKey::from_seed(&[0x10; 32]))).unwrap().verifier(),
                weightseal::log::keys::LogSigner::cosigner("w.example.test", std::sync::Arc::new(PrivateKey::from_seed(&[0x20; 32])), 0).unwrap().verifier()
            ),
            Ok("publisher=1"),
        ),
        (
            "log-quorum-too-high",
            "A [log] quorum larger than the witnesses listed.",
            format!(
                "{publisher}{one}[log]\nkey = \"{}\"\nquorum = 1\n",
                weightseal::log::keys::LogSigner::log("example.test/log", std::sync::Arc::new(PrivateKey::from_seed(&[0x10; 32]))).unwrap().verifier()
            ),
            Err("policy-syntax"),
        ),
        (
            "every-setting",
            "Every optional member, with two signers and two roles.",
            format!(
                "model = \"org/model\"\ndigest = \"{}\"\nenforce_expiry = false\nmax_age = \"90d\"\nversion_roles = [\"publisher\"]\nseparation_of_duties = false\nrevoked = [\"{}\"]\n{publisher}{}\n{one}[roles.auditor]\nthreshold = 1\n",
                "ab".repeat(32),
                "cd".repeat(32),
                signer("audit", &b, "\"auditor\"")
            ),
            Ok("auditor=1 publisher=1"),
        ),
        ("unknown-member", "A member the policy does not define.", format!("colour = \"red\"\n{publisher}{one}"), Err("policy-syntax")),
        ("not-toml", "Not TOML at all.", "this is = = not toml".into(), Err("policy-syntax")),
        ("no-roles", "Signers but no [roles.NAME] table: it would accept anything.", publisher.clone(), Err("policy-syntax")),
        ("threshold-zero", "A threshold of 0.", format!("{publisher}[roles.publisher]\nthreshold = 0\n"), Err("policy-role")),
        (
            "threshold-above-keys",
            "A threshold of 2 with one signer allowed the role.",
            format!("{publisher}[roles.publisher]\nthreshold = 2\n"),
            Err("policy-role"),
        ),
        (
            "one-key-two-names",
            "One key listed under two names counts once: a threshold of 2 cannot be met.",
            format!("{publisher}{}[roles.publisher]\nthreshold = 2\n", signer("acme-again", &a, "\"publisher\"")),
            Err("policy-role"),
        ),
        ("bad-role-name", "A role name with a capital letter.", format!("{}[roles.Publisher]\nthreshold = 1\n", signer("acme", &a, "\"Publisher\"")), Err("policy-key")),
        ("no-signer-roles", "A signer with an empty roles list.", format!("{}{one}", signer("acme", &a, "")), Err("policy-key")),
        (
            "both-key-forms",
            "A signer with both public_key and public_key_pem.",
            format!("[keys.acme]\npublic_key = \"acme.pub\"\npublic_key_pem = \"\"\"\n{a}\"\"\"\nroles = [\"publisher\"]\n{one}"),
            Err("policy-key"),
        ),
        (
            "window-reversed",
            "not_after before not_before.",
            format!("{publisher}not_before = \"2027-01-01T00:00:00Z\"\nnot_after = \"2026-01-01T00:00:00Z\"\n{one}"),
            Err("policy-key"),
        ),
        ("bad-max-age", "max_age without a unit.", format!("max_age = \"90\"\n{publisher}{one}"), Err("policy-syntax")),
        ("bad-revoked", "A revoked entry that is not 64 hex digits.", format!("revoked = [\"abc\"]\n{publisher}{one}"), Err("policy-syntax")),
        ("bad-digest", "A digest pin that is not 64 hex digits.", format!("digest = \"xyz\"\n{publisher}{one}"), Err("policy-syntax")),
        (
            "bad-inline-key",
            "An inline key that is not a public key.",
            format!("[keys.acme]\npublic_key_pem = \"not a key\"\nroles = [\"publisher\"]\n{one}"),
            Err("policy-key-file"),
        ),
        // Which error (spec/attestation.md, Trust policy, "Which error"): TOML and its types
        // over the whole file, then each signer in name order, then the top-level settings,
        // then [roles].
        (
            "two-rules-syntax-first",
            "[roles.publisher] has an unknown member, and signer acme names a missing key file: the whole file is read as TOML, with its types and members, first, so policy-syntax.",
            "[keys.acme]\npublic_key = \"missing.pub\"\nroles = [\"publisher\"]\n[roles.publisher]\nthreshold = 1\nweight = 2\n".to_string(),
            Err("policy-syntax"),
        ),
        (
            "two-rules-keys-before-roles",
            "A missing key file for signer acme and a role name with an uppercase letter under [roles]: signers are read before [roles], so policy-key-file.",
            "[keys.acme]\npublic_key = \"missing.pub\"\nroles = [\"publisher\"]\n[roles.Publisher]\nthreshold = 1\n".to_string(),
            Err("policy-key-file"),
        ),
        (
            "two-rules-signers-in-name-order",
            "Signer zed names a missing key file, signer abc gives both key forms: signers are read in the byte order of their names, so abc first, policy-key.",
            format!("[keys.zed]\npublic_key = \"missing.pub\"\nroles = [\"publisher\"]\n[keys.abc]\npublic_key = \"a.pub\"\npublic_key_pem = \"x\"\nroles = [\"publisher\"]\n{one}"),
            Err("policy-key"),
        ),
        ("missing-threshold", "[roles.publisher] without threshold: a TOML member of the wrong shape, policy-syntax.", format!("{publisher}[roles.publisher]\n"), Err("policy-syntax")),
        ("string-threshold", "threshold = \"1\": not an integer, policy-syntax.", format!("{publisher}[roles.publisher]\nthreshold = \"1\"\n"), Err("policy-syntax")),
        ("unknown-key-member", "An unknown member inside [keys.acme]: policy-syntax.", format!("{publisher}comment = \"x\"\n{one}"), Err("policy-syntax")),
        ("max-age-leading-zeros", "max_age = \"007d\": digits then a lowercase unit; leading zeros are allowed.", format!("max_age = \"007d\"\n{publisher}{one}"), Ok("publisher=1")),
        ("bad-max-age-unit-case", "max_age = \"90D\": units are lowercase.", format!("max_age = \"90D\"\n{publisher}{one}"), Err("policy-syntax")),
        ("bad-max-age-zero", "max_age = \"0d\": the number must be greater than 0.", format!("max_age = \"0d\"\n{publisher}{one}"), Err("policy-syntax")),
        ("revoked-uppercase", "A revoked key id in uppercase hex: accepted and compared in lowercase.", format!("revoked = [\"{}\"]\n{publisher}{one}", "CD".repeat(32)), Ok("publisher=1")),
        ("version-role-without-table", "version_roles names auditor, which has no [roles.auditor]: allowed (it may state versions; it has no threshold).", format!("version_roles = [\"publisher\", \"auditor\"]\n{publisher}{one}"), Ok("publisher=1")),
        (
            "key-tables-and-signer-window",
            "[[keys.acme.key]] tables and a not_before on [keys.acme] itself: with key tables each window is given in its table, so policy-key.",
            format!("[keys.acme]\nroles = [\"publisher\"]\nnot_before = \"2026-01-01T00:00:00Z\"\n[[keys.acme.key]]\npublic_key_pem = \"\"\"\n{a}\"\"\"\n{one}"),
            Err("policy-key"),
        ),
    ];
    let mut cases = cases;
    cases.extend(policy_ledger_round_3(&a, &b, &publisher, one));
    for (name, desc, text, want) in cases {
        let mut s = format!("# {desc}\n");
        match want {
            Ok(summary) => s.push_str(&format!("expect: valid\nthresholds: {summary}\n")),
            Err(code) => s.push_str(&format!("expect: policy invalid\nerror: {code}\n")),
        }
        for line in text.lines() {
            s.push_str(&format!("policy: {line}\n"));
        }
        v.insert(format!("policy/{name}.txt"), s);
    }
    // One signer with two keys and a window each (a rotation), as the attestation vectors
    // rotated-key and key-not-in-window model it: the keys: lines give every (signer, key id,
    // not_before, not_after) the policy holds, in the order written.
    let id = |seed: u8| PrivateKey::from_seed(&[seed; 32]).public().id().to_string();
    let text = format!(
        "[keys.rotated]\nroles = [\"publisher\"]\n[[keys.rotated.key]]\npublic_key_pem = \"\"\"\n{a}\"\"\"\nnot_after = \"2026-03-01T00:00:00Z\"\n[[keys.rotated.key]]\npublic_key_pem = \"\"\"\n{b}\"\"\"\nnot_before = \"2026-03-01T00:00:00Z\"\n{one}"
    );
    let mut s = "# One signer, two keys, each with its own validity window ([[keys.NAME.key]] tables).\nexpect: valid\nthresholds: publisher=1\n".to_string();
    s.push_str(&format!(
        "keys: rotated {} - 2026-03-01T00:00:00Z\n",
        id(0x11)
    ));
    s.push_str(&format!(
        "keys: rotated {} 2026-03-01T00:00:00Z -\n",
        id(0x22)
    ));
    for line in text.lines() {
        s.push_str(&format!("policy: {line}\n"));
    }
    v.insert("policy/per-key-windows.txt".to_string(), s);
    trust_store_pattern_vectors(v);
}

/// Policy vectors for the ledger's third round (A-9, A-11 to A-16): (name, description, policy
/// text, Ok(thresholds) or Err(code)), as in [`policy_vectors`].
fn policy_ledger_round_3(
    a: &str,
    b: &str,
    publisher: &str,
    one: &str,
) -> Vec<(
    &'static str,
    &'static str,
    String,
    Result<&'static str, &'static str>,
)> {
    use base64::Engine as _;
    use weightseal::attest::PrivateKey;
    let b64 = base64::engine::general_purpose::STANDARD;
    let inline = |name: &str, pem: &str| {
        format!("[keys.{name}]\npublic_key_pem = \"\"\"\n{pem}\"\"\"\nroles = [\"publisher\"]\n")
    };
    // An ed25519 SPKI PEM of these 32 raw bytes, whatever they are.
    let raw_pem = |raw: &[u8; 32]| {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(raw);
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64.encode(der)
        )
    };
    // y = p + j: the first j whose y mod p is a point of large order, which a decoder that
    // reduces y mod p takes and RFC 8032 (5.1.3) refuses.
    let unreduced = (2u8..=18)
        .map(|j| {
            let mut y = [0xffu8; 32];
            y[0] = 0xed + j;
            y[31] = 0x7f;
            y
        })
        .find(|y| ed25519_dalek::VerifyingKey::from_bytes(y).is_ok_and(|k| !k.is_weak()))
        .expect("some y = p + j is on the curve");
    let mut negative_zero = [0u8; 32];
    negative_zero[0] = 1;
    negative_zero[31] = 0x80;
    let log_key = weightseal::log::keys::LogSigner::log(
        "example.test/log",
        std::sync::Arc::new(PrivateKey::from_seed(&[0x10; 32])),
    )
    .unwrap()
    .verifier()
    .to_string();
    let wrong_id = {
        // NAME+KEYID+KEY with the key id's last hex digit changed.
        let (name, rest) = log_key.split_once('+').unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        let last = if id.ends_with('0') { '1' } else { '0' };
        format!("{name}+{}{last}+{key}", &id[..7])
    };
    let id_b = PrivateKey::from_seed(&[0x22; 32]).public().id().to_string();
    vec![
        (
            "ed25519-key-y-not-reduced",
            "An inline ed25519 key whose encoded y is p + j (at least p): RFC 8032 (5.1.3) decoding refuses it, so it is not a public key, policy-key-file (a decoder that reduces y mod p would take it).",
            format!("{}{one}", inline("acme", &raw_pem(&unreduced))),
            Err("policy-key-file"),
        ),
        (
            "ed25519-key-sign-bit-on-zero-x",
            "An inline ed25519 key 01 00 .. 00 80: y = 1, x = 0 with the sign bit set, which RFC 8032 (5.1.3) refuses to decode: policy-key-file (without the sign bit it is the identity, a small-order key refused only when it verifies).",
            format!("{}{one}", inline("acme", &raw_pem(&negative_zero))),
            Err("policy-key-file"),
        ),
        (
            "window-toml-datetime",
            "not_before written as a TOML offset date-time (unquoted): windows are RFC 3339 strings, so a value of the wrong TOML type, policy-syntax.",
            format!("{publisher}not_before = 2026-01-01T00:00:00Z\n{one}"),
            Err("policy-syntax"),
        ),
        (
            "threshold-counts-revoked-and-windowed-keys",
            "Threshold 2 for publisher with two signers: acme's key has a window that ended, zed's key is revoked. The bound is the matching over every key the policy lists, revoked and windowed ones included, so the policy is valid (it can never be met today, which is not the reader's concern).",
            format!(
                "revoked = [\"{id_b}\"]\n{publisher}not_after = \"2026-01-01T00:00:00Z\"\n{}[roles.publisher]\nthreshold = 2\n",
                inline("zed", b)
            ),
            Ok("publisher=2"),
        ),
        (
            "two-rules-signer-window-before-table-keys",
            "[keys.acme] has a not_before beside [[keys.acme.key]] tables, and its table's inline key is not a key: the signer window is checked with the key forms, before any key is read, so policy-key (not policy-key-file).",
            format!("[keys.acme]\nroles = [\"publisher\"]\nnot_before = \"2026-01-01T00:00:00Z\"\n[[keys.acme.key]]\npublic_key_pem = \"not a key\"\n{one}"),
            Err("policy-key"),
        ),
        (
            "inline-key-with-text-before",
            "An inline PEM with explanatory text on the lines before its BEGIN line: ignored, valid.",
            format!("{}{one}", inline("acme", &format!("the key of ACME Labs:\n{a}"))),
            Ok("publisher=1"),
        ),
        (
            "inline-key-with-text-after",
            "An inline PEM with text after its END line: nothing but one line ending may follow, policy-key-file.",
            format!("{}{one}", inline("acme", &format!("{a}that was the key\n"))),
            Err("policy-key-file"),
        ),
        (
            "inline-key-indented",
            "An inline PEM indented inside the TOML string, with blank lines after its END line: white space around lines and trailing blank lines are not text, valid.",
            format!(
                "{}{one}",
                inline(
                    "acme",
                    &format!(
                        "{}\n\n",
                        a.lines().map(|l| format!("    {l}  ")).collect::<Vec<_>>().join("\n")
                    )
                )
            ),
            Ok("publisher=1"),
        ),
        (
            "inline-key-two-blocks",
            "Two PUBLIC KEY blocks in one inline string: a string (or key file) holds one PEM block; several keys are given as a list. policy-key-file.",
            format!("{}{one}", inline("acme", &format!("{a}{b}"))),
            Err("policy-key-file"),
        ),
        (
            "inline-key-other-label",
            "A PEM block labelled RSA PUBLIC KEY: only PUBLIC KEY (SPKI) blocks are public keys, policy-key-file.",
            format!("{}{one}", inline("acme", &a.replace("PUBLIC KEY", "RSA PUBLIC KEY"))),
            Err("policy-key-file"),
        ),
        (
            "log-key-id-mismatch",
            "[log] key whose key id does not match its name and key: the log key's id is checked as a witness key's is, policy-syntax.",
            format!("{publisher}{one}[log]\nkey = \"{wrong_id}\"\n"),
            Err("policy-syntax"),
        ),
        (
            "log-without-key",
            "A [log] table without key: key is REQUIRED in [log], policy-syntax.",
            format!("{publisher}{one}[log]\nwitnesses = []\n"),
            Err("policy-syntax"),
        ),
        (
            "log-negative-quorum",
            "[log] quorum = -1: a quorum is a non-negative TOML integer, policy-syntax.",
            format!("{publisher}{one}[log]\nkey = \"{log_key}\"\nquorum = -1\n"),
            Err("policy-syntax"),
        ),
        (
            "empty-version-roles-and-repeated-role",
            "version_roles = [] (no role states versions: with a state file every release is no-version) and a signer listing publisher twice (one role): both valid.",
            format!(
                "version_roles = []\n[keys.acme]\npublic_key_pem = \"\"\"\n{a}\"\"\"\nroles = [\"publisher\", \"publisher\"]\n{one}"
            ),
            Ok("publisher=1"),
        ),
    ]
}

/// The trust store's model patterns (spec/attestation.md, "Trust store"): (name,
/// description, pattern, model name, whether it matches). `?` is one code point of the folded
/// name.
fn trust_store_pattern_vectors(v: &mut Vectors) {
    let cases: [(&str, &str, &str, &str, bool); 6] = [
        (
            "trust-store-question-is-a-code-point",
            "? matches one code point of the folded name: e-acute (U+00E9, two bytes of UTF-8) is one.",
            "org/?",
            "org/\u{e9}",
            true,
        ),
        (
            "trust-store-question-after-folding",
            "The name is E and a combining acute (U+0045 U+0301, two code points); folded (NFC, lowercase, NFC) it is U+00E9, one code point: match.",
            "org/?",
            "org/E\u{301}",
            true,
        ),
        (
            "trust-store-question-is-not-a-grapheme",
            "A flag (two regional indicators, one grapheme) is two code points: one ? does not match it.",
            "org/?",
            "org/\u{1f1eb}\u{1f1f7}",
            false,
        ),
        (
            "trust-store-folding-may-lengthen",
            "U+0130 (capital I with dot above) lowercases to i and U+0307, two code points: ?? matches it.",
            "org/??",
            "org/\u{130}",
            true,
        ),
        (
            "trust-store-pattern-is-folded",
            "The pattern is folded as the name is: Org/* matches org/Tiny.",
            "Org/*",
            "org/Tiny",
            true,
        ),
        (
            "trust-store-star-matches-nothing",
            "* matches any run of code points, the empty one included.",
            "org/model*",
            "org/model",
            true,
        ),
    ];
    for (name, desc, pattern, model, matches) in cases {
        let got = weightseal::attest::trust::pattern_matches(
            &weightseal::path::fold(pattern),
            &weightseal::path::fold(model),
        );
        assert_eq!(got, matches, "{name}");
        v.insert(
            format!("policy/{name}.txt"),
            format!(
                "# {desc}\nexpect: {}\npattern: {pattern}\nname: {model}\n",
                if matches { "match" } else { "no match" }
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Transparency log vectors (spec/log.md)

/// RFC 6962 Merkle tree hash, recursively and independently of the library's stored hashes.
fn rfc6962_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    use sha2::Digest as _;
    match leaves.len() {
        0 => sha2::Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            let (l, r) = (rfc6962_root(&leaves[..k]), rfc6962_root(&leaves[k..]));
            let mut h = sha2::Sha256::new();
            h.update([1u8]);
            h.update(l);
            h.update(r);
            h.finalize().into()
        }
    }
}

/// RFC 6962 inclusion proof (audit path) of leaf `m` in `leaves`, leaf's sibling first.
fn rfc6962_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = n.next_power_of_two() / 2;
    if m < k {
        let mut p = rfc6962_path(m, &leaves[..k]);
        p.push(rfc6962_root(&leaves[k..]));
        p
    } else {
        let mut p = rfc6962_path(m - k, &leaves[k..]);
        p.push(rfc6962_root(&leaves[..k]));
        p
    }
}

fn leaf_of(entry: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// Entry `i` of the log vectors' sequence.
pub fn log_entry(i: u64) -> weightseal::log::LogEntry {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    weightseal::log::LogEntry {
        model: format!("org/model-{i}"),
        manifest: weightseal::Digest(*blake3::hash(&pattern(100 + i, i)).as_bytes()),
        version: if i.is_multiple_of(3) { None } else { Some(i) },
        attestations: if i.is_multiple_of(2) {
            vec![]
        } else {
            vec![format!("{{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{{\"keyid\":\"\",\"sig\":\"{}\"}}]}}", b64.encode([i as u8; 64]))]
        },
    }
}

fn log_vectors(v: &mut Vectors) {
    use base64::Engine as _;
    use weightseal::attest::PrivateKey;
    use weightseal::log::keys::{LogSigner, ALG_COSIGNATURE_V1};
    use weightseal::log::{LogEntry, TlogProof};
    let b64 = base64::engine::general_purpose::STANDARD;
    let entry = log_entry;
    // Entries: their bytes and leaf hashes.
    let mut cases: Vec<(String, String, LogEntry)> = vec![
        ("entry-plain".into(), "No attestation, version none.".into(), entry(0)),
        ("entry-attested".into(), "One attestation, version 1.".into(), entry(1)),
        (
            "entry-non-ascii-name".into(),
            "A model name with non-ASCII letters, a quote and a backslash: JSON-escaped only where RFC 8259 requires.".into(),
            LogEntry { model: "org/mod\u{e8}le-\u{65e5}\"q\\".into(), ..entry(2) },
        ),
        (
            "entry-control-characters-name".into(),
            "A model name no manifest can have (U+0001, tab, newline, U+001F, U+007F): entries do not apply the manifest name rule; the escapes are \\u0001, \\t, \\n, \\u001f, and U+007F is written raw.".into(),
            LogEntry { model: "org/m\u{1}\t\n\u{1f}\u{7f}".into(), ..entry(0) },
        ),
        (
            "entry-version-max".into(),
            "The largest version, 2^64-1.".into(),
            LogEntry { version: Some(u64::MAX), ..entry(0) },
        ),
        (
            "entry-empty-attestation".into(),
            "An attestation whose value is empty: the rules of Entry do not look inside an attestation (a log refuses this entry: bad-submit-empty-attestation).".into(),
            LogEntry { attestations: vec![String::new()], ..entry(0) },
        ),
    ];
    for (name, what, e) in cases.drain(..) {
        let bytes = e.encode();
        let mut s = format!(
            "# {what}\nkind: entry\nexpect: success\nmodel: {}\nmanifest: {}\nversion: {}\n",
            serde_json::to_string(&e.model).unwrap(),
            e.manifest,
            e.version.map(|x| x.to_string()).unwrap_or("none".into())
        );
        for a in &e.attestations {
            s.push_str(&format!("attestation: {a}\n"));
        }
        s.push_str(&format!(
            "entry: {}\nleaf-hash: {}\n",
            hex(&bytes),
            hex(&leaf_of(&bytes))
        ));
        v.insert(format!("log/{name}.txt"), s);
    }
    let good = String::from_utf8(entry(1).encode()).unwrap();
    let plain = String::from_utf8(entry(0).encode()).unwrap();
    for (name, what, text) in [
        (
            "bad-entry-version-2-64",
            "The version 2^64, one more than the largest.",
            good.replace("version 1\n", "version 18446744073709551616\n"),
        ),
        (
            "bad-entry-attestation-url-safe",
            "An attestation in the URL-safe base64 alphabet (Pz8_ for \"???\"): entries use the standard one.",
            format!("{plain}attestation Pz8_\n"),
        ),
        (
            "bad-entry-attestation-trailing-bits",
            "An attestation whose last base64 character has non-zero unused bits (YR== for \"a\").",
            format!("{plain}attestation YR==\n"),
        ),
        (
            "bad-entry-attestation-no-padding",
            "An attestation without its base64 padding (YQ for \"a\").",
            format!("{plain}attestation YQ\n"),
        ),
        (
            "bad-entry-attestation-not-utf8",
            "An attestation whose bytes are not UTF-8 (the byte ff).",
            format!("{plain}attestation /w==\n"),
        ),
        (
            "bad-entry-escaping",
            "The model name escaped otherwise (\\u002f for /): one encoding only.",
            good.replace("org/model-1", "org\\u002fmodel-1"),
        ),
        (
            "bad-entry-version-zeros",
            "A version with a leading zero.",
            good.replace("version 1\n", "version 01\n"),
        ),
        (
            "bad-entry-uppercase-digest",
            "The manifest digest in uppercase hex.",
            good.replacen(
                &entry(1).manifest.to_hex(),
                &entry(1).manifest.to_hex().to_uppercase(),
                1,
            ),
        ),
        (
            "bad-entry-no-newline",
            "The last line without its newline.",
            good.trim_end().to_string(),
        ),
        (
            "bad-entry-header",
            "Another first line.",
            good.replace("log-entry/v1", "log-entry/v2"),
        ),
        (
            "bad-entry-order",
            "The version line before the manifest line.",
            {
                let l: Vec<&str> = good.lines().collect();
                format!("{}\n{}\n{}\n{}\n{}\n", l[0], l[1], l[3], l[2], l[4])
            },
        ),
    ] {
        v.insert(
            format!("log/{name}.txt"),
            format!(
                "# {what}\nkind: entry\nexpect: entry invalid\nentry: {}\n",
                hex(text.as_bytes())
            ),
        );
    }
    // Submissions (spec/log.md, "Submission API"): what a log admits, rules 1-3.
    {
        use weightseal::attest::dsse::Envelope;
        use weightseal::attest::statement::{Predicate, Statement};
        let key = PrivateKey::from_seed(&[0x5b; 32]);
        let manifest = entry(1).manifest;
        let pred = |role: &str, version: Option<u64>| Predicate {
            role: role.into(),
            signer: format!("{role} signer"),
            issued_at: "2026-05-01T00:00:00Z".into(),
            expires_at: None,
            version,
            derived_from: vec![],
            annotations: Default::default(),
            derivation: None,
        };
        let att = |model: &str, digest: weightseal::Digest, role: &str, version: Option<u64>| {
            Envelope::sign(
                &Statement::new(model, digest, pred(role, version)).to_bytes(),
                &key,
            )
            .to_line()
        };
        let sub = |version: Option<u64>, attestations: Vec<String>| LogEntry {
            model: "org/model-1".into(),
            manifest,
            version,
            attestations,
        };
        let other = weightseal::Digest([0x77; 32]);
        let not_statement =
            Envelope::sign(b"{\"_type\":\"https://in-toto.io/Statement/v1\"}", &key).to_line();
        let env = |model: &str, role: &str, version: Option<u64>| {
            Envelope::sign(
                &Statement::new(model, manifest, pred(role, version)).to_bytes(),
                &key,
            )
        };
        // A publisher attestation stating 3 whose signature no longer verifies.
        let bad_sig = {
            let mut e = env("org/model-1", "publisher", Some(3));
            let mut raw = b64.decode(&e.signatures[0].sig).unwrap();
            raw[0] ^= 1;
            e.signatures[0].sig = b64.encode(raw);
            e.to_line()
        };
        // A publisher attestation stating 3 whose payload is written in the URL-safe alphabet
        // (the signer "???" puts a '?' at the third byte of some 3-byte group, so the standard
        // alphabet's text has a '/').
        let url_safe = {
            let mut p = pred("publisher", Some(3));
            p.signer = "publisher signer ???".into();
            let mut e =
                Envelope::sign(&Statement::new("org/model-1", manifest, p).to_bytes(), &key);
            assert!(e.payload.contains(['+', '/']));
            e.payload = e.payload.replace('+', "-").replace('/', "_");
            e.to_line()
        };
        let text_plain = {
            let mut e = env("org/model-1", "publisher", Some(3));
            e.payload_type = "text/plain".into();
            e.to_line()
        };
        let unsigned = {
            let mut e = env("org/model-1", "publisher", Some(3));
            e.signatures.clear();
            e.to_line()
        };
        for (name, what, e, versions, expect) in [
            (
                "submit-one-publisher",
                "One publisher attestation stating version 3: the version line is 3.",
                sub(Some(3), vec![att("org/model-1", manifest, "publisher", Some(3))]),
                "3",
                None,
            ),
            (
                "submit-lowest-publisher-version",
                "Publisher attestations stating 5 and 3, an auditor's stating 1: the line is the lowest publisher version, 3; the versions stated are 3 and 5.",
                sub(
                    Some(3),
                    vec![
                        att("org/model-1", manifest, "publisher", Some(5)),
                        att("org/model-1", manifest, "auditor", Some(1)),
                        att("org/model-1", manifest, "publisher", Some(3)),
                    ],
                ),
                "3 5",
                None,
            ),
            (
                "submit-no-version",
                "A publisher attestation stating no version: the line is none.",
                sub(None, vec![att("org/model-1", manifest, "publisher", None)]),
                "none",
                None,
            ),
            (
                "submit-signature-not-checked",
                "A publisher attestation stating 3 whose signature does not verify: a log does not check signatures (it has no policy), so the line is 3.",
                sub(Some(3), vec![bad_sig.clone()]),
                "3",
                None,
            ),
            (
                "submit-url-safe-payload",
                "A publisher attestation stating 3 whose payload is in the URL-safe base64 alphabet, which readers accept (spec/attestation.md, \"Envelope\").",
                sub(Some(3), vec![url_safe.clone()]),
                "3",
                None,
            ),
            (
                "submit-name-not-a-manifest-name",
                "A model name with a control character and no attestation: a log does not apply the manifest name rule.",
                LogEntry { model: "org/m\u{1}".into(), manifest, version: None, attestations: vec![] },
                "none",
                None,
            ),
            (
                "bad-submit-empty-attestation",
                "An attestation whose value is empty.",
                sub(None, vec![String::new()]),
                "invalid",
                Some("attestation 1 is not one envelope line"),
            ),
            (
                "bad-submit-payload-type",
                "An envelope whose payloadType is text/plain.",
                sub(Some(3), vec![text_plain.clone()]),
                "invalid",
                Some("attestation 1: its payloadType is not application/vnd.in-toto+json"),
            ),
            (
                "bad-submit-no-signatures",
                "An envelope with no signature.",
                sub(Some(3), vec![unsigned.clone()]),
                "invalid",
                Some("attestation 1: it has no signature"),
            ),
            (
                "bad-submit-version-line",
                "The version line says 4; the publisher attestation states 3.",
                sub(Some(4), vec![att("org/model-1", manifest, "publisher", Some(3))]),
                "3",
                Some("its version line says 4, its publisher attestations state 3"),
            ),
            (
                "bad-submit-version-none",
                "The version line says none; the publisher attestation states 3.",
                sub(None, vec![att("org/model-1", manifest, "publisher", Some(3))]),
                "3",
                Some("its version line says none, its publisher attestations state 3"),
            ),
            (
                "bad-submit-not-envelope",
                "An attestation line that is not a DSSE envelope.",
                sub(None, vec!["{\"payload\":1}".into()]),
                "invalid",
                Some("attestation 1 is not a DSSE envelope"),
            ),
            (
                "bad-submit-not-statement",
                "An envelope whose payload is not a weightseal statement.",
                sub(None, vec![not_statement]),
                "invalid",
                Some("attestation 1: not a weightseal statement"),
            ),
            (
                "bad-submit-other-model",
                "An attestation about another model name.",
                sub(Some(3), vec![att("org/model-2", manifest, "publisher", Some(3))]),
                "invalid",
                Some("attestation 1 is about \"org/model-2\""),
            ),
            (
                "bad-submit-other-manifest",
                "An attestation about another manifest.",
                sub(Some(3), vec![att("org/model-1", other, "publisher", Some(3))]),
                "invalid",
                Some("attestation 1 is about \"org/model-1\" (manifest 7777"),
            ),
        ] {
            let mut s = format!(
                "# {what}\nkind: submission\nexpect: {}\nstated-versions: {versions}\n",
                if expect.is_some() { "submission refused" } else { "success" }
            );
            if let Some(why) = expect {
                s.push_str(&format!("error: {why}\n"));
            }
            s.push_str(&format!("entry: {}\n", hex(&e.encode())));
            v.insert(format!("log/{name}.txt"), s);
        }
        // Releases (spec/log.md, "Entry"): a bundle and a manifest (its model name and digest)
        // to the entry a writer makes. Each case gives the bundle's lines (with their line
        // endings), the numbers of the lines kept, verbatim, and the version.
        let other_key = PrivateKey::from_seed(&[0x6c; 32]);
        let by_other = |role: &str, version: Option<u64>| {
            Envelope::sign(
                &Statement::new("org/model-1", manifest, pred(role, version)).to_bytes(),
                &other_key,
            )
            .to_line()
        };
        let bad_statement = {
            // An unknown member in the predicate makes the statement bad.
            let st = String::from_utf8(
                Statement::new("org/model-1", manifest, pred("publisher", Some(2))).to_bytes(),
            )
            .unwrap()
            .replacen("\"role\":", "\"colour\":\"red\",\"role\":", 1);
            Envelope::sign(st.as_bytes(), &key).to_line()
        };
        let bad_b64 = {
            let mut e = env("org/model-1", "publisher", Some(2));
            e.payload = "!!!!".into();
            e.to_line()
        };
        let spaced = format!("  {}\t", att("org/model-1", manifest, "publisher", Some(6)));
        // The same statement as `att(.., 6)`, its members in another order.
        let reordered = {
            let e = env("org/model-1", "publisher", Some(6));
            format!(
                "{{\"signatures\":[{{\"sig\":\"{}\",\"keyid\":\"{}\"}}],\"payloadType\":\"{}\",\"payload\":\"{}\"}}",
                e.signatures[0].sig, e.signatures[0].keyid, e.payload_type, e.payload
            )
        };
        let p = |v: u64| att("org/model-1", manifest, "publisher", Some(v));
        let lines = |ls: &[&str]| -> Vec<String> { ls.iter().map(|l| format!("{l}\n")).collect() };
        let mut stuffed: Vec<String> = (0..1024).map(|_| "x\n".to_string()).collect();
        stuffed.push(format!("{}\n", p(3)));
        for (name, what, bundle, kept, version) in [
            (
                "release-empty-bundle",
                "No attestation: version none, no attestation line.",
                vec![],
                vec![],
                None,
            ),
            (
                "release-signatures-not-checked",
                "Kept whatever their signatures: a publisher's version 7 (valid), a publisher's version 3 whose signature does not verify, an auditor's version 2 by another key. The version is the lowest a publisher attestation states, 3 (not 7: validity and trust are not asked; not 2: only the role publisher counts, whatever a policy's version_roles).",
                lines(&[&p(7), &bad_sig, &by_other("auditor", Some(2))]),
                vec![1, 2, 3],
                Some(3),
            ),
            (
                "release-left-out",
                "Line 1 (publisher, version 5) is about the release; left out: a blank line, a line that is not JSON, attestations about another manifest and another model name, a payloadType other than in-toto, a payload that is not base64, an envelope with no signature, and a statement with an unknown member.",
                lines(&[
                    &p(5),
                    " \t",
                    "not json",
                    &att("org/model-1", other, "publisher", Some(1)),
                    &att("org/model-2", manifest, "publisher", Some(1)),
                    &text_plain,
                    &bad_b64,
                    &unsigned,
                    &bad_statement,
                ]),
                vec![1],
                Some(5),
            ),
            (
                "release-verbatim",
                "Lines are recorded as they appear, without their line ending: spaces and a tab around the object (the line ends in CRLF), the same envelope with its members in another order, a payload in the URL-safe alphabet, and the first line again (kept twice).",
                vec![
                    format!("{spaced}\r\n"),
                    format!("{reordered}\n"),
                    format!("{url_safe}\n"),
                    format!("{spaced}\n"),
                ],
                vec![1, 2, 3, 4],
                Some(3),
            ),
            (
                "release-line-1025-not-read",
                "1024 lines that are not envelopes, then a publisher attestation stating 3: the 1025th non-blank line is not read (too-many-lines), so the entry has no attestation.",
                stuffed.clone(),
                vec![],
                None,
            ),
        ] {
            let text: String = bundle.concat();
            let parsed = weightseal::attest::bundle::parse(&text);
            let raw: Vec<&str> = text.split('\n').collect();
            let want = LogEntry {
                model: "org/model-1".into(),
                manifest,
                version,
                attestations: kept
                    .iter()
                    .map(|&n: &usize| raw[n - 1].strip_suffix('\r').unwrap_or(raw[n - 1]).to_string())
                    .collect(),
            };
            let got = LogEntry::of_bundle("org/model-1", manifest, &parsed).unwrap();
            assert_eq!(got, want, "{name}");
            let bytes = want.encode();
            let mut s = format!(
                "# {what}\nkind: release\nexpect: success\nmodel: \"org/model-1\"\nmanifest: {manifest}\nbundle: {}\n",
                hex(text.as_bytes())
            );
            s.push_str(&format!(
                "kept: {}\nversion: {}\nentry: {}\nleaf-hash: {}\n",
                if kept.is_empty() { "none".to_string() } else { kept.iter().map(usize::to_string).collect::<Vec<_>>().join(" ") },
                version.map_or("none".to_string(), |v| v.to_string()),
                hex(&bytes),
                hex(&leaf_of(&bytes))
            ));
            v.insert(format!("log/{name}.txt"), s);
        }
    }
    // Trees: roots of 1..=9 and 256, 257 entries (tile boundaries).
    let entries: Vec<Vec<u8>> = (0..257).map(|i| entry(i).encode()).collect();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| leaf_of(e)).collect();
    for n in [0usize, 1, 2, 3, 7, 8, 9, 256, 257] {
        let mut s = format!("# The RFC 6962 root of a log of {n} entries, from their leaf hashes (in log order).\nkind: tree\nexpect: success\nsize: {n}\n");
        for l in &leaves[..n] {
            s.push_str(&format!("leaf: {}\n", hex(l)));
        }
        s.push_str(&format!("root: {}\n", hex(&rfc6962_root(&leaves[..n]))));
        v.insert(format!("log/tree-{n}.txt"), s);
    }
    // Checkpoints, cosignatures and proofs, with fixed keys and a fixed timestamp.
    let log_key = std::sync::Arc::new(PrivateKey::from_seed(&[0x10; 32]));
    let signer = LogSigner::log("example.test/log", log_key.clone()).unwrap();
    let w_key = std::sync::Arc::new(PrivateKey::from_seed(&[0x20; 32]));
    let witness = LogSigner::cosigner("w.example.test", w_key, 1_700_000_000).unwrap();
    let other = LogSigner::log(
        "example.test/log",
        std::sync::Arc::new(PrivateKey::from_seed(&[0x30; 32])),
    )
    .unwrap();
    let size = 9usize;
    let root = rfc6962_root(&leaves[..size]);
    let cp_text = format!("example.test/log\n{size}\n{}\n", b64.encode(root));
    let sign = |signers: &[&dyn signed_note::Signer], text: &str| {
        let mut n = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
        n.add_sigs(signers).unwrap();
        n.to_bytes()
    };
    let cosigned = sign(&[&signer, &witness], &cp_text);
    assert_eq!(witness.verifier().alg, ALG_COSIGNATURE_V1);
    let proof = |index: usize, cp: &[u8], extra: Option<Vec<u8>>| {
        TlogProof {
            extra,
            index: index as u64,
            hashes: rfc6962_path(index, &leaves[..size])
                .into_iter()
                .map(tlog_tiles::Hash)
                .collect(),
            checkpoint: cp.to_vec(),
        }
        .encode()
    };
    // The keys' seeds and the cosigning time, so a second implementation can re-create the
    // checkpoint's signature lines byte for byte (Ed25519 is deterministic).
    let keys = format!(
        "log-seed: {}\nlog-vkey: {}\nwitness-seed: {}\nwitness-vkey: {}\ncosigned-at: 1700000000\n",
        hex(&[0x10; 32]),
        signer.verifier(),
        hex(&[0x20; 32]),
        witness.verifier()
    );
    let head =
        |what: &str, expect: &str| format!("# {what}\nkind: proof\nexpect: {expect}\n{keys}");
    // A signature line appended after the others, by the key of the line `which` (0: the log,
    // 1: the witness) with its last signature byte flipped.
    let with_bad_repeat = |which: usize| {
        let t = String::from_utf8(cosigned.clone()).unwrap();
        let line = t.lines().rev().nth(1 - which).unwrap().to_string();
        let (name, sig) = line.rsplit_once(' ').unwrap();
        let mut raw = b64.decode(sig).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        format!("{t}{name} {}\n", b64.encode(raw)).into_bytes()
    };
    let with_extension = sign(
        &[&signer, &witness],
        &format!(
            "example.test/log\n{size}\n{}\nextension line\n",
            b64.encode(root)
        ),
    );
    let e3 = entry(3);
    let proof_case = |name: &str,
                      what: &str,
                      expect: &str,
                      quorum: usize,
                      model: &str,
                      digest: weightseal::Digest,
                      bytes: Vec<u8>| {
        (
            format!("log/{name}.txt"),
            format!(
                "{}quorum: {quorum}\nmodel: {}\nmanifest: {digest}\nproof: {}\n",
                head(what, expect),
                serde_json::to_string(model).unwrap(),
                b64.encode(bytes)
            ),
        )
    };
    let good_proof = proof(3, &cosigned, Some(entries[3].clone()));
    let mut flipped = rfc6962_path(3, &leaves[..size]);
    flipped[1][0] ^= 1;
    let flipped_proof = TlogProof {
        extra: Some(entries[3].clone()),
        index: 3,
        hashes: flipped.into_iter().map(tlog_tiles::Hash).collect(),
        checkpoint: cosigned.clone(),
    }
    .encode();
    for (k, s) in [
        proof_case(
            "proof-ok",
            "Entry 3 of a tree of 9, its checkpoint signed by the log and cosigned by the witness.",
            "success",
            1,
            &e3.model,
            e3.manifest,
            good_proof.clone(),
        ),
        proof_case(
            "proof-no-witness-required",
            "The same proof with a quorum of 0.",
            "success",
            0,
            &e3.model,
            e3.manifest,
            good_proof.clone(),
        ),
        proof_case(
            "proof-first-and-last",
            "Entry 8, the last of the tree (a proof of one hash).",
            "success",
            1,
            &entry(8).model,
            entry(8).manifest,
            proof(8, &cosigned, Some(entries[8].clone())),
        ),
        proof_case(
            "proof-other-release",
            "A valid proof of entry 3 offered for another release.",
            "proof invalid",
            1,
            &entry(4).model,
            entry(4).manifest,
            good_proof.clone(),
        ),
        proof_case(
            "proof-flipped-hash",
            "One bit flipped in the second proof hash.",
            "proof invalid",
            1,
            &e3.model,
            e3.manifest,
            flipped_proof,
        ),
        proof_case(
            "proof-wrong-index",
            "The proof of entry 3 claiming index 2.",
            "proof invalid",
            1,
            &e3.model,
            e3.manifest,
            String::from_utf8(good_proof.clone())
                .unwrap()
                .replace("index 3\n", "index 2\n")
                .into_bytes(),
        ),
        proof_case(
            "proof-no-cosignature",
            "A checkpoint signed by the log only, with a quorum of 1.",
            "proof invalid",
            1,
            &e3.model,
            e3.manifest,
            proof(3, &sign(&[&signer], &cp_text), Some(entries[3].clone())),
        ),
        proof_case(
            "proof-other-log-key",
            "A checkpoint signed by another key under the log's name.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            proof(3, &sign(&[&other], &cp_text), Some(entries[3].clone())),
        ),
        proof_case(
            "proof-no-entry",
            "A proof without its extra (entry) line.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            proof(3, &cosigned, None),
        ),
        proof_case(
            "proof-index-past-size",
            "Index 9 in a tree of 9.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            String::from_utf8(good_proof.clone())
                .unwrap()
                .replace("index 3\n", "index 9\n")
                .into_bytes(),
        ),
        proof_case(
            "proof-index-leading-zero",
            "An index written 03.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            String::from_utf8(good_proof.clone())
                .unwrap()
                .replace("index 3\n", "index 03\n")
                .into_bytes(),
        ),
        proof_case(
            "proof-bad-header",
            "Another first line.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            String::from_utf8(good_proof.clone())
                .unwrap()
                .replace("tlog-proof@v1", "tlog-proof@v2")
                .into_bytes(),
        ),
        proof_case(
            "proof-extension-line",
            "A checkpoint with an extension line after the root, signed by the log and cosigned by the witness: weightseal checkpoints have none.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            proof(3, &with_extension, Some(entries[3].clone())),
        ),
        proof_case(
            "proof-log-signature-repeated-bad",
            "After the log's valid signature and the witness's cosignature, a second line by the log key (same name and key id) that does not verify.",
            "proof invalid",
            0,
            &e3.model,
            e3.manifest,
            proof(3, &with_bad_repeat(0), Some(entries[3].clone())),
        ),
        proof_case(
            "proof-witness-cosignature-repeated-bad",
            "After the witness's valid cosignature, a second line by the witness key (same name and key id) that does not verify.",
            "proof invalid",
            1,
            &e3.model,
            e3.manifest,
            proof(3, &with_bad_repeat(1), Some(entries[3].clone())),
        ),
        proof_case(
            "proof-tampered-cosignature",
            "The witness's cosignature timestamp changed (its signature no longer verifies).",
            "proof invalid",
            1,
            &e3.model,
            e3.manifest,
            {
                let t = String::from_utf8(good_proof.clone()).unwrap();
                let line = t.lines().last().unwrap().to_string();
                let (name, sig) = line.rsplit_once(' ').unwrap();
                let mut raw = b64.decode(sig).unwrap();
                raw[11] ^= 1;
                t.replace(&line, &format!("{name} {}", b64.encode(raw)))
                    .into_bytes()
            },
        ),
    ] {
        v.insert(k, s);
    }
    // The cosigned checkpoint itself, for a second implementation's note code.
    v.insert(
        "log/checkpoint-cosigned.txt".into(),
        format!(
            "# The checkpoint of the proof vectors: signed-note text, the log's Ed25519 signature, the witness's cosignature/v1 at time 1700000000; re-signing its text with the seeds gives these bytes.\nkind: checkpoint\nexpect: success\n{keys}note: {}\n",
            b64.encode(&cosigned)
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Derivation recipes and row permutations (spec/derive.md)

fn derive_recipe_vectors(v: &mut Vectors) {
    // Recipes: the text, the derived tensors it is applied to, its canonical JSON and digest.
    // The canonical JSON is written here by hand (members sorted, no whitespace), not by the
    // library.
    let ok: &[(&str, &str, &[&str], &str)] = &[
        (
            "recipe-empty",
            "version = 1\n",
            &["b", "a"],
            r#"{"nan":"keep","new_files":[],"tensors":[{"from":"a","name":"a","via":[]},{"from":"b","name":"b","via":[]}],"version":1}"#,
        ),
        (
            "recipe-explicit-from-is-the-default",
            "version = 1\n[[tensor]]\nname = \"a\"\nfrom = \"a\"\n",
            &["b", "a"],
            r#"{"nan":"keep","new_files":[],"tensors":[{"from":"a","name":"a","via":[]},{"from":"b","name":"b","via":[]}],"version":1}"#,
        ),
        (
            "recipe-gguf",
            "version = 1\nnan = \"canonical\"\nnew_files = [\"README.md\", \"LICENSE\", \"README.md\"]\n\n[[tensor]]\nname = \"blk.0.attn_q.weight\"\nfrom = \"model.layers.0.self_attn.q_proj.weight\"\npermute = 32\n\n[[tensor]]\nname = \"blk.0.attn_k.weight\"\nfrom = \"model.layers.0.self_attn.k_proj.weight\"\npermute = 8\nvia = [\"F16\", \"BF16\"]\n",
            &["blk.0.attn_q.weight", "blk.0.attn_k.weight", "output_norm.weight"],
            r#"{"nan":"canonical","new_files":["LICENSE","README.md"],"tensors":[{"from":"model.layers.0.self_attn.k_proj.weight","name":"blk.0.attn_k.weight","permute":8,"via":["F16","BF16"]},{"from":"model.layers.0.self_attn.q_proj.weight","name":"blk.0.attn_q.weight","permute":32,"via":[]},{"from":"output_norm.weight","name":"output_norm.weight","via":[]}],"version":1}"#,
        ),
        (
            "recipe-escapes",
            "version = 1\n[[tensor]]\nname = \"q\\\"uote\\\\d/é\\u0001\\t\"\nfrom = \"x\"\n",
            &["q\"uote\\d/é\u{1}\t"],
            "{\"nan\":\"keep\",\"new_files\":[],\"tensors\":[{\"from\":\"x\",\"name\":\"q\\\"uote\\\\d/é\\u0001\\t\",\"via\":[]}],\"version\":1}",
        ),
    ];
    for (name, text, tensors, canonical) in ok {
        let mut s = format!(
            "# A recipe applied to {} derived tensor(s): its canonical JSON and digest.\nexpect: success\nrecipe: {}\n",
            tensors.len(),
            hex(text.as_bytes())
        );
        for t in *tensors {
            s.push_str(&format!("tensor: {}\n", hex(t.as_bytes())));
        }
        s.push_str(&format!("canonical: {canonical}\n"));
        s.push_str(&format!(
            "digest: {}\n",
            hex(blake3::hash(canonical.as_bytes()).as_bytes())
        ));
        v.insert(format!("derive/{name}.txt"), s);
    }
    let bad: &[(&str, &str, &str)] = &[
        ("bad-recipe-version", "version = 2\n", "recipe-version"),
        ("bad-recipe-no-version", "nan = \"keep\"\n", "recipe-syntax"),
        ("bad-recipe-unknown-member", "version = 1\nextra = 1\n", "recipe-syntax"),
        ("bad-recipe-unknown-tensor-member", "version = 1\n[[tensor]]\nname = \"a\"\nto = \"Q8_0\"\n", "recipe-syntax"),
        ("bad-recipe-nan", "version = 1\nnan = \"quiet\"\n", "recipe-nan"),
        ("bad-recipe-duplicate", "version = 1\n[[tensor]]\nname = \"a\"\n[[tensor]]\nname = \"a\"\nfrom = \"b\"\n", "recipe-duplicate"),
        ("bad-recipe-permute-zero", "version = 1\n[[tensor]]\nname = \"a\"\npermute = 0\n", "recipe-field"),
        ("bad-recipe-permute-huge", "version = 1\n[[tensor]]\nname = \"a\"\npermute = 1048577\n", "recipe-field"),
        ("bad-recipe-via-quant", "version = 1\n[[tensor]]\nname = \"a\"\nvia = [\"Q8_0\"]\n", "recipe-field"),
        ("bad-recipe-via-too-long", "version = 1\n[[tensor]]\nname = \"a\"\nvia = [\"F16\", \"F32\", \"F16\", \"F32\", \"F16\"]\n", "recipe-field"),
        ("bad-recipe-empty-name", "version = 1\n[[tensor]]\nname = \"\"\n", "recipe-field"),
        ("bad-recipe-new-file-path", "version = 1\nnew_files = [\"../x\"]\n", "recipe-new-file"),
    ];
    for (name, text, code) in bad {
        v.insert(
            format!("derive/{name}.txt"),
            format!(
                "# A recipe a reader must refuse.\nexpect: recipe invalid\nrecipe: {}\nerror: {code}\n",
                hex(text.as_bytes())
            ),
        );
    }
    // Row permutations: derived row o comes from base row (head, j, i) where o = (head, i, j),
    // computed here by simulating NumPy's reshape(H, 2, R/H/2).swapaxes(1, 2) on row indices.
    for (rows, heads) in [(2u64, 1u64), (8, 1), (8, 2), (8, 4), (24, 3), (16, 8)] {
        let h2 = rows / heads / 2;
        // Index [a][b][c] of the reshaped (H, 2, h2) array is row a*2*h2 + b*h2 + c; after
        // swapaxes(1, 2) the element at [a][c][b] is that row, laid out in C order.
        let mut order = Vec::new();
        for a in 0..heads {
            for c in 0..h2 {
                for b in 0..2 {
                    order.push(a * 2 * h2 + b * h2 + c);
                }
            }
        }
        v.insert(
            format!("derive/permute-{rows}-rows-{heads}-heads.txt"),
            format!(
                "# llama.cpp's Q/K row permutation: the base row of each derived row, in order.\nexpect: success\nrows: {rows}\nheads: {heads}\norder: {}\n",
                order.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Derive kernel vectors: casts and block quantization (testvectors/README.md, `derive/`).
// The answers come from the library's kernels; `tests/derive_oracle.rs` confirms every one
// with an oracle (gguf-py / NumPy) independently.

/// f32 bits to f32.
fn fb(b: u32) -> f32 {
    f32::from_bits(b)
}

/// A deterministic "weight-like" value: a pattern in [-1, 1], scaled.
fn wv(i: usize, seed: usize, scale: f32) -> f32 {
    let h = (i * 2_654_435_761 + seed * 40_503) % 2001;
    (h as f32 - 1000.0) / 1000.0 * scale
}

fn derive_vectors(v: &mut Vectors) {
    use weightseal::derive::float::{cast, Float, NanRule};
    use weightseal::derive::quant::{quantize, Quant};

    let mut put = |name: String, comment: &str, op: String, input: &[u8], output: &[u8]| {
        let mut s = String::new();
        for line in comment.lines() {
            s.push_str(&format!("# {line}\n"));
        }
        s.push_str(&format!(
            "expect: success\nop: {op}\ninput: {}\noutput: {}\n",
            hex(input),
            hex(output)
        ));
        v.insert(format!("derive/kernel-{name}.txt"), s);
    };

    // Casts. Inputs per source type, as bit patterns (u32 for F32, u16 for F16 and BF16).
    let f32_cases: Vec<(&str, &str, Vec<u32>)> = vec![
        (
            "nan",
            "NaNs: quiet and signaling, both signs, payloads that survive the narrowing \
                 and payloads that do not (F16 keeps 1, BF16 sets the quiet bit)",
            vec![
                0x7fc0_0000,
                0xffc0_0000,
                0x7f80_0001,
                0xff80_0001,
                0x7fa0_0000,
                0xffa1_2345,
                0x7fff_ffff,
                0x7f80_2000,
                0x7f80_1fff,
                0xffbf_e000,
            ],
        ),
        (
            "inf-zero",
            "±inf, ±0, ±1",
            vec![
                0x7f80_0000,
                0xff80_0000,
                0x0000_0000,
                0x8000_0000,
                0x3f80_0000,
                0xbf80_0000,
            ],
        ),
        (
            "subnormal",
            "subnormal results and inputs: F16 subnormals (2^-24, ties at 2^-25 and \
                       3·2^-25), the largest value that rounds to the smallest normal, f32 \
                       subnormals (to 0 in F16, kept or rounded in BF16)",
            vec![
                0x3380_0000,
                0x3300_0000,
                0x3300_0001,
                0x33c0_0000,
                0xb3c0_0000,
                0x387f_ffff,
                0x3870_0000,
                0x0000_0001,
                0x8000_8000,
                0x0000_8001,
                0x007f_ffff,
                0x807f_8000,
            ],
        ),
        (
            "overflow",
            "overflow: 65504 (F16 max), just below 65520, 65520 (to inf), f32 max \
                      (inf in both), the BF16 rounding to inf",
            vec![
                0x477f_e000,
                0x477f_efff,
                0x477f_f000,
                0xc77f_f000,
                0x7f7f_ffff,
                0x7f7f_7fff,
                0x7f7f_8000,
                0xff7f_8000,
            ],
        ),
        (
            "ties",
            "exact ties both ways: even below (down), odd below (up), and just above a tie",
            vec![
                0x3f80_1000,
                0x3f80_3000,
                0x3f80_1001,
                0xbf80_3000,
                0x3f80_8000,
                0x3f81_8000,
                0x3f80_8001,
                0xbf81_8000,
                0x4780_0000,
            ],
        ),
    ];
    let f16_cases: Vec<(&str, &str, Vec<u16>)> = vec![
        (
            "nan",
            "NaNs: quiet and signaling, both signs, payloads",
            vec![
                0x7e00, 0xfe00, 0x7c01, 0xfc01, 0x7d00, 0x7fff, 0xffff, 0x7c80,
            ],
        ),
        (
            "inf-zero",
            "±inf, ±0, ±1, F16 max",
            vec![0x7c00, 0xfc00, 0x0000, 0x8000, 0x3c00, 0xbc00, 0x7bff],
        ),
        (
            "subnormal",
            "F16 subnormals (exact in F32 and BF16 range; rounded to BF16's 8 bits)",
            vec![0x0001, 0x8001, 0x03ff, 0x0200, 0x0155, 0x0400],
        ),
        (
            "ties",
            "F16 values with 3 bits beyond BF16's: ties both ways (0x3c04: even, down; \
                  0x3c0c: up) and not ties",
            vec![0x3c04, 0x3c0c, 0x3c05, 0xbc0c, 0x3c03, 0x7bff],
        ),
    ];
    let bf16_cases: Vec<(&str, &str, Vec<u16>)> = vec![
        (
            "nan",
            "NaNs: quiet and signaling, both signs, payloads (to F16: payload >> 13)",
            vec![0x7fc0, 0xffc0, 0x7f81, 0xff81, 0x7fa0, 0x7fff, 0xffa5],
        ),
        (
            "inf-zero",
            "±inf, ±0, ±1",
            vec![0x7f80, 0xff80, 0x0000, 0x8000, 0x3f80, 0xbf80],
        ),
        (
            "subnormal",
            "BF16 subnormals and tiny normals (to F16: 0); values that become F16 \
                       subnormals (2^-24, a tie at 2^-25)",
            vec![
                0x0001, 0x8001, 0x007f, 0x0080, 0x3380, 0x3300, 0x3340, 0xb3a0,
            ],
        ),
        (
            "overflow",
            "65280 (exact in F16), 65536 and BF16 max (to inf in F16)",
            vec![0x477f, 0x4780, 0x7f7f, 0xc780],
        ),
        (
            "ties",
            "ties in F16's subnormal range (BF16's 8 bits fit F16's 11 elsewhere): \
                  2^-25 (to 0), 1.5·2^-24 (to 2), 2.5·2^-24 (to 2), and just above a tie",
            vec![0x3300, 0x33c0, 0x3420, 0xb3c0, 0x3301],
        ),
    ];
    let rules = [(NanRule::Keep, "keep"), (NanRule::Canonical, "canonical")];
    let pairs = [
        (Float::F32, Float::F16),
        (Float::F32, Float::Bf16),
        (Float::F16, Float::F32),
        (Float::Bf16, Float::F32),
        (Float::F16, Float::Bf16),
        (Float::Bf16, Float::F16),
    ];
    for (from, to) in pairs {
        let cases: Vec<(&str, &str, Vec<u8>)> = match from {
            Float::F32 => f32_cases
                .iter()
                .map(|(n, c, x)| (*n, *c, x.iter().flat_map(|b| b.to_le_bytes()).collect()))
                .collect(),
            Float::F16 => f16_cases
                .iter()
                .map(|(n, c, x)| (*n, *c, x.iter().flat_map(|b| b.to_le_bytes()).collect()))
                .collect(),
            Float::Bf16 => bf16_cases
                .iter()
                .map(|(n, c, x)| (*n, *c, x.iter().flat_map(|b| b.to_le_bytes()).collect()))
                .collect(),
        };
        for (case, comment, input) in cases {
            // Widening has no NaN rule (exact); the canonical rule only changes NaNs.
            for (rule, rname) in rules {
                if rname == "canonical" && (to == Float::F32 || case != "nan") {
                    continue;
                }
                // Widening is exact: no overflow and no ties to show.
                if to == Float::F32 && (case == "overflow" || case == "ties") {
                    continue;
                }
                let mut out = vec![0u8; input.len() / from.size() * to.size()];
                cast(from, to, rule, &input, &mut out);
                let (f, t) = (from.name(), to.name());
                put(
                    format!(
                        "cast-{}-{}-{rname}-{case}",
                        f.to_lowercase(),
                        t.to_lowercase()
                    ),
                    &format!("Cast {f} to {t}, NaN rule {rname}: {comment}."),
                    format!("cast {f} {t} {rname}"),
                    &input,
                    &out,
                );
            }
        }
    }

    // Quantization: one block per scenario.
    for q in Quant::ALL {
        let n = q.block_len();
        // The divisor of the scale (d = max / -half for Q4_0/Q5_0, range / half for Q4_1/Q5_1,
        // amax / 127 for Q8_0, amax for TQ*).
        let half: f32 = match q {
            Quant::Q8_0 => 127.0,
            Quant::Q4_0 => 8.0,
            Quant::Q5_0 => 16.0,
            Quant::Q4_1 => 15.0,
            Quant::Q5_1 => 31.0,
            Quant::Mxfp4 => 4.0,
            Quant::Tq1_0 | Quant::Tq2_0 => 1.0,
        };
        let asym = matches!(q, Quant::Q4_1 | Quant::Q5_1);
        let mut cases: Vec<(&str, String, Vec<f32>)> = Vec::new();
        cases.push((
            "normal",
            "weight-like values (a deterministic pattern in [-0.05, 0.05])".into(),
            (0..n).map(|i| wv(i, 1, 0.05)).collect(),
        ));
        cases.push(("zero", "an all-zero block (+0)".into(), vec![0.0; n]));
        let mut z: Vec<f32> = (0..n)
            .map(|i| if i % 3 == 0 { -0.0 } else { 0.0 })
            .collect();
        z[n - 1] = -0.0;
        cases.push((
            "signed-zeros",
            "zeros of both signs, -0 first and last (the scale's sign; min and max ties)".into(),
            z,
        ));
        // Ties: half-integers on the grid of a power-of-two scale d = 2^-3.
        let d = 0.125f32;
        let ties: Vec<f32> = (0..n)
            .map(|i| {
                if asym {
                    // min = -2d; (x - min) / d + 0.5 lands on .5 + .5
                    if i == 0 {
                        -2.0 * d
                    } else if i == 1 {
                        -2.0 * d + half * d
                    } else {
                        -2.0 * d + ((i % (2 * half as usize)) as f32 / 2.0) * d
                    }
                } else if q == Quant::Mxfp4 {
                    // d = 2^-1 for amax 6 (e = 127): midpoints between e2m1 values
                    let mids = [6.0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -0.25, -5.0];
                    mids[i % mids.len()]
                } else if i == 0 {
                    half * d
                } else {
                    (((i * 7) % (4 * half as usize + 1)) as f32 / 2.0 - half) * d
                }
            })
            .collect();
        cases.push((
            "ties",
            "values that land exactly on .5 after scaling by an exact power-of-two scale \
             (round half away from zero, truncation after + 0.5, MXFP4 error ties: first wins)"
                .into(),
            ties,
        ));
        let mut nan: Vec<f32> = (0..n).map(|i| wv(i, 2, 1.0)).collect();
        nan[3] = fb(0xffa0_2001);
        cases.push((
            "nan",
            "a signaling NaN (negative, payload) early in the block: NumPy's vector part \
             (default NaN for max/min; argmax takes it, sign and payload, quieted)"
                .into(),
            nan,
        ));
        let mut nan_tail: Vec<f32> = (0..n).map(|i| wv(i, 3, 1.0)).collect();
        nan_tail[n - 2] = fb(0x7fa0_4000);
        nan_tail[n - 1] = fb(0xffc0_2000);
        cases.push((
            "nan-tail",
            "two NaNs in the last elements, the reductions' scalar tail: the first is returned \
             as it is (not quieted)"
                .into(),
            nan_tail,
        ));
        let mut inf: Vec<f32> = (0..n).map(|i| wv(i, 4, 1.0)).collect();
        inf[5] = f32::INFINITY;
        inf[9] = f32::NEG_INFINITY;
        cases.push(("inf", "+inf and -inf among finite values".into(), inf));
        cases.push((
            "all-inf",
            "every value +inf (Q4_1/Q5_1: inf - inf is x86's default NaN 0xffc00000)".into(),
            vec![f32::INFINITY; n],
        ));
        for (name, first) in [
            ("max-both-signs-neg-first", -1.0f32),
            ("max-both-signs-pos-first", 1.0),
        ] {
            let mut b: Vec<f32> = (0..n).map(|i| wv(i, 5, 1.0)).collect();
            b[4] = first * 3.0;
            b[11] = -first * 3.0;
            cases.push((
                name,
                format!(
                    "the maximum magnitude 3 with both signs, {} first (the first wins and \
                     gives the scale's sign)",
                    if first < 0.0 { "-3" } else { "+3" }
                ),
                b,
            ));
        }
        // d an f16 subnormal, and d below half the smallest f16 subnormal (to 0).
        for (name, target) in [("scale-subnormal", 1.0e-6f32), ("scale-underflow", 2.0e-8)] {
            let b: Vec<f32> = (0..n)
                .map(|i| {
                    let v = if i == 2 { 1.0 } else { wv(i, 6, 1.0) };
                    let v = if asym && i == 7 { -1.0 } else { v };
                    v * target * half / if asym { 2.0 } else { 1.0 }
                })
                .collect();
            cases.push((
                name,
                format!("values scaled so that the f16 scale is about {target:e}"),
                b,
            ));
        }
        let b: Vec<f32> = (0..n)
            .map(|i| {
                let v = if i == 2 { 1.0 } else { wv(i, 7, 1.0) };
                let v = if asym && i == 7 { -1.0 } else { v };
                v * 65520.0 * half / if asym { 2.0 } else { 1.0 }
            })
            .collect();
        cases.push((
            "scale-overflow",
            "values scaled so that the scale is 65520: f16 inf".into(),
            b,
        ));
        if q == Quant::Mxfp4 {
            for (name, bits, what) in [
                (
                    "below-pow2-rounds-up",
                    0x40ff_ffffu32,
                    "just below 8: f32 log2 rounds to 3",
                ),
                (
                    "below-pow2-exact",
                    0x40ff_fffe,
                    "2 ulps below 8: log2 floor is 2",
                ),
                (
                    "below-pow2-top",
                    0x7f7f_ffff,
                    "f32 max: log2 rounds to 128, e = 253",
                ),
                (
                    "tiny-wraps",
                    0x0000_0100,
                    "2^-141: e = -141 - 2 + 127 wraps to 240",
                ),
            ] {
                let mut b: Vec<f32> = (0..n).map(|i| wv(i, 8, fb(bits) / 2.0)).collect();
                b[6] = fb(bits);
                cases.push((name, format!("the maximum {what}"), b));
            }
        }
        for (case, comment, x) in cases {
            let mut out = vec![0u8; q.block_bytes()];
            quantize(q, &x, &mut out);
            let input: Vec<u8> = x.iter().flat_map(|f| f.to_le_bytes()).collect();
            put(
                format!("quantize-{}-{case}", q.name().to_lowercase()),
                &format!("Quantize one {} block: {comment}.", q.name()),
                format!("quantize {}", q.name()),
                &input,
                &out,
            );
        }
    }
}
