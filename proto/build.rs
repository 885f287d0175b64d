//! Regenerates the checked-in Rust code in `src/generated/` from the `.proto` files in
//! `hadoop/` and `spindle/`, only when the `regenerate` feature is on:
//!
//!     cargo build -p spindle-proto --features regenerate
//!
//! The `.proto` files are compiled by `protox` (pure Rust), so no system `protoc` is
//! needed. A default build compiles neither `protox` nor `prost-build` and runs nothing
//! here, so the generated files are only ever changed on purpose (commit them).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "regenerate")]
    regenerate::run();
}

#[cfg(feature = "regenerate")]
mod regenerate {
    use std::path::{Path, PathBuf};

    /// Folders holding the `.proto` files. Each is also an include root, so imports
    /// read as in Hadoop's own files (`import "Security.proto";`).
    const PROTO_DIRS: [&str; 4] = ["hadoop/common", "hadoop/yarn", "hadoop/hdfs", "spindle"];

    pub(crate) fn run() {
        let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let includes: Vec<PathBuf> = PROTO_DIRS.iter().map(|d| root.join(d)).collect();
        let mut files = Vec::new();
        for dir in &includes {
            println!("cargo:rerun-if-changed={}", dir.display());
            collect_protos(dir, &mut files);
        }
        files.sort();

        let fds = protox::compile(&files, &includes).unwrap_or_else(|e| panic!("protox: {e:?}"));

        let out = root.join("src").join("generated");
        std::fs::create_dir_all(&out).expect("create src/generated");
        // Drop stale outputs of packages that no longer exist.
        for entry in std::fs::read_dir(&out).expect("read src/generated") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                std::fs::remove_file(&path).expect("remove stale generated file");
            }
        }
        prost_build::Config::new()
            .out_dir(&out)
            .compile_fds(fds)
            .expect("prost-build");
    }

    fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read proto dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                collect_protos(&path, files);
            } else if path.extension().is_some_and(|e| e == "proto") {
                files.push(path);
            }
        }
    }
}
