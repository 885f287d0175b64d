//! A local memo of binaries' SHA-256s, keyed by what the file system says of each file
//! (path, length, inode, modification and change times to the nanosecond), so that
//! submitting the same build again need not read and hash it: some 20 ms of a 14 MB
//! binary on a tiny job's path. A file written in any way gets a new change time, so an
//! entry never outlives the bytes it describes; when it cannot be read or written, the
//! binary is simply hashed, as without it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Entries kept (the most recently used first).
const ENTRIES: usize = 32;

/// What the file system says of a file; equal stamps mean the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    path: PathBuf,
    len: u64,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// The file's length in bytes.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// The stamp of `path` as it is now.
    pub fn of(path: &Path) -> std::io::Result<Stamp> {
        let m = std::fs::metadata(path)?;
        Ok(Stamp {
            path: std::fs::canonicalize(path)?,
            len: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    sha256: String,
}

/// The memo file.
#[derive(Debug, Clone)]
pub struct KeyCache {
    file: PathBuf,
}

impl KeyCache {
    /// `$XDG_CACHE_HOME/spindle/binary-keys.json`, else `~/.cache/spindle/…`.
    pub fn default_location() -> Option<KeyCache> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(KeyCache::at(base.join("spindle").join("binary-keys.json")))
    }

    /// A memo kept in `file`.
    pub fn at(file: PathBuf) -> KeyCache {
        KeyCache { file }
    }

    fn entries(&self) -> Vec<Entry> {
        std::fs::read(&self.file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The SHA-256 remembered for a file with exactly this stamp; an entry that is not
    /// a SHA-256 in hex (64 digits: the memo is a file anyone may edit) is no answer.
    pub fn lookup(&self, stamp: &Stamp) -> Option<String> {
        self.entries()
            .into_iter()
            .find(|e| &e.stamp == stamp)
            .map(|e| e.sha256)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// Remembers a file's SHA-256 (best effort: a memo that cannot be written is
    /// skipped). Written to a temporary file and renamed, so a reader never sees half.
    pub fn remember(&self, stamp: Stamp, sha256: &str) {
        let mut entries = self.entries();
        entries.retain(|e| e.stamp.path != stamp.path);
        entries.insert(
            0,
            Entry {
                stamp,
                sha256: sha256.to_string(),
            },
        );
        entries.truncate(ENTRIES);
        let (Some(dir), Ok(json)) = (self.file.parent(), serde_json::to_vec(&entries)) else {
            return;
        };
        let tmp = self
            .file
            .with_extension(format!("json.{}.tmp", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&tmp, json))
            .and_then(|()| std::fs::rename(&tmp, &self.file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(file = %self.file.display(), "cannot remember a binary's hash: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_hash_until_the_file_changes() {
        let [h1, h2, h3, h4] = ['a', 'b', 'c', 'd'].map(|c| c.to_string().repeat(64));
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = KeyCache::at(dir.path().join("c").join("keys.json"));
        let bin = dir.path().join("app");
        std::fs::write(&bin, b"build one").expect("write");
        let stamp = Stamp::of(&bin).expect("stamp");
        assert_eq!(cache.lookup(&stamp), None);
        cache.remember(stamp.clone(), &h1);
        assert_eq!(
            cache.lookup(&Stamp::of(&bin).expect("stamp")).as_deref(),
            Some(h1.as_str())
        );
        // Rewritten with the same length: another change time, so another stamp.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&bin, b"build two").expect("write");
        let changed = Stamp::of(&bin).expect("stamp");
        assert_ne!(changed, stamp);
        assert_eq!(cache.lookup(&changed), None);
        // One entry per path; at most ENTRIES paths.
        cache.remember(changed.clone(), &h2);
        assert_eq!(cache.lookup(&changed).as_deref(), Some(h2.as_str()));
        assert_eq!(cache.entries().len(), 1);
        for i in 0..ENTRIES + 3 {
            let p = dir.path().join(format!("b{i}"));
            std::fs::write(&p, b"x").expect("write");
            cache.remember(Stamp::of(&p).expect("stamp"), &h3);
        }
        assert_eq!(cache.entries().len(), ENTRIES);
        assert_eq!(cache.lookup(&changed), None, "the oldest entry went first");
        // A memo that is not JSON is ignored, then replaced.
        std::fs::write(dir.path().join("c").join("keys.json"), b"{oops").expect("write");
        assert_eq!(cache.lookup(&changed), None);
        cache.remember(changed.clone(), &h4);
        assert_eq!(cache.lookup(&changed).as_deref(), Some(h4.as_str()));
        // An entry that is no SHA-256 (its first half would be a cache key) is ignored.
        cache.remember(changed.clone(), "d00d");
        assert_eq!(cache.lookup(&changed), None);
        cache.remember(changed.clone(), &"g".repeat(64));
        assert_eq!(cache.lookup(&changed), None);
    }
}
