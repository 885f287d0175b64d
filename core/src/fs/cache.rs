//! File systems by scheme and authority, shared by every task of a process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use spindle_conf::HadoopConf;
use tokio::sync::OnceCell;

use super::{FileSystem, for_uri};
use crate::error::CoreError;

/// File systems by scheme and authority, created on first use and shared by all tasks
/// (an HDFS client holds NameNode connections worth reusing).
#[derive(Debug)]
pub struct FsCache {
    conf: HadoopConf,
    user: String,
    default_fs: String,
    by_authority: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One file system, created by the first task that needs it.
type Slot = OnceCell<Arc<dyn FileSystem>>;

impl FsCache {
    /// A cache resolving bare paths against `conf`'s `fs.defaultFS`.
    pub fn new(conf: HadoopConf, user: String) -> FsCache {
        let default_fs = conf.get_or("fs.defaultFS", "file:///");
        FsCache {
            conf,
            user,
            default_fs,
            by_authority: Mutex::new(HashMap::new()),
        }
    }

    /// The file system holding `uri`.
    pub async fn get(&self, uri: &str) -> Result<Arc<dyn FileSystem>, CoreError> {
        let key = fs_key(uri, &self.default_fs);
        let cell = self
            .by_authority
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        // One creation per key even when several tasks start at once; a failed creation
        // leaves the cell empty so the next task tries again.
        cell.get_or_try_init(|| for_uri(uri, &self.conf, &self.user))
            .await
            .cloned()
    }
}

/// `scheme://authority` of `uri` (lower-case scheme), bare paths taking `default_fs`'s.
/// `hdfs:///p` (no authority) shares the default file system's entry when that is HDFS.
fn fs_key(uri: &str, default_fs: &str) -> String {
    let default_key = authority_key(default_fs);
    match authority_key(uri) {
        None => default_key.unwrap_or_else(|| default_fs.to_string()),
        Some(key) => match default_key {
            Some(d) if key.ends_with("://") && d.starts_with(&key) => d,
            _ => key,
        },
    }
}

/// `scheme://authority` of a URI with a scheme.
fn authority_key(uri: &str) -> Option<String> {
    let (scheme, rest) = scheme_of(uri)?;
    let authority = rest
        .strip_prefix("//")
        .map(|r| r.split('/').next().unwrap_or_default())
        .unwrap_or_default();
    Some(format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// Splits `scheme:rest` when `uri` starts with an RFC 3986 scheme.
fn scheme_of(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_systems_are_keyed_by_scheme_and_authority() {
        let cases = [
            ("hdfs://nn:8020/a/b", "file:///", "hdfs://nn:8020"),
            ("HDFS://nn:8020/a", "file:///", "hdfs://nn:8020"),
            ("hdfs://nn2:8020/a", "hdfs://nn:8020", "hdfs://nn2:8020"),
            ("/a/b", "hdfs://nn:8020", "hdfs://nn:8020"),
            ("/a/b", "hdfs://nn:8020/", "hdfs://nn:8020"),
            ("a/b", "file:///", "file://"),
            ("file:///tmp/x", "hdfs://nn:8020", "file://"),
            ("file:/tmp/x", "hdfs://nn:8020", "file://"),
            ("hdfs:///a", "hdfs://nn:8020", "hdfs://nn:8020"),
            ("hdfs:///a", "file:///", "hdfs://"),
        ];
        for (uri, default_fs, key) in cases {
            assert_eq!(fs_key(uri, default_fs), key, "{uri} under {default_fs}");
        }
    }
}
