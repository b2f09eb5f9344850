//! The `weightseal` binary: parses arguments, calls the library, renders, picks the exit code
//! (0 verified, 1 not verified, 2 usage or I/O error).
#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::run());
}
