//! The local file system (`file://` URIs and bare paths when `fs.defaultFS` is local),
//! through `std::fs` on tokio's blocking pool. Used in local mode and in tests.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Block, FileInfo, FileSystem, FileWriter, Uri, expand_inputs, has_glob, is_hidden, split_uri,
};
use crate::error::CoreError;

/// The nominal block size of local files (Hadoop's `fs.local.block.size` default).
pub const DEFAULT_LOCAL_BLOCK_SIZE: u64 = 32 * 1024 * 1024;

/// Caps how many patterns one glob's `{a,b}` groups may expand to.
const MAX_BRACE_EXPANSIONS: usize = 4096;

/// The local file system.
#[derive(Debug, Clone)]
pub struct LocalFs {
    block_size: u64,
}

impl Default for LocalFs {
    fn default() -> Self {
        LocalFs::new(DEFAULT_LOCAL_BLOCK_SIZE)
    }
}

impl LocalFs {
    /// A local file system whose files report `block_size` (0 means the default).
    pub fn new(block_size: u64) -> Self {
        LocalFs {
            block_size: if block_size == 0 {
                DEFAULT_LOCAL_BLOCK_SIZE
            } else {
                block_size
            },
        }
    }

    /// Takes the nominal block size from `fs.local.block.size`, as Hadoop does.
    pub fn from_conf(conf: &spindle_conf::HadoopConf) -> Self {
        let size = conf
            .get("fs.local.block.size")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_LOCAL_BLOCK_SIZE);
        LocalFs::new(size)
    }

    /// The nominal block size of its files.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// The absolute local path of `uri` (`file:///a`, `file:/a`, `file://localhost/a`, a
    /// bare path; relative paths are taken from the current directory).
    pub fn local_path(uri: &str) -> Result<PathBuf, CoreError> {
        let path = match split_uri(uri) {
            Uri::Bare(p) => p,
            Uri::Scheme {
                scheme,
                authority,
                path,
            } if scheme.eq_ignore_ascii_case("file")
                && (authority.is_empty() || authority.eq_ignore_ascii_case("localhost")) =>
            {
                if path.is_empty() { "/" } else { path }
            }
            Uri::Scheme { .. } => {
                return Err(CoreError::Fs {
                    op: "resolving",
                    path: uri.to_string(),
                    message: "not a local path (expected file:///… or a bare path)".into(),
                });
            }
        };
        if path.is_empty() {
            return Err(CoreError::Fs {
                op: "resolving",
                path: uri.to_string(),
                message: "empty path".into(),
            });
        }
        // `components()` drops `.`, repeated and trailing slashes, so listed paths compare.
        std::path::absolute(path)
            .map(|p| p.components().collect())
            .map_err(|e| fs_err("resolving", uri, &e))
    }

    fn info_of(&self, path: &Path, meta: &std::fs::Metadata) -> FileInfo {
        FileInfo {
            path: file_uri(path),
            length: if meta.is_dir() { 0 } else { meta.len() },
            is_dir: meta.is_dir(),
            block_size: self.block_size,
            modification_time: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or_default(),
        }
    }

    fn info_blocking(&self, path: &Path) -> std::io::Result<Option<FileInfo>> {
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(self.info_of(path, &meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list_dir_blocking(&self, path: &Path) -> std::io::Result<Vec<FileInfo>> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_dir() {
            // Hadoop lists a file as itself.
            return Ok(vec![self.info_of(path, &meta)]);
        }
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let child = entry?.path();
            match std::fs::metadata(&child) {
                Ok(meta) => out.push(self.info_of(&child, &meta)),
                // A dangling symbolic link, or a file deleted while listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The non-hidden paths matching a Hadoop glob (`*`, `?`, `[ab]`, `[^ab]`, `{a,b}`,
    /// `\` escapes), `*` and `?` never crossing a `/`.
    fn glob_blocking(&self, pattern: &Path) -> Result<Vec<FileInfo>, CoreError> {
        let shown = pattern.to_string_lossy().into_owned();
        let bad = |message: String| CoreError::Fs {
            op: "matching",
            path: shown.clone(),
            message,
        };
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let mut out = Vec::new();
        for expanded in expand_braces(&shown).map_err(bad)? {
            let translated = to_glob_crate_syntax(&expanded);
            let paths =
                glob::glob_with(&translated, options).map_err(|e| bad(format!("bad glob: {e}")))?;
            for path in paths {
                let path = path.map_err(|e| fs_err("matching", &shown, e.error()))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if is_hidden(&name) {
                    continue;
                }
                if let Some(info) = self
                    .info_blocking(&path)
                    .map_err(|e| fs_err("matching", &shown, &e))?
                {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl FileSystem for LocalFs {
    async fn info(&self, path: &str) -> Result<Option<FileInfo>, CoreError> {
        let p = LocalFs::local_path(path)?;
        let this = self.clone();
        blocking("getting the status of", path, move || {
            this.info_blocking(&p)
        })
        .await
    }

    async fn list_inputs(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
        let p = LocalFs::local_path(path)?;
        let roots = if has_glob(path) {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.glob_blocking(&p))
                .await
                .map_err(|e| CoreError::Fs {
                    op: "matching",
                    path: path.to_string(),
                    message: e.to_string(),
                })??
        } else {
            self.info(path).await?.into_iter().collect()
        };
        expand_inputs(self, path, roots).await
    }

    async fn blocks(&self, file: &FileInfo) -> Result<Vec<Block>, CoreError> {
        let size = if file.block_size == 0 {
            self.block_size
        } else {
            file.block_size
        };
        let mut blocks = Vec::new();
        let mut offset = 0;
        while offset < file.length {
            let length = size.min(file.length - offset);
            blocks.push(Block {
                offset,
                length,
                hosts: Vec::new(),
            });
            offset += length;
        }
        Ok(blocks)
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, CoreError> {
        let p = LocalFs::local_path(path)?;
        blocking("reading", path, move || {
            let mut file = std::fs::File::open(&p)?;
            let file_len = file.metadata()?.len();
            if offset >= file_len || len == 0 {
                return Ok(Bytes::new());
            }
            let want = len.min(file_len - offset);
            file.seek(SeekFrom::Start(offset))?;
            let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
            file.take(want).read_to_end(&mut buf)?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<(), CoreError> {
        let p = LocalFs::local_path(path)?;
        blocking("writing", path, move || {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)?;
            let written = file.write_all(&data).and_then(|()| file.sync_all());
            if let Err(e) = written {
                // Leave no partial file behind: it was ours (create_new).
                let _ = std::fs::remove_file(&p);
                return Err(e);
            }
            Ok(())
        })
        .await
    }

    async fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, CoreError> {
        let p = LocalFs::local_path(path)?;
        let shown = path.to_string();
        let file = blocking("creating", path, {
            let p = p.clone();
            move || {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&p)
            }
        })
        .await?;
        Ok(Box::new(LocalWriter {
            file: Some(file),
            path: p,
            shown,
        }))
    }

    async fn mkdirs(&self, path: &str) -> Result<(), CoreError> {
        let p = LocalFs::local_path(path)?;
        blocking("creating directory", path, move || {
            std::fs::create_dir_all(&p)
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), CoreError> {
        let src = LocalFs::local_path(from)?;
        let dst = LocalFs::local_path(to)?;
        let shown = format!("{from} to {to}");
        blocking("renaming", &shown, move || {
            // std has no rename-without-replace; the check leaves a small race that
            // HDFS's rename2 does not have.
            if std::fs::symlink_metadata(&dst).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("destination {} already exists", dst.display()),
                ));
            }
            std::fs::rename(&src, &dst)
        })
        .await
    }

    async fn delete(&self, path: &str) -> Result<bool, CoreError> {
        let p = LocalFs::local_path(path)?;
        blocking("deleting", path, move || {
            let meta = match std::fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
            Ok(true)
        })
        .await
    }

    async fn list_dir(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
        let p = LocalFs::local_path(path)?;
        let this = self.clone();
        blocking("listing", path, move || this.list_dir_blocking(&p)).await
    }
}

/// `file:///abs/path` for an absolute local path.
fn file_uri(path: &Path) -> String {
    format!("file://{}", path.to_string_lossy())
}

fn fs_err(op: &'static str, path: &str, e: &std::io::Error) -> CoreError {
    CoreError::Fs {
        op,
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// A local file being written; removed again if the write fails or is aborted.
struct LocalWriter {
    file: Option<std::fs::File>,
    path: PathBuf,
    shown: String,
}

impl LocalWriter {
    /// Runs `f` on the file off the runtime, giving the file back afterwards.
    async fn with_file<T: Send + 'static>(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&mut std::fs::File) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, CoreError> {
        let mut file = self.file.take().ok_or_else(|| CoreError::Fs {
            op,
            path: self.shown.clone(),
            message: "the file was lost by an earlier failed write".into(),
        })?;
        let (file, out) = blocking(op, &self.shown, move || {
            let out = f(&mut file);
            Ok((file, out))
        })
        .await?;
        self.file = Some(file);
        out.map_err(|e| fs_err(op, &self.shown, &e))
    }
}

#[async_trait]
impl FileWriter for LocalWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), CoreError> {
        let written = self.with_file("writing", move |f| f.write_all(&data)).await;
        if written.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        written
    }

    async fn close(mut self: Box<Self>) -> Result<(), CoreError> {
        let synced = self.with_file("writing", |f| f.sync_all()).await;
        if synced.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        synced
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs blocking file I/O off the runtime's worker threads.
async fn blocking<T, F>(op: &'static str, path: &str, f: F) -> Result<T, CoreError>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fs_err(op, path, &e)),
        Err(e) => Err(CoreError::Fs {
            op,
            path: path.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Expands Hadoop's `{a,b}` groups (nested too) into plain globs, as its `GlobExpander`
/// does; `\{`, `\}` and `\,` stay literal.
pub(crate) fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut todo = vec![pattern.to_string()];
    while let Some(p) = todo.pop() {
        match first_brace_group(&p)? {
            None => done.push(p),
            Some((open, close)) => {
                let (prefix, suffix) = (&p[..open], &p[close + 1..]);
                for alt in split_alternatives(&p[open + 1..close]) {
                    todo.push(format!("{prefix}{alt}{suffix}"));
                }
            }
        }
        if done.len() + todo.len() > MAX_BRACE_EXPANSIONS {
            return Err(format!(
                "glob expands to more than {MAX_BRACE_EXPANSIONS} patterns"
            ));
        }
    }
    done.reverse();
    Ok(done)
}

/// Byte positions of the first top-level `{` and its matching `}`.
fn first_brace_group(p: &str) -> Result<Option<(usize, usize)>, String> {
    let bytes = p.as_bytes();
    let (mut depth, mut open, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                if depth == 0 {
                    open = i;
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some((open, i)));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err(format!("unclosed {{ in glob {p}"));
    }
    Ok(None)
}

/// Splits the inside of a `{…}` group on its top-level commas.
fn split_alternatives(inner: &str) -> Vec<&str> {
    let bytes = inner.as_bytes();
    let (mut out, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&inner[start.min(inner.len())..]);
    out
}

/// Hadoop glob syntax (after brace expansion) → the `glob` crate's: `[^…]` → `[!…]`,
/// `\c` → `[c]` for its special characters, other escapes → the character.
fn to_glob_crate_syntax(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '?' | '[' | ']')) => {
                    out.push('[');
                    out.push(e);
                    out.push(']');
                }
                Some(e) => out.push(e),
                None => out.push('\\'),
            },
            '[' => {
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('!');
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str, data: &[u8]) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write");
    }

    fn names(files: &[FileInfo], root: &Path) -> Vec<String> {
        let prefix = file_uri(root);
        files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(&prefix)
                    .expect("under root")
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect()
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(d, "in/a.txt", b"aaa");
        touch(d, "in/b.log", b"bb");
        touch(d, "in/sub/c.txt", b"c");
        touch(d, "in/_SUCCESS", b"");
        touch(d, "in/.a.txt.crc", b"x");
        touch(d, "in/_temporary/d.txt", b"d");
        touch(d, "in/.hidden/e.txt", b"e");
        touch(d, "other/f.txt", b"ffff");
        dir
    }

    #[test]
    fn local_paths() {
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(
            LocalFs::local_path("/a/b").expect("bare"),
            Path::new("/a/b")
        );
        assert_eq!(
            LocalFs::local_path("file:///a/b").expect("file"),
            Path::new("/a/b")
        );
        assert_eq!(
            LocalFs::local_path("file:/a/b").expect("hadoop file"),
            Path::new("/a/b")
        );
        assert_eq!(
            LocalFs::local_path("file://localhost/a").expect("localhost"),
            Path::new("/a")
        );
        assert_eq!(
            LocalFs::local_path("rel/x").expect("relative"),
            cwd.join("rel/x")
        );
        for bad in ["hdfs://nn:1/a", "file://otherhost/a", ""] {
            assert!(LocalFs::local_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn braces_and_translation() {
        let table: &[(&str, &[&str])] = &[
            ("/a/b", &["/a/b"]),
            ("/a/{b,c}", &["/a/b", "/a/c"]),
            ("/a/{b,c}/{d,e}", &["/a/b/d", "/a/b/e", "/a/c/d", "/a/c/e"]),
            ("/a/{b,c{d,e}}", &["/a/b", "/a/cd", "/a/ce"]),
            ("/a/{b,}x", &["/a/bx", "/a/x"]),
            ("/a/\\{b,c\\}", &["/a/\\{b,c\\}"]),
            ("/{x/y,z}", &["/x/y", "/z"]),
        ];
        for (p, want) in table {
            assert_eq!(expand_braces(p).expect("expands"), *want, "{p}");
        }
        assert!(expand_braces("/a/{b").is_err());
        assert!(expand_braces(&"{a,b}".repeat(13)).is_err());
        assert_eq!(to_glob_crate_syntax("/a/[^x]*"), "/a/[!x]*");
        assert_eq!(to_glob_crate_syntax("/a/\\*\\{"), "/a/[*]{");
    }

    #[tokio::test]
    async fn info_read_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = LocalFs::new(4);
        let path = format!("file://{}/x/y/data.bin", dir.path().display());
        assert_eq!(fs.info(&path).await.expect("info"), None);
        fs.write(&path, Bytes::from_static(b"0123456789"))
            .await
            .expect("write");
        let info = fs.info(&path).await.expect("info").expect("exists");
        assert_eq!(info.path, path);
        assert_eq!((info.length, info.is_dir, info.block_size), (10, false, 4));
        assert!(info.modification_time > 0);
        let err = fs
            .write(&path, Bytes::from_static(b"again"))
            .await
            .expect_err("no overwrite");
        assert!(matches!(err, CoreError::Fs { op: "writing", .. }), "{err}");
        assert_eq!(
            fs.read_range(&path, 0, 100).await.expect("all"),
            "0123456789"
        );
        assert_eq!(fs.read_range(&path, 3, 4).await.expect("mid"), "3456");
        assert_eq!(fs.read_range(&path, 8, 4).await.expect("tail"), "89");
        assert!(fs.read_range(&path, 10, 4).await.expect("eof").is_empty());
        assert!(fs.read_range(&path, 99, 4).await.expect("past").is_empty());
        let err = fs
            .read_range(&format!("{path}.missing"), 0, 1)
            .await
            .expect_err("missing");
        assert!(err.to_string().contains("No such file"), "{err}");

        let blocks = fs.blocks(&info).await.expect("blocks");
        let spans: Vec<(u64, u64)> = blocks.iter().map(|b| (b.offset, b.length)).collect();
        assert_eq!(spans, [(0, 4), (4, 4), (8, 2)]);
        assert!(blocks.iter().all(|b| b.hosts.is_empty()));
        let empty = FileInfo {
            length: 0,
            ..info.clone()
        };
        assert!(fs.blocks(&empty).await.expect("none").is_empty());
        let parent = fs
            .info(&format!("{}/x/y", dir.path().display()))
            .await
            .expect("info")
            .expect("dir");
        assert!(parent.is_dir);
        assert_eq!(parent.length, 0);
    }

    #[tokio::test]
    async fn list_inputs_skips_hidden_and_expands() {
        let dir = tree();
        let root = dir.path();
        let fs = LocalFs::default();
        let input = format!("{}/in", root.display());
        let got = fs.list_inputs(&input).await.expect("dir");
        assert_eq!(names(&got, root), ["in/a.txt", "in/b.log", "in/sub/c.txt"]);
        assert_eq!(got[0].length, 3);

        // A file named directly is itself, even when hidden.
        let got = fs
            .list_inputs(&format!("file://{}/in/_SUCCESS", root.display()))
            .await
            .expect("file");
        assert_eq!(names(&got, root), ["in/_SUCCESS"]);

        let got = fs
            .list_inputs(&format!("{input}/*.txt"))
            .await
            .expect("glob");
        assert_eq!(names(&got, root), ["in/a.txt"]);
        let got = fs.list_inputs(&format!("{input}/*")).await.expect("star");
        assert_eq!(names(&got, root), ["in/a.txt", "in/b.log", "in/sub/c.txt"]);
        let got = fs
            .list_inputs(&format!("{}/{{in/sub,other}}", root.display()))
            .await
            .expect("braces");
        assert_eq!(names(&got, root), ["in/sub/c.txt", "other/f.txt"]);
        let got = fs
            .list_inputs(&format!("{}/*/?.txt", root.display()))
            .await
            .expect("two levels");
        assert_eq!(names(&got, root), ["in/a.txt", "other/f.txt"]);
        let got = fs
            .list_inputs(&format!("{input}/[^a]*"))
            .await
            .expect("negated class");
        assert_eq!(names(&got, root), ["in/b.log", "in/sub/c.txt"]);

        for missing in [
            format!("{input}/nope"),
            format!("{input}/*.csv"),
            format!("{input}/_*"),
        ] {
            let err = fs.list_inputs(&missing).await.expect_err("missing");
            assert!(
                matches!(&err, CoreError::InputMissing(p) if *p == missing),
                "{err}"
            );
        }
        std::fs::create_dir(root.join("empty")).expect("mkdir");
        let got = fs
            .list_inputs(&format!("{}/empty", root.display()))
            .await
            .expect("empty dir");
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn list_dir_mkdirs_rename_delete() {
        let dir = tree();
        let root = dir.path().display().to_string();
        let fs = LocalFs::default();
        let listed = fs.list_dir(&format!("{root}/in")).await.expect("list");
        assert_eq!(
            names(&listed, dir.path()),
            [
                "in/.a.txt.crc",
                "in/.hidden",
                "in/_SUCCESS",
                "in/_temporary",
                "in/a.txt",
                "in/b.log",
                "in/sub"
            ]
        );
        assert!(fs.list_dir(&format!("{root}/nope")).await.is_err());

        fs.mkdirs(&format!("{root}/m/n/o")).await.expect("mkdirs");
        fs.mkdirs(&format!("{root}/m/n/o"))
            .await
            .expect("mkdirs again");
        assert!(dir.path().join("m/n/o").is_dir());

        let err = fs
            .rename(&format!("{root}/in/a.txt"), &format!("{root}/in/b.log"))
            .await
            .expect_err("exists");
        assert!(err.to_string().contains("already exists"), "{err}");
        fs.rename(&format!("{root}/in/a.txt"), &format!("{root}/m/a.txt"))
            .await
            .expect("rename");
        assert!(dir.path().join("m/a.txt").is_file());
        assert!(!dir.path().join("in/a.txt").exists());

        assert!(fs.delete(&format!("{root}/in")).await.expect("delete dir"));
        assert!(!fs.delete(&format!("{root}/in")).await.expect("gone"));
        assert!(fs.delete(&format!("{root}/m/a.txt")).await.expect("file"));
        assert!(!dir.path().join("in").exists());
    }

    #[tokio::test]
    async fn conf_block_size() {
        let mut conf = spindle_conf::HadoopConf::default();
        assert_eq!(
            LocalFs::from_conf(&conf).block_size(),
            DEFAULT_LOCAL_BLOCK_SIZE
        );
        conf.set("fs.local.block.size", "1048576");
        assert_eq!(LocalFs::from_conf(&conf).block_size(), 1 << 20);
    }
}
