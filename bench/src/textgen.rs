//! Deterministic benchmark text: a seeded vocabulary of pseudo-English words with
//! realistic lengths, drawn with a Zipf (s = 1) skew, frequent words short; lines of
//! 6–14 words, now and then a tab instead of a space, a capital or a trailing `,`/`.`.
//! The same seed and size give the same bytes on every machine.

use std::io::Write;

/// Distinct words in the vocabulary (tokens differ more: capitals and punctuation).
pub const VOCABULARY: usize = 5000;

/// Bumped whenever the generator's output changes, so cached inputs are not reused.
pub const GENERATOR_VERSION: u32 = 1;

/// SplitMix64: small, fast and good enough for text.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Picks an index by integer weights.
fn weighted(rng: &mut Rng, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|w| *w as u64).sum();
    let mut r = rng.below(total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if r < *w as u64 {
            return i;
        }
        r -= *w as u64;
    }
    weights.len() - 1
}

/// English letter frequencies (per mille), a–z.
const LETTERS: [u32; 26] = [
    82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91, 28, 10, 24, 2,
    20, 1,
];

/// Word lengths 1–15 (per mille), roughly those of English text.
const LENGTHS: [u32; 15] = [30, 170, 200, 160, 110, 90, 80, 60, 40, 30, 15, 8, 4, 2, 1];

/// The vocabulary for a seed: `VOCABULARY` distinct lowercase words, most frequent first
/// (shorter words tend to rank higher, as in English).
pub fn vocabulary(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed ^ 0x766f_6361_6275_6c61);
    let mut seen = std::collections::HashSet::new();
    let mut words: Vec<(u64, Vec<u8>)> = Vec::with_capacity(VOCABULARY);
    // Bounded: short lengths run out of distinct words, longer ones never do.
    let mut tries = 0u32;
    while words.len() < VOCABULARY && tries < 10_000_000 {
        tries += 1;
        let len = weighted(&mut rng, &LENGTHS) + 1;
        let w: Vec<u8> = (0..len)
            .map(|_| b'a' + weighted(&mut rng, &LETTERS) as u8)
            .collect();
        if seen.insert(w.clone()) {
            // Rank key: length plus noise, so short words are frequent but not all.
            let key = (len as u64) * 1000 + rng.below(4000);
            words.push((key, w));
        }
    }
    words.sort();
    words.into_iter().map(|(_, w)| w).collect()
}

/// Cumulative Zipf weights (s = 1) over `n` ranks, scaled to u64.
fn zipf_cdf(n: usize) -> Vec<u64> {
    let h: f64 = (1..=n).map(|r| 1.0 / r as f64).sum();
    let mut acc = 0.0;
    (1..=n)
        .map(|r| {
            acc += 1.0 / r as f64 / h;
            (acc.min(1.0) * u64::MAX as f64) as u64
        })
        .collect()
}

/// Writes exactly `size` bytes of text for `seed` to `out`; the last byte is `\n`
/// (the last line is cut short to fit).
pub fn generate(out: &mut impl Write, size: u64, seed: u64) -> std::io::Result<()> {
    let vocab = vocabulary(seed);
    let cdf = zipf_cdf(vocab.len());
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    let mut line: Vec<u8> = Vec::with_capacity(256);
    while written < size {
        line.clear();
        let words = 6 + rng.below(9);
        for i in 0..words {
            let r = rng.next_u64();
            let rank = cdf.partition_point(|c| *c < r).min(vocab.len() - 1);
            let word = &vocab[rank];
            let start = line.len();
            line.extend_from_slice(word);
            let extra = rng.below(100);
            if i == 0 && extra < 20 {
                line[start] = line[start].to_ascii_uppercase();
            }
            if extra >= 95 {
                line.push(b',');
            } else if extra >= 92 || i + 1 == words {
                line.push(b'.');
            }
            if i + 1 < words {
                line.push(if rng.below(50) == 0 { b'\t' } else { b' ' });
            }
        }
        line.push(b'\n');
        let room = size - written;
        if line.len() as u64 > room {
            line.truncate(room as usize);
            if let Some(last) = line.last_mut() {
                *last = b'\n';
            }
        }
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    Ok(())
}

/// The generated text as bytes (tests, small inputs).
pub fn generate_bytes(size: u64, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(size as usize);
    // Writing to a Vec cannot fail.
    let _ = generate(&mut v, size, seed);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn exact_size_and_final_newline() {
        for size in [0u64, 1, 2, 17, 1024, 100_000] {
            let t = generate_bytes(size, 42);
            assert_eq!(t.len() as u64, size);
            if size > 0 {
                assert_eq!(t.last(), Some(&b'\n'), "size {size}");
            }
        }
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(generate_bytes(50_000, 7), generate_bytes(50_000, 7));
        assert_ne!(generate_bytes(50_000, 7), generate_bytes(50_000, 8));
        // A shorter file is a prefix of a longer one up to its cut last line.
        let long = generate_bytes(10_000, 3);
        let short = generate_bytes(5_000, 3);
        let cut = short[..short.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap_or(0);
        assert_eq!(&short[..cut], &long[..cut]);
    }

    #[test]
    fn vocabulary_is_distinct_and_realistic() {
        let v = vocabulary(42);
        assert_eq!(v.len(), VOCABULARY);
        let distinct: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(distinct.len(), VOCABULARY);
        let mean = v.iter().map(|w| w.len()).sum::<usize>() as f64 / v.len() as f64;
        assert!((4.0..9.0).contains(&mean), "mean length {mean}");
        assert!(v.iter().all(|w| w.iter().all(u8::is_ascii_lowercase)));
    }

    #[test]
    fn skewed_words_and_plain_ascii_separators() {
        let t = generate_bytes(2_000_000, 42);
        let mut counts: HashMap<&[u8], u64> = HashMap::new();
        let mut total = 0u64;
        for w in t
            .split(|b| matches!(b, b' ' | b'\t' | b'\n'))
            .filter(|w| !w.is_empty())
        {
            *counts.entry(w).or_default() += 1;
            total += 1;
        }
        let mut freq: Vec<u64> = counts.values().copied().collect();
        freq.sort_unstable_by(|a, b| b.cmp(a));
        // Zipf: the top word is about 1/H(5000) ≈ 11% of words (a little less after
        // punctuation variants); the tail is long.
        assert!(freq[0] as f64 / total as f64 > 0.05, "{:?}", &freq[..5]);
        assert!(counts.len() > 3000, "{} distinct tokens", counts.len());
        assert!(t.contains(&b'\t'));
        assert!(
            t.iter()
                .all(|b| b.is_ascii() && (*b >= b' ' || *b == b'\t' || *b == b'\n'))
        );
    }
}
