//! Answers made comparable: every system's `word\tcount` output, parsed, sorted by the
//! word's bytes and hashed, so equal answers have equal digests whatever the part files,
//! their order or the order of lines in them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A normalised word count answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// SHA-256 (hex) of the sorted `word\tcount\n` lines.
    pub digest: String,
    /// Distinct words.
    pub distinct: u64,
    /// Sum of the counts (words in the input).
    pub total: u64,
}

impl Answer {
    /// The answer of word → count pairs, in any order.
    pub fn of<'a>(counts: impl IntoIterator<Item = (&'a [u8], u64)>) -> Answer {
        let sorted: BTreeMap<&[u8], u64> = counts.into_iter().collect();
        let mut h = Sha256::new();
        let mut total = 0u64;
        for (w, c) in &sorted {
            h.update(w);
            h.update(b"\t");
            h.update(c.to_string().as_bytes());
            h.update(b"\n");
            total += c;
        }
        Answer {
            digest: format!("{:x}", h.finalize()),
            distinct: sorted.len() as u64,
            total,
        }
    }

    /// The first 12 hex digits, for progress lines.
    pub fn short(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }
}

/// Parses part files' text (`word\tcount` lines; the word may hold tabs, the count
/// follows the last one) into `into`. A word seen twice or a bad line is an error.
pub fn parse_output(text: &[u8], into: &mut BTreeMap<Vec<u8>, u64>) -> Result<(), String> {
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let Some(tab) = line.iter().rposition(|b| *b == b'\t') else {
            return Err(format!(
                "line {}: no tab in {:?}",
                i + 1,
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ));
        };
        let count: u64 = std::str::from_utf8(&line[tab + 1..])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                format!(
                    "line {}: count {:?} is not a number",
                    i + 1,
                    String::from_utf8_lossy(&line[tab + 1..])
                )
            })?;
        if into.insert(line[..tab].to_vec(), count).is_some() {
            return Err(format!(
                "word {:?} appears twice in the output",
                String::from_utf8_lossy(&line[..tab])
            ));
        }
    }
    Ok(())
}

/// The answer of a set of part files' contents.
pub fn answer_of_parts(parts: &[Vec<u8>]) -> Result<Answer, String> {
    let mut all = BTreeMap::new();
    for p in parts {
        parse_output(p, &mut all)?;
    }
    Ok(Answer::of(all.iter().map(|(w, c)| (w.as_slice(), *c))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_part_split_do_not_matter() {
        let a = answer_of_parts(&[b"b\t2\na\t1\n".to_vec()]).expect("parse");
        let b =
            answer_of_parts(&[b"a\t1\n".to_vec(), b"\nb\t2".to_vec(), Vec::new()]).expect("parse");
        assert_eq!(a, b);
        assert_eq!((a.distinct, a.total), (2, 3));
        let c = Answer::of([(&b"a"[..], 1), (&b"b"[..], 2)]);
        assert_eq!(a, c);
        assert_eq!(a.short().len(), 12);
    }

    #[test]
    fn different_counts_differ() {
        let a = answer_of_parts(&[b"a\t1\nb\t2\n".to_vec()]).expect("parse");
        let b = answer_of_parts(&[b"a\t1\nb\t3\n".to_vec()]).expect("parse");
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn words_with_tabs_and_crlf_lines() {
        let mut m = BTreeMap::new();
        parse_output(b"x\ty\t4\r\nz\t1\n", &mut m).expect("parse");
        assert_eq!(m.get(&b"x\ty"[..]), Some(&4));
        assert_eq!(m.get(&b"z"[..]), Some(&1));
    }

    #[test]
    fn duplicates_and_garbage_are_errors() {
        let mut m = BTreeMap::new();
        assert!(parse_output(b"a\t1\na\t2\n", &mut m).is_err());
        let mut m = BTreeMap::new();
        assert!(parse_output(b"just words\n", &mut m).is_err());
        let mut m = BTreeMap::new();
        assert!(parse_output(b"a\tmany\n", &mut m).is_err());
    }
}
