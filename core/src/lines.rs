//! Hadoop's `LineRecordReader` rules over a split: every split but the first drops its
//! first (partial) line, a split reads lines while their start is ≤ its end (finishing
//! the last one past the end), `\n`, `\r` and `\r\n` end lines, a UTF-8 BOM at offset 0
//! is dropped.

use crate::error::CoreError;
use crate::fs::FileSystem;
use crate::split::Split;

/// What reading a split cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Bytes read from the file system (including past the split end).
    pub bytes_read: u64,
    /// Lines handed to the callback.
    pub lines: u64,
}

/// Reads the lines of `split` in chunks of `chunk` bytes, calling `each` with every line
/// (terminator removed) that belongs to this split under Hadoop's rules.
///
/// The rule, as in Hadoop 3's `LineRecordReader` (which seeks to `start` itself, not
/// `start - 1`): a line belongs to the split whose `(start, end]` holds the line's first
/// byte (`[0, end]` for the first split). Lines are cut where a `\n`, `\r` or `\r\n`
/// ends them, so a split starting between the `\r` and `\n` of one terminator drops the
/// empty "line" the lone `\n` seems to end, which is exactly what the previous split
/// does not read. Every line of the file goes to exactly one split.
///
/// Reads stop at the split end while inside it; past it, reads are at most 64 KiB (or
/// `chunk`, if smaller), enough to finish the last line without pulling in a whole chunk
/// of the next split. A read shorter than asked means end of file.
pub async fn for_each_line(
    fs: &dyn FileSystem,
    split: &Split,
    chunk: usize,
    each: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<LineStats, CoreError> {
    let chunk = u64::try_from(chunk).unwrap_or(u64::MAX).max(1);
    let end = split.start.saturating_add(split.length);
    let mut stats = LineStats::default();
    // Next file offset to read.
    let mut offset = split.start;
    // File offset of the current line's first byte.
    let mut pos = split.start;
    // The current line's bytes from earlier chunks (reused: no allocation per line).
    let mut carry: Vec<u8> = Vec::new();
    // The current line is the first of a split that does not start the file: dropped.
    let mut skip = split.start != 0;
    // The last chunk ended with a `\r` that ended a line; a `\n` next belongs to it.
    let mut after_cr = false;

    loop {
        let want = if offset < end {
            chunk.min(end - offset)
        } else {
            chunk.min(TAIL_READ)
        };
        let data = fs.read_range(&split.path, offset, want).await?;
        let buf: &[u8] = &data;
        let base = offset;
        stats.bytes_read += buf.len() as u64;
        offset += buf.len() as u64;
        let eof = (buf.len() as u64) < want;

        let mut i = 0usize;
        if after_cr {
            after_cr = false;
            if buf.first() == Some(&b'\n') {
                i = 1;
                pos += 1;
                if pos > end {
                    break;
                }
            }
        }

        let mut done = false;
        for k in memchr::memchr2_iter(b'\n', b'\r', buf) {
            if k < i {
                // The `\n` of a `\r\n` already consumed.
                continue;
            }
            let term = match (buf[k], buf.get(k + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    after_cr = !eof;
                    1
                }
                _ => 1,
            };
            if !skip {
                let line: &[u8] = if carry.is_empty() {
                    &buf[i..k]
                } else {
                    carry.extend_from_slice(&buf[i..k]);
                    &carry
                };
                each(if pos == 0 { strip_bom(line) } else { line });
                stats.lines += 1;
            }
            carry.clear();
            skip = false;
            i = k + term;
            pos = base + i as u64;
            if pos > end {
                done = true;
                break;
            }
        }
        if done {
            break;
        }
        if !skip {
            carry.extend_from_slice(&buf[i..]);
        }
        if eof {
            // A last line without terminator counts, unless nothing is left of it (a
            // file that is only a BOM has no line, as in Hadoop).
            let line: &[u8] = if pos == 0 { strip_bom(&carry) } else { &carry };
            if !skip && !line.is_empty() {
                each(line);
                stats.lines += 1;
            }
            break;
        }
    }
    Ok(stats)
}

/// Largest read once past the split end: lines are short, the next split's bytes are
/// another task's.
const TAIL_READ: u64 = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(UTF8_BOM).unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{Block, FileInfo};
    use async_trait::async_trait;
    use bytes::Bytes;
    use proptest::prelude::*;

    /// One file, in memory.
    #[derive(Debug)]
    struct MemFs {
        path: String,
        data: Bytes,
    }

    impl MemFs {
        fn new(data: &[u8]) -> MemFs {
            MemFs {
                path: "mem:///f".to_string(),
                data: Bytes::copy_from_slice(data),
            }
        }

        fn unsupported<T>(&self, op: &'static str, path: &str) -> Result<T, CoreError> {
            Err(CoreError::Fs {
                op,
                path: path.to_string(),
                message: "not supported by the test file system".to_string(),
            })
        }
    }

    #[async_trait]
    impl FileSystem for MemFs {
        async fn info(&self, path: &str) -> Result<Option<FileInfo>, CoreError> {
            self.unsupported("stat", path)
        }
        async fn list_inputs(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
            self.unsupported("listing", path)
        }
        async fn blocks(&self, file: &FileInfo) -> Result<Vec<Block>, CoreError> {
            self.unsupported("locating blocks of", &file.path)
        }
        async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, CoreError> {
            if path != self.path {
                return Err(CoreError::Fs {
                    op: "reading",
                    path: path.to_string(),
                    message: "no such file".to_string(),
                });
            }
            let size = self.data.len() as u64;
            let from = offset.min(size) as usize;
            let to = offset.saturating_add(len).min(size) as usize;
            Ok(self.data.slice(from..to))
        }
        async fn write(&self, path: &str, _data: Bytes) -> Result<(), CoreError> {
            self.unsupported("writing", path)
        }
        async fn create(&self, path: &str) -> Result<Box<dyn crate::fs::FileWriter>, CoreError> {
            self.unsupported("creating", path)
        }
        async fn mkdirs(&self, path: &str) -> Result<(), CoreError> {
            self.unsupported("creating", path)
        }
        async fn rename(&self, from: &str, _to: &str) -> Result<(), CoreError> {
            self.unsupported("renaming", from)
        }
        async fn delete(&self, path: &str) -> Result<bool, CoreError> {
            self.unsupported("deleting", path)
        }
        async fn list_dir(&self, path: &str) -> Result<Vec<FileInfo>, CoreError> {
            self.unsupported("listing", path)
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    fn split(fs: &MemFs, start: u64, length: u64) -> Split {
        Split {
            path: fs.path.clone(),
            start,
            length,
            hosts: vec![],
        }
    }

    fn read_split(fs: &MemFs, start: u64, length: u64, chunk: usize) -> (Vec<Vec<u8>>, LineStats) {
        let mut lines = Vec::new();
        let stats = block_on(for_each_line(
            fs,
            &split(fs, start, length),
            chunk,
            &mut |l: &[u8]| lines.push(l.to_vec()),
        ))
        .expect("reading from memory");
        assert_eq!(stats.lines, lines.len() as u64);
        (lines, stats)
    }

    /// Lines of each split, for splits cut at `cuts` (between 0 and the file length).
    fn read_splits(data: &[u8], cuts: &[u64], chunk: usize) -> Vec<Vec<Vec<u8>>> {
        let fs = MemFs::new(data);
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(data.len() as u64);
        bounds
            .windows(2)
            .map(|w| read_split(&fs, w[0], w[1] - w[0], chunk).0)
            .collect()
    }

    /// The file's lines with the offset each starts at, by the simplest possible
    /// splitter.
    fn reference_lines(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let skip = if data.starts_with(UTF8_BOM) { 3 } else { 0 };
        let mut lines = Vec::new();
        let mut cur = Vec::new();
        let mut line_start = 0;
        let mut i = skip;
        while i < data.len() {
            match data[i] {
                b'\n' => lines.push((line_start, std::mem::take(&mut cur))),
                b'\r' => {
                    lines.push((line_start, std::mem::take(&mut cur)));
                    if data.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                b => cur.push(b),
            }
            i += 1;
            if cur.is_empty() {
                line_start = i as u64;
            }
        }
        if !cur.is_empty() {
            lines.push((line_start, cur));
        }
        lines
    }

    fn strs(splits: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        splits
            .iter()
            .map(|s| s.iter().map(|l| l.as_bytes().to_vec()).collect())
            .collect()
    }

    #[test]
    fn edge_cases() {
        /// Name, file, split cuts, lines of each split.
        type Case = (
            &'static str,
            &'static str,
            &'static [u64],
            &'static [&'static [&'static str]],
        );
        let cases: &[Case] = &[
            ("one split", "a\nb\nc\n", &[], &[&["a", "b", "c"]]),
            (
                "a split reads the line starting at its end; the next drops it",
                "a\nb\nc\n",
                &[2],
                &[&["a", "b"], &["c"]],
            ),
            (
                "split starting mid-line drops the rest of it",
                "abc\ndef\n",
                &[1],
                &[&["abc"], &["def"]],
            ),
            (
                "a line crossing several splits",
                "aaaaaaaaaa\nb",
                &[3, 6, 9],
                &[&["aaaaaaaaaa"], &[], &[], &["b"]],
            ),
            ("no final newline", "a\nb", &[], &[&["a", "b"]]),
            ("no newline at all", "abc", &[1, 2], &[&["abc"], &[], &[]]),
            ("empty lines", "\n\n\r\r\n", &[], &[&["", "", "", ""]]),
            (
                "\\r\\n with the \\n at the split start",
                "a\r\nb",
                &[2],
                &[&["a"], &["b"]],
            ),
            (
                "\\r\\n with the \\r at the split start",
                "a\r\nb\n",
                &[1],
                &[&["a"], &["b"]],
            ),
            (
                "\\r\\n right at the split start",
                "ab\r\ncd",
                &[2],
                &[&["ab"], &["cd"]],
            ),
            (
                "lone \\r ending the split",
                "ab\rc\n",
                &[3],
                &[&["ab", "c"], &[]],
            ),
            (
                "\\r\\n straddling the split end",
                "ab\r\ncd",
                &[3],
                &[&["ab"], &["cd"]],
            ),
            ("BOM dropped", "\u{feff}x\ny", &[], &[&["x", "y"]]),
            (
                "BOM dropped with a split inside it",
                "\u{feff}x\ny",
                &[1, 2],
                &[&["x"], &[], &["y"]],
            ),
            ("BOM alone is no line", "\u{feff}", &[], &[&[]]),
            (
                "BOM then newline is an empty line",
                "\u{feff}\n",
                &[],
                &[&[""]],
            ),
            (
                "BOM elsewhere kept",
                "a\n\u{feff}b",
                &[],
                &[&["a", "\u{feff}b"]],
            ),
            ("empty file", "", &[], &[&[]]),
            (
                "multibyte characters cut by splits",
                "日本\nüber\n",
                &[2, 8],
                &[&["日本"], &["über"], &[]],
            ),
        ];
        for (name, text, cuts, want) in cases {
            for chunk in [1, 2, 3, 5, 1 << 20] {
                let got = read_splits(text.as_bytes(), cuts, chunk);
                assert_eq!(got, strs(want), "{name}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn reads_past_the_end_only_as_needed() {
        let fs = MemFs::new(b"a\nb\nc\nd\n");
        // Bytes 0..4 hold "a\nb\n", the line at 4 ("c") starts after the end (2).
        let (lines, stats) = read_split(&fs, 0, 2, 1);
        assert_eq!(lines, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(stats.bytes_read, 4);
        let (_, stats) = read_split(&fs, 0, 2, 1 << 20);
        assert_eq!(stats.bytes_read, 8);
        // A split past the end of the file reads nothing.
        let (lines, stats) = read_split(&fs, 100, 10, 4);
        assert!(lines.is_empty());
        assert_eq!(stats.bytes_read, 0);
    }

    #[test]
    fn read_errors_propagate() {
        let fs = MemFs::new(b"a\n");
        let mut other = split(&fs, 0, 2);
        other.path = "mem:///missing".to_string();
        let got = block_on(for_each_line(&fs, &other, 16, &mut |_: &[u8]| {}));
        assert!(
            matches!(got, Err(CoreError::Fs { ref path, .. }) if path == "mem:///missing"),
            "{got:?}"
        );
    }

    #[test]
    fn the_future_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let fs = MemFs::new(b"a\n");
        let s = split(&fs, 0, 2);
        let mut each = |_: &[u8]| {};
        assert_send(&for_each_line(&fs, &s, 16, &mut each));
    }

    #[test]
    fn zero_chunk_is_one_byte() {
        let fs = MemFs::new(b"ab\ncd");
        let (lines, _) = read_split(&fs, 0, 5, 0);
        assert_eq!(lines, vec![b"ab".to_vec(), b"cd".to_vec()]);
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => "[a-z ]{1,6}".prop_map(String::into_bytes),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            2 => Just(b"\r\n".to_vec()),
            1 => Just("é".as_bytes().to_vec()),
            1 => Just("日本".as_bytes().to_vec()),
            1 => Just("😀".as_bytes().to_vec()),
            1 => Just(UTF8_BOM.to_vec()),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        (
            any::<bool>(),
            proptest::collection::vec(piece, 0..40),
            any::<bool>(),
        )
            .prop_map(|(bom, pieces, final_newline)| {
                let mut data = if bom { UTF8_BOM.to_vec() } else { Vec::new() };
                data.extend(pieces.concat());
                if final_newline {
                    data.push(b'\n');
                }
                data
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_line_goes_to_exactly_one_split(
            data in text(),
            cut_seeds in proptest::collection::vec(any::<u64>(), 0..8),
            chunk in prop_oneof![1usize..8, Just(4096usize)],
        ) {
            let len = data.len() as u64;
            let mut cuts: Vec<u64> = if len == 0 {
                vec![]
            } else {
                cut_seeds.iter().map(|s| 1 + s % len).filter(|&c| c < len).collect()
            };
            cuts.sort_unstable();
            cuts.dedup();
            let got = read_splits(&data, &cuts, chunk);
            let lines = reference_lines(&data);
            // Every line, once, in order...
            let all: Vec<Vec<u8>> = lines.iter().map(|(_, l)| l.clone()).collect();
            prop_assert_eq!(got.concat(), all);
            // ...and in the split whose (start, end] holds its first byte ([0, end] for
            // the first split).
            let mut bounds = vec![0];
            bounds.extend_from_slice(&cuts);
            bounds.push(len);
            let want: Vec<Vec<Vec<u8>>> = bounds
                .windows(2)
                .map(|w| {
                    lines
                        .iter()
                        .filter(|(p, _)| (*p > w[0] || (*p == 0 && w[0] == 0)) && *p <= w[1])
                        .map(|(_, l)| l.clone())
                        .collect()
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
