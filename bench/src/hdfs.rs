//! The few HDFS operations the harness needs, over WebHDFS (no JVM per call); large
//! uploads go through Hadoop's own `hdfs dfs -put`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::BenchError;
use spindle_integration::Cluster;

/// Block size of the inputs the harness puts in HDFS: HDFS's default (128 MiB), as on
/// real clusters, whatever the test cluster's own default is (one map task per block
/// for MapReduce, one split per block for Spark and Spindle).
pub const INPUT_BLOCK_SIZE: u64 = 128 << 20;

/// A file's or directory's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// The name within its directory (empty for a status of the path itself).
    pub name: String,
    /// Bytes.
    pub length: u64,
    /// Milliseconds since the epoch, as YARN wants it for local resources.
    pub modification_time: u64,
    /// A directory.
    pub is_dir: bool,
}

impl FileStatus {
    fn from_json(v: &Value) -> Option<FileStatus> {
        Some(FileStatus {
            name: v["pathSuffix"].as_str().unwrap_or_default().to_string(),
            length: v["length"].as_u64()?,
            modification_time: v["modificationTime"].as_u64()?,
            is_dir: v["type"].as_str()? == "DIRECTORY",
        })
    }
}

/// WebHDFS as the user `root`.
#[derive(Debug, Clone)]
pub struct Hdfs {
    http: reqwest::Client,
    base: String,
}

fn http_err(what: String) -> impl FnOnce(reqwest::Error) -> BenchError {
    move |e| BenchError::Http {
        what,
        detail: e.to_string(),
    }
}

impl Hdfs {
    /// WebHDFS of this cluster's NameNode.
    pub fn new(cluster: &Cluster) -> Result<Hdfs, BenchError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(http_err("building an HTTP client".into()))?;
        Ok(Hdfs {
            http,
            base: format!("{}/webhdfs/v1", cluster.settings().namenode_http_url()),
        })
    }

    fn url(&self, path: &str, op: &str) -> String {
        format!("{}{path}?op={op}&user.name=root", self.base)
    }

    async fn call(
        &self,
        req: reqwest::RequestBuilder,
        what: String,
    ) -> Result<Option<reqwest::Response>, BenchError> {
        let resp = req.send().await.map_err(http_err(what.clone()))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(BenchError::Http {
                what,
                detail: format!("{status}: {body}"),
            });
        }
        Ok(Some(resp))
    }

    /// The status of `path`, `None` when it does not exist.
    pub async fn status(&self, path: &str) -> Result<Option<FileStatus>, BenchError> {
        let what = format!("WebHDFS GETFILESTATUS {path}");
        let Some(resp) = self
            .call(self.http.get(self.url(path, "GETFILESTATUS")), what.clone())
            .await?
        else {
            return Ok(None);
        };
        let v: Value = resp.json().await.map_err(http_err(what.clone()))?;
        FileStatus::from_json(&v["FileStatus"])
            .map(Some)
            .ok_or_else(|| BenchError::Http {
                what,
                detail: format!("unexpected answer {v}"),
            })
    }

    /// The entries of a directory (empty when it does not exist).
    pub async fn list(&self, path: &str) -> Result<Vec<FileStatus>, BenchError> {
        let what = format!("WebHDFS LISTSTATUS {path}");
        let Some(resp) = self
            .call(self.http.get(self.url(path, "LISTSTATUS")), what.clone())
            .await?
        else {
            return Ok(Vec::new());
        };
        let v: Value = resp.json().await.map_err(http_err(what))?;
        Ok(v["FileStatuses"]["FileStatus"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(FileStatus::from_json)
            .collect())
    }

    /// A file's bytes (outputs only: word counts are small).
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, BenchError> {
        let what = format!("WebHDFS OPEN {path}");
        let resp = self
            .call(self.http.get(self.url(path, "OPEN")), what.clone())
            .await?
            .ok_or_else(|| BenchError::Http {
                what: what.clone(),
                detail: "no such file".into(),
            })?;
        Ok(resp.bytes().await.map_err(http_err(what))?.to_vec())
    }

    /// Deletes a path and what is under it; fine when it is not there.
    pub async fn delete(&self, path: &str) -> Result<(), BenchError> {
        let what = format!("WebHDFS DELETE {path}");
        self.call(
            self.http
                .delete(format!("{}&recursive=true", self.url(path, "DELETE"))),
            what,
        )
        .await?;
        Ok(())
    }

    /// Creates a directory and its parents.
    pub async fn mkdirs(&self, path: &str) -> Result<(), BenchError> {
        let what = format!("WebHDFS MKDIRS {path}");
        self.call(self.http.put(self.url(path, "MKDIRS")), what)
            .await?;
        Ok(())
    }

    /// The contents of every `part-*` file of a job's output directory.
    pub async fn read_parts(&self, dir: &str) -> Result<Vec<Vec<u8>>, BenchError> {
        let entries = self.list(dir).await?;
        if !entries.iter().any(|e| e.name == "_SUCCESS") {
            return Err(BenchError::Invalid(format!(
                "{dir} has no _SUCCESS (entries: {})",
                entries
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut parts = Vec::new();
        for e in entries
            .iter()
            .filter(|e| !e.is_dir && e.name.starts_with("part-"))
        {
            parts.push(self.read(&format!("{dir}/{}", e.name)).await?);
        }
        Ok(parts)
    }

    /// Puts a local file at `remote` unless a file of the same length is there already.
    /// Returns whether it uploaded.
    pub async fn put_if_changed(
        &self,
        cluster: &Cluster,
        local: &Path,
        remote: &str,
    ) -> Result<bool, BenchError> {
        let len = std::fs::metadata(local)
            .map_err(|e| BenchError::io(format!("reading {}", local.display()), e))?
            .len();
        if self
            .status(remote)
            .await?
            .is_some_and(|s| !s.is_dir && s.length == len)
        {
            return Ok(false);
        }
        self.put(cluster, local, remote).await?;
        Ok(true)
    }

    /// Puts a local file at `remote` in [`INPUT_BLOCK_SIZE`] blocks, replacing what is
    /// there.
    pub async fn put(
        &self,
        cluster: &Cluster,
        local: &Path,
        remote: &str,
    ) -> Result<(), BenchError> {
        if let Some((parent, _)) = remote.rsplit_once('/')
            && !parent.is_empty()
        {
            self.mkdirs(parent).await?;
        }
        let local_s = local.to_string_lossy().into_owned();
        let block_size = format!("dfs.blocksize={INPUT_BLOCK_SIZE}");
        cluster
            .fs_shell(&["-D", &block_size, "-put", "-f", &local_s, remote])
            .await?;
        Ok(())
    }
}
