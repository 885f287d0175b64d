//! HDFS: data, listings and namespace changes through hdfs-native's `Client`; block
//! locations (which hdfs-native does not expose) through our own NameNode IPC client.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use hdfs_native::file::FileReader;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use spindle_hadoop_ipc::namenode::NameNodeClient;

use super::{
    Block, FileInfo, FileSystem, FileWriter, Uri, expand_inputs, has_glob, is_hidden,
    normalize_slashes, split_uri, with_default_port,
};
use crate::error::CoreError;

/// Bound on a NameNode metadata call made through hdfs-native (which has no call timeout
/// of its own); data transfers are bounded by its DataNode socket timeout instead.
const METADATA_TIMEOUT: Duration = Duration::from_secs(120);
/// How many open files' block lists are kept for `read_range`.
const READER_CACHE_ENTRIES: usize = 32;
/// How long an open file's block list is trusted before the NameNode is asked again (a
/// file replaced under the same name would otherwise be read from its old blocks while
/// the DataNodes still hold them).
const READER_TTL: Duration = Duration::from_secs(10);
/// Directory permission for `mkdirs` (Hadoop's 0777 under the default umask 022).
const DIR_PERMISSION: u32 = 0o755;

/// HDFS behind one NameNode, as one user.
pub struct HdfsFs {
    authority: String,
    user: String,
    client: Client,
    namenode: NameNodeClient,
    readers: Mutex<ReaderCache>,
}

/// A file being written to HDFS; removed again if the write fails or is aborted (it
/// was created by us: `overwrite(false)`).
struct HdfsWriter {
    writer: hdfs_native::file::FileWriter,
    client: Client,
    path: String,
    uri: String,
}

impl HdfsWriter {
    async fn remove(&self) {
        if let Err(e) = self.client.delete(&self.path, false).await {
            tracing::warn!(path = %self.uri, error = %e, "cannot remove a failed write");
        }
    }

    fn err(&self, e: &HdfsError) -> CoreError {
        CoreError::Fs {
            op: "writing",
            path: self.uri.clone(),
            message: error_text(e),
        }
    }
}

#[async_trait]
impl FileWriter for HdfsWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), CoreError> {
        match self.writer.write_bytes(data).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.err(&e)),
        }
    }

    async fn close(mut self: Box<Self>) -> Result<(), CoreError> {
        if let Err(e) = self.writer.close().await {
            let err = self.err(&e);
            self.remove().await;
            return Err(err);
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        let _ = self.writer.close().await;
        self.remove().await;
    }
}

impl std::fmt::Debug for HdfsFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdfsFs")
            .field("authority", &self.authority)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl HdfsFs {
    /// HDFS at the NameNode `authority` (`host:port`) as `user`. Connections are made on
    /// first use; call it inside the tokio runtime that will use it (hdfs-native spawns
    /// its connection tasks there). Settings such as `dfs.client.socket-timeout` come
    /// from `conf`'s directory, as hdfs-native reads Hadoop's site files itself.
    pub fn new(
        authority: &str,
        user: &str,
        conf: &spindle_conf::HadoopConf,
    ) -> Result<Self, CoreError> {
        let authority = with_default_port(authority);
        let url = format!("hdfs://{authority}");
        let mut builder = ClientBuilder::new().with_url(&url).with_user(user);
        if let Some(dir) = conf.dir() {
            builder = builder.with_config_dir(dir.to_string_lossy());
        }
        let client = builder.build().map_err(|e| CoreError::Fs {
            op: "connecting to",
            path: url.clone(),
            message: error_text(&e),
        })?;
        Ok(HdfsFs {
            namenode: NameNodeClient::new(&authority, user),
            authority,
            user: user.to_string(),
            client,
            readers: Mutex::new(ReaderCache::default()),
        })
    }

    /// The NameNode's `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The full `hdfs://host:port/path` URI of an absolute HDFS path.
    pub fn uri(&self, path: &str) -> String {
        format!("hdfs://{}{}", self.authority, path)
    }

    /// The absolute HDFS path of `uri`: `hdfs://host:port/p` (this NameNode's),
    /// `hdfs:///p`, `/p`, or `p` relative to `/user/<user>`.
    pub fn hdfs_path(&self, uri: &str) -> Result<String, CoreError> {
        let path = match split_uri(uri) {
            Uri::Bare(p) => p,
            Uri::Scheme {
                scheme,
                authority,
                path,
            } if scheme.eq_ignore_ascii_case("hdfs") => {
                if !authority.is_empty() && with_default_port(authority) != self.authority {
                    return Err(CoreError::Fs {
                        op: "resolving",
                        path: uri.to_string(),
                        message: format!(
                            "wrong file system: this one is hdfs://{}",
                            self.authority
                        ),
                    });
                }
                if path.is_empty() { "/" } else { path }
            }
            Uri::Scheme { .. } => {
                return Err(CoreError::Fs {
                    op: "resolving",
                    path: uri.to_string(),
                    message: format!("not an HDFS path (this is hdfs://{})", self.authority),
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
        if path.starts_with('/') {
            Ok(normalize_slashes(path))
        } else {
            Ok(normalize_slashes(&format!("/user/{}/{path}", self.user)))
        }
    }

    /// Writes a whole new file with the given block size (`None`: the cluster's
    /// `dfs.blocksize`); fails if it exists. Parents are created.
    pub async fn write_with_block_size(
        &self,
        path: &str,
        data: Bytes,
        block_size: Option<u64>,
    ) -> Result<(), CoreError> {
        let p = self.hdfs_path(path)?;
        self.forget(&p);
        let mut options = WriteOptions::default().overwrite(false).create_parent(true);
        if let Some(size) = block_size {
            options = options.block_size(size);
        }
        let mut writer = self
            .timed("creating", &p, self.client.create(&p, options))
            .await?;
        let written = async {
            writer.write_bytes(data).await?;
            writer.close().await
        }
        .await;
        if let Err(e) = written {
            // The half-written file is ours (no overwrite): leave nothing behind.
            if let Err(cleanup) = self.client.delete(&p, false).await {
                tracing::warn!(path = %self.uri(&p), error = %cleanup, "cannot remove a failed write");
            }
            return Err(self.err("writing", &p, &e));
        }
        Ok(())
    }

    fn err(&self, op: &'static str, path: &str, e: &HdfsError) -> CoreError {
        CoreError::Fs {
            op,
            path: self.uri(path),
            message: error_text(e),
        }
    }

    /// Runs an hdfs-native metadata call under [`METADATA_TIMEOUT`].
    async fn timed<T>(
        &self,
        op: &'static str,
        path: &str,
        call: impl Future<Output = Result<T, HdfsError>>,
    ) -> Result<T, CoreError> {
        self.deadline(op, path, call)
            .await?
            .map_err(|e| self.err(op, path, &e))
    }

    /// Like [`Self::timed`], leaving hdfs-native's error to the caller.
    async fn deadline<T>(
        &self,
        op: &'static str,
        path: &str,
        call: impl Future<Output = Result<T, HdfsError>>,
    ) -> Result<Result<T, HdfsError>, CoreError> {
        tokio::time::timeout(METADATA_TIMEOUT, call)
            .await
            .map_err(|_| CoreError::Fs {
                op,
                path: self.uri(path),
                message: format!(
                    "the NameNode hdfs://{} did not answer within {}s",
                    self.authority,
                    METADATA_TIMEOUT.as_secs()
                ),
            })
    }

    fn info_of(&self, status: &hdfs_native::client::FileStatus) -> FileInfo {
        FileInfo {
            path: self.uri(&normalize_slashes(&status.path)),
            length: if status.isdir {
                0
            } else {
                status.length as u64
            },
            is_dir: status.isdir,
            block_size: status.blocksize.unwrap_or_default(),
            modification_time: status.modification_time,
        }
    }

    /// Drops cached readers of `path` and anything under it.
    fn forget(&self, path: &str) {
        if let Ok(mut cache) = self.readers.lock() {
            cache.remove_tree(path);
        }
    }

    /// An open reader of `path`, from the cache when fresh; `true` if it was cached.
    async fn reader(&self, path: &str) -> Result<(Arc<FileReader>, bool), CoreError> {
        if let Some(r) = self.readers.lock().ok().and_then(|mut c| c.get(path)) {
            return Ok((r, true));
        }
        Ok((self.open(path).await?, false))
    }

    async fn open(&self, path: &str) -> Result<Arc<FileReader>, CoreError> {
        let reader = Arc::new(self.timed("opening", path, self.client.read(path)).await?);
        if let Ok(mut cache) = self.readers.lock() {
            cache.put(path, reader.clone());
        }
        Ok(reader)
    }
}

/// Reads `[offset, offset + len)` clipped to the file (hdfs-native panics past its end).
async fn read_clipped(reader: &FileReader, offset: u64, len: u64) -> Result<Bytes, HdfsError> {
    let file_len = reader.file_length() as u64;
    if offset >= file_len || len == 0 {
        return Ok(Bytes::new());
    }
    let want = len.min(file_len - offset);
    let (Ok(offset), Ok(want)) = (usize::try_from(offset), usize::try_from(want)) else {
        return Err(HdfsError::InvalidArgument(format!(
            "range {offset}+{want} does not fit in memory"
        )));
    };
    reader.read_range(offset, want).await
}

/// hdfs-native's error text, with the Java exception's name kept where it hides it.
fn error_text(e: &HdfsError) -> String {
    match e {
        HdfsError::FileNotFound(p) => format!("java.io.FileNotFoundException: {p} does not exist"),
        HdfsError::AlreadyExists(m) => {
            format!("org.apache.hadoop.fs.FileAlreadyExistsException: {m}")
        }
        other => other.to_string(),
    }
}

#[async_trait]
impl FileSystem for HdfsFs {
    async fn info(&self, path: &str) -> Result<Option<FileInfo>, CoreError> {
        let p = self.hdfs_path(path)?;
        let op = "getting the status of";
        match self.deadline(op, &p, self.client.get_file_info(&p)).await? {
            Ok(status) => Ok(Some(FileInfo {
                path: self.uri(&p),
                ..self.info_of(&status)
            })),
            Err(HdfsError::FileNotFound(_)) => Ok(None),
            Err(e) => Err(self.err(op, &p, &e)),
        }
    }

    async fn list_inputs(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
        let p = self.hdfs_path(path)?;
        let roots = if has_glob(&p) {
            self.timed("matching", &p, self.client.glob_status(&p))
                .await?
                .iter()
                .filter(|s| !is_hidden(super::base_name(&s.path)))
                .map(|s| self.info_of(s))
                .collect()
        } else {
            self.info(&p).await?.into_iter().collect()
        };
        expand_inputs(self, path, roots).await
    }

    async fn blocks(&self, file: &FileInfo) -> Result<Vec<Block>, CoreError> {
        let p = self.hdfs_path(&file.path)?;
        if file.length == 0 {
            return Ok(Vec::new());
        }
        let located = self
            .namenode
            .block_locations(&p, 0, file.length)
            .await
            .map_err(|e| CoreError::Fs {
                op: "locating the blocks of",
                path: self.uri(&p),
                message: e.to_string(),
            })?;
        Ok(located
            .into_iter()
            .map(|b| Block {
                offset: b.offset,
                length: b.length,
                hosts: b.hosts,
            })
            .collect())
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, CoreError> {
        let p = self.hdfs_path(path)?;
        let (reader, cached) = self.reader(&p).await?;
        // A cached block list may be stale (file grown, replaced, blocks moved): on an
        // error, or a read past its end, ask the NameNode again before giving up.
        let past_end = offset.saturating_add(len) > reader.file_length() as u64;
        if !(cached && past_end) {
            match read_clipped(&reader, offset, len).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) if !cached => return Err(self.err("reading", &p, &e)),
                Err(e) => {
                    tracing::debug!(path = %self.uri(&p), error = %e, "re-opening after a read error");
                }
            }
        }
        self.forget(&p);
        let reader = self.open(&p).await?;
        read_clipped(&reader, offset, len)
            .await
            .map_err(|e| self.err("reading", &p, &e))
    }

    async fn write(&self, path: &str, data: Bytes) -> Result<(), CoreError> {
        self.write_with_block_size(path, data, None).await
    }

    async fn create(&self, path: &str) -> Result<Box<dyn FileWriter>, CoreError> {
        let p = self.hdfs_path(path)?;
        self.forget(&p);
        let options = WriteOptions::default().overwrite(false).create_parent(true);
        let writer = self
            .timed("creating", &p, self.client.create(&p, options))
            .await?;
        Ok(Box::new(HdfsWriter {
            writer,
            client: self.client.clone(),
            uri: self.uri(&p),
            path: p,
        }))
    }

    async fn mkdirs(&self, path: &str) -> Result<(), CoreError> {
        let p = self.hdfs_path(path)?;
        self.timed(
            "creating directory",
            &p,
            self.client.mkdirs(&p, DIR_PERMISSION, true),
        )
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), CoreError> {
        let src = self.hdfs_path(from)?;
        let dst = self.hdfs_path(to)?;
        self.forget(&src);
        self.forget(&dst);
        self.deadline("renaming", &src, self.client.rename(&src, &dst, false))
            .await?
            .map_err(|e| CoreError::Fs {
                op: "renaming",
                path: format!("{} to {}", self.uri(&src), self.uri(&dst)),
                message: error_text(&e),
            })
    }

    async fn delete(&self, path: &str) -> Result<bool, CoreError> {
        let p = self.hdfs_path(path)?;
        self.forget(&p);
        self.timed("deleting", &p, self.client.delete(&p, true))
            .await
    }

    async fn list_dir(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
        let p = self.hdfs_path(path)?;
        let listed = self
            .timed("listing", &p, self.client.list_status(&p, false))
            .await?;
        Ok(listed.iter().map(|s| self.info_of(s)).collect())
    }
}

/// Open readers by HDFS path: least recently used out first, none older than
/// [`READER_TTL`].
#[derive(Default)]
struct ReaderCache {
    entries: HashMap<String, CachedReader>,
    tick: u64,
}

struct CachedReader {
    reader: Arc<FileReader>,
    opened: Instant,
    used: u64,
}

impl ReaderCache {
    fn get(&mut self, path: &str) -> Option<Arc<FileReader>> {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(path) {
            Some(e) if e.opened.elapsed() < READER_TTL => {
                e.used = tick;
                Some(e.reader.clone())
            }
            Some(_) => {
                self.entries.remove(path);
                None
            }
            None => None,
        }
    }

    fn put(&mut self, path: &str, reader: Arc<FileReader>) {
        self.tick += 1;
        if !self.entries.contains_key(path) && self.entries.len() >= READER_CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(
            path.to_string(),
            CachedReader {
                reader,
                opened: Instant::now(),
                used: self.tick,
            },
        );
    }

    fn remove_tree(&mut self, path: &str) {
        let under = format!("{}/", path.trim_end_matches('/'));
        self.entries
            .retain(|k, _| k != path && !k.starts_with(&under));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fs() -> HdfsFs {
        HdfsFs::new(
            "nn.example:9000",
            "alice",
            &spindle_conf::HadoopConf::default(),
        )
        .expect("client builds without connecting")
    }

    #[tokio::test]
    async fn resolves_hdfs_paths() {
        let fs = fs().await;
        let table: &[(&str, &str)] = &[
            ("/a/b", "/a/b"),
            ("//a//b/", "/a/b"),
            ("hdfs://nn.example:9000/a/b", "/a/b"),
            ("hdfs://nn.example:9000", "/"),
            ("hdfs:///a", "/a"),
            ("hdfs:/a", "/a"),
            ("data/x", "/user/alice/data/x"),
            ("/a/*.txt", "/a/*.txt"),
        ];
        for (uri, want) in table {
            assert_eq!(fs.hdfs_path(uri).expect(uri), *want, "{uri}");
        }
        for bad in [
            "hdfs://other:9000/a",
            "hdfs://nn.example/a",
            "file:///a",
            "",
        ] {
            assert!(fs.hdfs_path(bad).is_err(), "{bad}");
        }
        assert_eq!(fs.uri("/a/b"), "hdfs://nn.example:9000/a/b");
        let default_port =
            HdfsFs::new("nn", "alice", &spindle_conf::HadoopConf::default()).expect("builds");
        assert_eq!(default_port.authority(), "nn:8020");
        assert_eq!(default_port.hdfs_path("hdfs://nn/x").expect("port"), "/x");
    }

    #[test]
    fn error_text_keeps_java_names() {
        let t = error_text(&HdfsError::FileNotFound("/x".into()));
        assert!(
            t.contains("FileNotFoundException") && t.contains("/x"),
            "{t}"
        );
        let t = error_text(&HdfsError::AlreadyExists(
            "/x for client 1 already exists".into(),
        ));
        assert!(t.contains("FileAlreadyExistsException") && t.contains("already exists"));
        let t = error_text(&HdfsError::RPCError(
            "org.apache.hadoop.security.AccessControlException".into(),
            "Permission denied".into(),
        ));
        assert!(t.contains("AccessControlException: ") || t.contains("AccessControlException "));
    }
}
