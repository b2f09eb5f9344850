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
        let mut s = format!(
            "# The input with byte {flip} XORed with 0x01 no longer matches this tree;\n\
             # comparing chunk values names bytes {start}..{end}.\n"
        );
        s.push_str("expect: digest mismatch\n");
        s.push_str(&tree_body(cs, len, &t));
        s.push_str(&format!("tamper: {flip}\nrange: {start}..{end}\n"));
        v.insert(format!("tree/cs16k-{name}.txt"), s);
    }
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
