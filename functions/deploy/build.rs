//! Embeds the committed model bundle (models/store/ensemble/<current>/*) in the binary, so
//! the deploy function ships it and uploads it at deploy (`Custom::ModelBundle`). No
//! committed bundle: an empty list, and the resource answers FAILED saying so.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let store = manifest_dir.join("../../models/store/ensemble");
    let pointer = store.join("current");
    println!("cargo:rerun-if-changed={}", pointer.display());
    let mut out = String::new();
    let version = std::fs::read_to_string(&pointer)
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let mut files = Vec::new();
    if !version.is_empty() {
        let dir = store.join(&version);
        println!("cargo:rerun-if-changed={}", dir.display());
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (the current pointer names it)", dir.display()))
        {
            let path = entry.unwrap().path();
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                files.push((name, path.canonicalize().unwrap()));
            }
        }
        files.sort();
    }
    writeln!(out, "/// The committed bundle's version (empty: none).").unwrap();
    writeln!(out, "pub const VERSION: &str = {version:?};").unwrap();
    writeln!(out, "/// Its files, by name.").unwrap();
    writeln!(out, "pub const FILES: &[(&str, &[u8])] = &[").unwrap();
    for (name, path) in &files {
        writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundle.rs");
    std::fs::write(dest, out).unwrap();
}
