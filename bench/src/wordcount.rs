//! The single-machine limit: a tuned word count of a local file on every core, with the
//! same tokenisation as Hadoop's WordCount (`java.util.StringTokenizer`'s default
//! delimiters " \t\n\r\f"). Chunks are read with positioned reads and aligned at a
//! delimiter, so no word is cut; per-thread tables with a fast hash (foldhash) are merged.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Word → count, hashed with foldhash (as Spindle's own word count).
pub type Counts = HashMap<Vec<u8>, u64, foldhash::fast::RandomState>;

/// `StringTokenizer`'s default delimiters.
const fn delimiters() -> [bool; 256] {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[0x0c] = true;
    t
}

static DELIM: [bool; 256] = delimiters();

/// Whether `b` separates words.
#[inline]
pub fn is_delimiter(b: u8) -> bool {
    DELIM[b as usize]
}

/// Counts the words of `data` into `into`.
pub fn count_words(data: &[u8], into: &mut Counts) {
    let mut i = 0;
    let n = data.len();
    while i < n {
        while i < n && DELIM[data[i] as usize] {
            i += 1;
        }
        let start = i;
        while i < n && !DELIM[data[i] as usize] {
            i += 1;
        }
        if i > start {
            let w = &data[start..i];
            match into.get_mut(w) {
                Some(c) => *c += 1,
                None => {
                    into.insert(w.to_vec(), 1);
                }
            }
        }
    }
}

/// How many bytes each task reads at once.
const CHUNK: u64 = 32 << 20;

/// Counts the words of one chunk `[start, end)` of the file: words that *start* in
/// it, read to their end even past `end`.
fn count_chunk(
    file: &File,
    len: u64,
    start: u64,
    end: u64,
    buf: &mut Vec<u8>,
    into: &mut Counts,
) -> std::io::Result<()> {
    // One byte before the chunk says whether it begins inside a word.
    let from = start.saturating_sub(1);
    read_range(file, from, end, buf)?;
    let mut skip = 0;
    if start > 0 {
        // buf[0] is the byte before the chunk: if it is part of a word, that word
        // belongs to the previous chunk.
        skip = 1;
        if !is_delimiter(buf[0]) {
            while skip < buf.len() && !is_delimiter(buf[skip]) {
                skip += 1;
            }
        }
    }
    if skip >= buf.len() {
        // The chunk lies inside a word that began before it.
        return Ok(());
    }
    // Finish the word running over `end`.
    let mut pos = end;
    if buf.last().is_some_and(|b| !is_delimiter(*b)) {
        let mut tail = [0u8; 4096];
        while pos < len {
            let want = ((len - pos) as usize).min(tail.len());
            let got = file.read_at(&mut tail[..want], pos)?;
            if got == 0 {
                break;
            }
            let stop = tail[..got].iter().position(|b| is_delimiter(*b));
            let take = stop.unwrap_or(got);
            buf.extend_from_slice(&tail[..take]);
            pos += take as u64;
            if stop.is_some() {
                break;
            }
        }
    }
    count_words(&buf[skip..], into);
    Ok(())
}

fn read_range(file: &File, from: u64, to: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let n = (to - from) as usize;
    buf.clear();
    buf.resize(n, 0);
    let mut done = 0;
    while done < n {
        let got = file.read_at(&mut buf[done..], from + done as u64)?;
        if got == 0 {
            buf.truncate(done);
            break;
        }
        done += got;
    }
    Ok(())
}

/// Counts the words of a file with `threads` threads.
pub fn count_file(path: &Path, threads: usize) -> std::io::Result<Counts> {
    count_file_chunked(path, threads, CHUNK)
}

fn count_file_chunked(path: &Path, threads: usize, chunk: u64) -> std::io::Result<Counts> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let chunks: Vec<(u64, u64)> = (0..len.div_ceil(chunk))
        .map(|i| (i * chunk, ((i + 1) * chunk).min(len)))
        .collect();
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, chunks.len().max(1));
    let results: Vec<std::io::Result<Counts>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut counts = Counts::default();
                    let mut buf = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(a, b)) = chunks.get(i) else {
                            break;
                        };
                        count_chunk(&file, len, a, b, &mut buf, &mut counts)?;
                    }
                    Ok(counts)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a counting thread panicked")))
            })
            .collect()
    });
    let mut total = Counts::default();
    for r in results {
        let part = r?;
        if total.is_empty() {
            total = part;
            continue;
        }
        for (w, c) in part {
            *total.entry(w).or_default() += c;
        }
    }
    Ok(total)
}

/// Writes counts as `word\tcount` lines (unsorted, like a job's part file).
pub fn write_counts(counts: &Counts, path: &Path) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    for (w, c) in counts {
        out.write_all(w)?;
        writeln!(out, "\t{c}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn naive(data: &[u8]) -> BTreeMap<Vec<u8>, u64> {
        let mut m = BTreeMap::new();
        for w in data
            .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
            .filter(|w| !w.is_empty())
        {
            *m.entry(w.to_vec()).or_default() += 1;
        }
        m
    }

    fn sorted(c: Counts) -> BTreeMap<Vec<u8>, u64> {
        c.into_iter().collect()
    }

    #[test]
    fn stringtokenizer_delimiters_only() {
        let mut c = Counts::default();
        count_words("a\tb  c\x0cd\re\r\nf a\u{a0}b é é".as_bytes(), &mut c);
        let got = sorted(c);
        let mut want = BTreeMap::new();
        for (w, n) in [
            ("a", 1),
            ("b", 1),
            ("c", 1),
            ("d", 1),
            ("e", 1),
            ("f", 1),
            ("a\u{a0}b", 1),
            ("é", 2),
        ] {
            want.insert(w.as_bytes().to_vec(), n);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn chunked_file_equals_naive_for_every_chunk_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.txt");
        let mut data = crate::textgen::generate_bytes(20_000, 5);
        // Edge cases: a long word, leading and trailing delimiters, no final newline.
        data.splice(0..0, b"  \r\n".iter().copied());
        data.extend_from_slice(&[b'x'; 300]);
        data.extend_from_slice(b"\x0c tail");
        std::fs::write(&path, &data).expect("write");
        let want = naive(&data);
        for chunk in [1u64, 2, 3, 7, 64, 1000, 4096, 1 << 20] {
            for threads in [1, 3] {
                let got = sorted(count_file_chunked(&path, threads, chunk).expect("count"));
                assert_eq!(got, want, "chunk {chunk} threads {threads}");
            }
        }
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").expect("write");
        assert!(count_file(&empty, 2).expect("count").is_empty());
    }

    #[test]
    fn written_counts_parse_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Counts::default();
        count_words(b"b a b", &mut c);
        let p = dir.path().join("out");
        write_counts(&c, &p).expect("write");
        let mut lines: Vec<String> = std::fs::read_to_string(&p)
            .expect("read")
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        assert_eq!(lines, ["a\t1", "b\t2"]);
    }
}
