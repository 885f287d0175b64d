//! One file-system interface over HDFS (hdfs-native for data, our own NameNode IPC for
//! block locations) and the local file system, chosen by the path's scheme.
//!
//! Paths are URIs: `hdfs://host:port/a/b`, `file:///a/b`, or a bare `/a/b` meaning the
//! file system's default (HDFS when `fs.defaultFS` is HDFS). Input listing follows
//! Hadoop's `FileInputFormat`: directories are expanded recursively and names starting
//! with `_` or `.` below them (or matched by a glob) are skipped.
//!
//! It does not plan splits or read records (`split`, `lines`); it only moves bytes.

mod cache;
mod hdfs;
mod local;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::CoreError;

pub use cache::FsCache;
pub use hdfs::HdfsFs;
pub use local::LocalFs;

/// HDFS's NameNode RPC port when a URI names none (Hadoop's default).
pub const DEFAULT_NAMENODE_PORT: u16 = 8020;

/// A file (or directory) as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Full URI of the file.
    pub path: String,
    /// Length in bytes.
    pub length: u64,
    /// Directory or not.
    pub is_dir: bool,
    /// Block size (local files: a nominal 32 MiB).
    pub block_size: u64,
    /// Modification time, ms since the epoch.
    pub modification_time: u64,
}

/// One block of a file and the hosts holding it (host names as YARN names nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Offset in the file.
    pub offset: u64,
    /// Length.
    pub length: u64,
    /// Hosts with a replica.
    pub hosts: Vec<String>,
}

/// What the engine needs of a file system.
#[async_trait]
pub trait FileSystem: Send + Sync + std::fmt::Debug {
    /// Status of `path`, or `None` if it does not exist.
    async fn info(&self, path: &str) -> Result<Option<FileInfo>, CoreError>;
    /// The input files named by `path`: the file itself, a directory's files
    /// (recursively, skipping names starting with `_` or `.` as Hadoop does), or a glob's
    /// matches. Errors with [`CoreError::InputMissing`] when nothing matches.
    async fn list_inputs(&self, path: &str) -> Result<Vec<FileInfo>, CoreError>;
    /// Blocks of a file with their hosts (local files: one block per `block_size`, no hosts).
    async fn blocks(&self, file: &FileInfo) -> Result<Vec<Block>, CoreError>;
    /// Reads `[offset, offset + len)`, shorter at the end of the file.
    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, CoreError>;
    /// Writes a whole file (creating parents), replacing nothing: fails if it exists.
    async fn write(&self, path: &str, data: Bytes) -> Result<(), CoreError>;
    /// Creates a file to write in pieces (creating parents), replacing nothing: fails if
    /// it exists. The file is whole only after [`FileWriter::close`].
    async fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, CoreError>;
    /// Creates a directory and its parents.
    async fn mkdirs(&self, path: &str) -> Result<(), CoreError>;
    /// Renames `from` to `to` (fails if `to` exists).
    async fn rename(&self, from: &str, to: &str) -> Result<(), CoreError>;
    /// Deletes recursively; `Ok(false)` if it did not exist.
    async fn delete(&self, path: &str) -> Result<bool, CoreError>;
    /// Lists a directory's direct children.
    async fn list_dir(&self, path: &str) -> Result<Vec<FileInfo>, CoreError>;
}

/// A file being written, a piece at a time (output larger than memory).
#[async_trait]
pub trait FileWriter: Send {
    /// Appends `data`.
    async fn write(&mut self, data: Bytes) -> Result<(), CoreError>;
    /// Finishes the file.
    async fn close(self: Box<Self>) -> Result<(), CoreError>;
    /// Gives up: the file is removed, errors are logged (the caller already has one).
    async fn abort(self: Box<Self>);
}

/// The file system for `uri`: HDFS for `hdfs://` (and for bare paths when
/// `fs.defaultFS` is HDFS), local for `file://` (and bare paths otherwise).
/// `conf` gives `fs.defaultFS`; `user` is the HDFS user (`HADOOP_USER_NAME`).
pub async fn for_uri(
    uri: &str,
    conf: &spindle_conf::HadoopConf,
    user: &str,
) -> Result<std::sync::Arc<dyn FileSystem>, CoreError> {
    match split_uri(uri) {
        Uri::Scheme {
            scheme, authority, ..
        } => match scheme.to_ascii_lowercase().as_str() {
            "hdfs" if authority.is_empty() => hdfs_from_conf(uri, conf, user),
            "hdfs" => Ok(Arc::new(HdfsFs::new(
                &with_default_port(authority),
                user,
                conf,
            )?)),
            "file" => Ok(Arc::new(LocalFs::from_conf(conf))),
            other => Err(unsupported_scheme(uri, other)),
        },
        Uri::Bare(_) => match conf.default_fs() {
            // Hadoop's own default for an unset fs.defaultFS is `file:///`.
            Err(_) => Ok(Arc::new(LocalFs::from_conf(conf))),
            Ok(default) => match split_uri(&default) {
                Uri::Scheme { scheme, .. } if scheme.eq_ignore_ascii_case("hdfs") => {
                    hdfs_from_conf(uri, conf, user)
                }
                Uri::Scheme { scheme, .. } if scheme.eq_ignore_ascii_case("file") => {
                    Ok(Arc::new(LocalFs::from_conf(conf)))
                }
                Uri::Scheme { scheme, .. } => Err(unsupported_scheme(uri, scheme)),
                Uri::Bare(_) => Err(CoreError::Fs {
                    op: "choosing the file system for",
                    path: uri.to_string(),
                    message: format!("fs.defaultFS {default} is not a URI"),
                }),
            },
        },
    }
}

fn hdfs_from_conf(
    uri: &str,
    conf: &spindle_conf::HadoopConf,
    user: &str,
) -> Result<Arc<dyn FileSystem>, CoreError> {
    let addr = conf.namenode_address().map_err(|e| CoreError::Fs {
        op: "choosing the file system for",
        path: uri.to_string(),
        message: e.to_string(),
    })?;
    Ok(Arc::new(HdfsFs::new(&addr, user, conf)?))
}

fn unsupported_scheme(uri: &str, scheme: &str) -> CoreError {
    CoreError::Fs {
        op: "choosing the file system for",
        path: uri.to_string(),
        message: format!("unsupported scheme {scheme}: (only hdfs:// and file://)"),
    }
}

/// A path split into its URI parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uri<'a> {
    /// `scheme:[//authority]path`; `authority` is empty when absent.
    Scheme {
        scheme: &'a str,
        authority: &'a str,
        path: &'a str,
    },
    /// No scheme: a path for the default file system.
    Bare(&'a str),
}

/// Splits `uri` into scheme, authority and path. A scheme is at least two characters
/// (`[A-Za-z][A-Za-z0-9+.-]+`) before a `:`, so a path like `a:b/c` stays bare only when
/// it cannot be a scheme.
pub(crate) fn split_uri(uri: &str) -> Uri<'_> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Uri::Bare(uri);
    };
    let valid = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    if !valid {
        return Uri::Bare(uri);
    }
    match rest.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = match after.find('/') {
                Some(i) => after.split_at(i),
                None => (after, ""),
            };
            Uri::Scheme {
                scheme,
                authority,
                path,
            }
        }
        None => Uri::Scheme {
            scheme,
            authority: "",
            path: rest,
        },
    }
}

/// `host` → `host:8020`; `host:port` unchanged.
pub(crate) fn with_default_port(authority: &str) -> String {
    // A bracketed IPv6 literal has colons of its own.
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{DEFAULT_NAMENODE_PORT}")
    }
}

/// `//a///b/` → `/a/b`: one slash between components, none at the end (but `/` itself).
pub(crate) fn normalize_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    if !path.starts_with('/') {
        out.remove(0);
        if out.is_empty() {
            out.push('.');
        }
    }
    out
}

/// The last component of a path or URI.
pub(crate) fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// Hadoop's `FileInputFormat` hidden-file rule: `_SUCCESS`, `_logs`, `.crc` files, ….
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

/// Whether `path` is a glob pattern (Hadoop's wildcard characters).
pub(crate) fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', '{'])
}

/// How deep [`expand_inputs`] follows directories before calling it a loop.
const MAX_INPUT_DEPTH: usize = 256;

/// The shared part of `list_inputs`: `roots` are what the path named (the file or
/// directory itself, or a glob's non-hidden matches); files stay, directories become
/// their non-hidden files, recursively. Sorted by path, without duplicates.
pub(crate) async fn expand_inputs<F: FileSystem + ?Sized>(
    fs: &F,
    pattern: &str,
    roots: Vec<FileInfo>,
) -> Result<Vec<FileInfo>, CoreError> {
    if roots.is_empty() {
        return Err(CoreError::InputMissing(pattern.to_string()));
    }
    let mut files = Vec::new();
    let mut stack: Vec<(FileInfo, usize)> = roots.into_iter().map(|f| (f, 0)).collect();
    while let Some((info, depth)) = stack.pop() {
        if !info.is_dir {
            files.push(info);
            continue;
        }
        if depth >= MAX_INPUT_DEPTH {
            return Err(CoreError::Fs {
                op: "listing",
                path: info.path,
                message: format!(
                    "directories nested deeper than {MAX_INPUT_DEPTH} (a symbolic link loop?)"
                ),
            });
        }
        for child in fs.list_dir(&info.path).await? {
            // A listed path that is the directory itself would loop forever.
            if child.path != info.path && !is_hidden(base_name(&child.path)) {
                stack.push((child, depth + 1));
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(default_fs: Option<&str>) -> spindle_conf::HadoopConf {
        let mut c = spindle_conf::HadoopConf::default();
        if let Some(d) = default_fs {
            c.set("fs.defaultFS", d);
        }
        c
    }

    #[test]
    fn splits_uris() {
        let table: &[(&str, Uri<'_>)] = &[
            (
                "hdfs://nn:9000/a/b",
                Uri::Scheme {
                    scheme: "hdfs",
                    authority: "nn:9000",
                    path: "/a/b",
                },
            ),
            (
                "hdfs://nn:9000",
                Uri::Scheme {
                    scheme: "hdfs",
                    authority: "nn:9000",
                    path: "",
                },
            ),
            (
                "hdfs:///a",
                Uri::Scheme {
                    scheme: "hdfs",
                    authority: "",
                    path: "/a",
                },
            ),
            (
                "file:///tmp/x",
                Uri::Scheme {
                    scheme: "file",
                    authority: "",
                    path: "/tmp/x",
                },
            ),
            (
                "file:/tmp/x",
                Uri::Scheme {
                    scheme: "file",
                    authority: "",
                    path: "/tmp/x",
                },
            ),
            ("/tmp/x", Uri::Bare("/tmp/x")),
            ("rel/x", Uri::Bare("rel/x")),
            ("/a:b/c", Uri::Bare("/a:b/c")),
            ("c:/x", Uri::Bare("c:/x")),
        ];
        for (uri, want) in table {
            assert_eq!(split_uri(uri), *want, "{uri}");
        }
    }

    #[test]
    fn default_ports_and_slashes() {
        assert_eq!(with_default_port("nn"), "nn:8020");
        assert_eq!(with_default_port("nn:9000"), "nn:9000");
        assert_eq!(with_default_port("[::1]"), "[::1]:8020");
        assert_eq!(with_default_port("[::1]:9000"), "[::1]:9000");
        assert_eq!(normalize_slashes("//a///b/"), "/a/b");
        assert_eq!(normalize_slashes("/"), "/");
        assert_eq!(normalize_slashes(""), ".");
        assert_eq!(normalize_slashes("a//b"), "a/b");
    }

    #[test]
    fn hidden_names_and_globs() {
        assert!(is_hidden("_SUCCESS"));
        assert!(is_hidden(".part-0.crc"));
        assert!(!is_hidden("part-00000"));
        assert_eq!(base_name("hdfs://nn:1/a/_b"), "_b");
        assert_eq!(base_name("/a/b/"), "b");
        for g in ["/a/*", "/a/?", "/a/[ab]", "/a/{b,c}"] {
            assert!(has_glob(g), "{g}");
        }
        assert!(!has_glob("/a/b.txt"));
    }

    #[tokio::test]
    async fn chooses_by_scheme_and_default_fs() {
        let hdfs = conf(Some("hdfs://127.0.0.1:9000"));
        let local = conf(Some("file:///"));
        let none = conf(None);
        let name = |fs: Arc<dyn FileSystem>| format!("{fs:?}");

        let fs = for_uri("/data/in", &hdfs, "alice")
            .await
            .expect("bare on hdfs");
        assert!(name(fs).contains("HdfsFs"));
        let fs = for_uri("hdfs://other:9001/x", &local, "alice")
            .await
            .expect("explicit hdfs");
        assert!(name(fs).contains("other:9001"));
        let fs = for_uri("hdfs://other/x", &local, "alice")
            .await
            .expect("hdfs without port");
        assert!(name(fs).contains("other:8020"));
        for (uri, c) in [
            ("/data/in", &local),
            ("/data/in", &none),
            ("file:///data/in", &hdfs),
        ] {
            let fs = for_uri(uri, c, "alice").await.expect("local");
            assert!(name(fs).contains("LocalFs"), "{uri}");
        }
        let err = for_uri("s3a://bucket/x", &hdfs, "alice")
            .await
            .expect_err("s3a");
        assert!(err.to_string().contains("unsupported scheme s3a"), "{err}");
        let err = for_uri("hdfs:///x", &none, "alice")
            .await
            .expect_err("no default NameNode");
        assert!(err.to_string().contains("fs.defaultFS"), "{err}");
    }
}
