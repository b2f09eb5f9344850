// An independent check of weightseal's transparency log output with Go's own
// golang.org/x/mod/sumdb/note and sumdb/tlog (the code of Go's checksum database):
//
//	go run verify_proof.go LOG_VKEY WITNESS_VKEY PROOF_FILE
//
// It opens the proof's checkpoint with note.Open under the log's verifier key, checks the
// witness's cosignature/v1 line by hand (Ed25519 over "cosignature/v1\ntime T\n" and the
// checkpoint text), and checks the inclusion proof of the entry in the proof's extra line
// with tlog.CheckRecord. Prints "ok <origin> <size> <index>" and exits 0, or exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: verify_proof LOG_VKEY WITNESS_VKEY PROOF")
	}
	logKey, witnessKey, path := os.Args[1], os.Args[2], os.Args[3]
	raw, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	head, cp, ok := strings.Cut(string(raw), "\n\n")
	if !ok {
		fail("no empty line")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		fail("bad header %q", lines[0])
	}
	lines = lines[1:]
	var entry []byte
	if strings.HasPrefix(lines[0], "extra ") {
		entry, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			fail("extra: %v", err)
		}
		lines = lines[1:]
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		fail("index: %v", err)
	}
	var proof tlog.RecordProof
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("hash: %v", err)
		}
		proof = append(proof, h)
	}

	v, err := note.NewVerifier(logKey)
	if err != nil {
		fail("log key: %v", err)
	}
	n, err := note.Open([]byte(cp), note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	text := strings.Split(n.Text, "\n")
	origin := text[0]
	size, err := strconv.ParseInt(text[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	root, err := tlog.ParseHash(text[2])
	if err != nil {
		fail("root: %v", err)
	}

	// The witness's cosignature/v1 line, by hand.
	wname, rest, _ := strings.Cut(witnessKey, "+")
	_, wb64, _ := strings.Cut(rest, "+")
	wraw, err := base64.StdEncoding.DecodeString(wb64)
	if err != nil || len(wraw) != 33 || wraw[0] != 0x04 {
		fail("witness key")
	}
	h := sha256.Sum256(append([]byte(wname+"\n"), wraw...))
	found := false
	for _, s := range n.UnverifiedSigs {
		if s.Name != wname || s.Hash != binary.BigEndian.Uint32(h[:4]) {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || len(sig) != 4+8+64 {
			fail("cosignature encoding")
		}
		ts := binary.BigEndian.Uint64(sig[4:12])
		msg := []byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts) + n.Text)
		if !ed25519.Verify(ed25519.PublicKey(wraw[1:]), msg, sig[12:]) {
			fail("the cosignature does not verify")
		}
		found = true
	}
	if !found {
		fail("no cosignature by %s", wname)
	}

	if entry == nil {
		fail("no entry")
	}
	if !bytes.HasPrefix(entry, []byte("weightseal.dev/log-entry/v1\n")) {
		fail("not a weightseal entry")
	}
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(entry)); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	fmt.Printf("ok %s %d %d\n", origin, size, index)
}
