//! Spindle's example applications, one binary: each subcommand is an ordinary program
//! on the dataset API, run locally (`spindle-examples wordcount in out`) or on YARN
//! (`spindle submit ./spindle-examples wordcount in out`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod selftest;

/// An application picks its allocator; these examples take mimalloc: a word count
/// allocates a string per word, and glibc's malloc made it 40% slower and its peak RSS
/// a third higher on the same data.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use spindle::{Context, Dataset, Error, Result};

/// Example Spindle applications (run locally, or on YARN with `spindle submit`).
#[derive(Debug, Parser)]
#[command(name = "spindle-examples", version)]
struct Cli {
    #[command(subcommand)]
    app: App,
}

#[derive(Debug, Subcommand)]
enum App {
    /// Words and their counts, as `word<TAB>count` lines (words split on " \t\n\r\f").
    Wordcount {
        input: String,
        output: String,
        /// Reduce partitions (output files) [default: the default parallelism]
        #[arg(long)]
        partitions: Option<usize>,
    },
    /// The number of lines, as one `lines<TAB>count` line.
    Linecount { input: String, output: String },
    /// Each match of a regular expression and how often it occurs.
    Grep {
        input: String,
        output: String,
        /// The regular expression.
        #[arg(allow_hyphen_values = true)]
        pattern: String,
    },
    /// Inner join of two `key<TAB>value` inputs, as `key<TAB>left<TAB>right` lines.
    Join {
        left: String,
        right: String,
        output: String,
    },
    /// Writes `records` TeraSort-style 100-byte records (a 10-byte key, then the
    /// record's number and filler) in `partitions` files.
    Teragen {
        records: u64,
        output: String,
        #[arg(long, default_value_t = 4)]
        partitions: usize,
    },
    /// Writes `lines` lines of 8 words, all distinct (`w<number in hex>`): the input of a
    /// word count whose shuffle is as large as its input.
    Textgen {
        lines: u64,
        output: String,
        #[arg(long, default_value_t = 8)]
        partitions: usize,
    },
    /// Sorts records by their first 10 bytes, totally across the output files.
    Sort {
        input: String,
        output: String,
        #[arg(long)]
        partitions: Option<usize>,
    },
    /// Checks that a sort's output is ordered within and across its files; prints the
    /// record count and a checksum of the records (equal to the input's).
    Teravalidate { input: String },
    /// Every transformation and action against a plain-Rust reference (skewed keys);
    /// prints a line per check, fails on the first mismatch.
    Selftest {
        #[arg(long, default_value_t = 20_000)]
        records: u64,
        #[arg(long, default_value_t = 6)]
        partitions: usize,
    },
    /// PageRank over `source destination` edge lines, `iterations` times; writes
    /// `page<TAB>rank` lines.
    Pagerank {
        input: String,
        output: String,
        #[arg(long, default_value_t = 10)]
        iterations: u32,
    },
}

fn main() -> ExitCode {
    spindle::main(|sc| {
        let cli = Cli::parse();
        run(sc, cli.app)
    })
}

/// Hadoop's WordCount delimiters.
fn is_delimiter(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

fn words(line: String) -> Vec<String> {
    line.split(is_delimiter)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn tsv<K: std::fmt::Display, V: std::fmt::Display>((k, v): (K, V)) -> String {
    format!("{k}\t{v}")
}

fn run(sc: &Context, app: App) -> Result<()> {
    match app {
        App::Wordcount {
            input,
            output,
            partitions,
        } => sc
            .text_file(&input)?
            .flat_map(words)
            .map(|w| (w, 1u64))
            .reduce_by_key(|a, b| a + b, partitions)
            .map(tsv)
            .save_as_text_file(&output),
        App::Linecount { input, output } => {
            let n = sc.text_file(&input)?.count()?;
            sc.parallelize(vec![format!("lines\t{n}")], 1)?
                .save_as_text_file(&output)
        }
        App::Grep {
            input,
            output,
            pattern,
        } => {
            regex::Regex::new(&pattern).map_err(|e| Error::Invalid {
                what: "regular expression".into(),
                message: e.to_string(),
            })?;
            sc.text_file(&input)?
                .with(pattern)?
                .map_partitions_with_index(|pattern, _, lines| {
                    // Compiled once per task; checked above, so this cannot fail.
                    let re = regex::Regex::new(pattern).ok();
                    lines.flat_map(move |line| match &re {
                        Some(re) => re
                            .find_iter(&line)
                            .map(|m| (m.as_str().to_string(), 1u64))
                            .collect(),
                        None => Vec::new(),
                    })
                })
                .reduce_by_key(|a, b| a + b, None)
                .map(tsv)
                .save_as_text_file(&output)
        }
        App::Join {
            left,
            right,
            output,
        } => {
            let pairs = |path: &str| -> Result<Dataset<(String, String)>> {
                Ok(sc.text_file(path)?.flat_map(|l| {
                    l.split_once('\t')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                }))
            };
            pairs(&left)?
                .join(&pairs(&right)?, None)
                .map(|(k, (a, b))| format!("{k}\t{a}\t{b}"))
                .save_as_text_file(&output)
        }
        App::Teragen {
            records,
            output,
            partitions,
        } => {
            let n = partitions.max(1);
            let slices: Vec<(u64, u64)> = (0..n as u64)
                .map(|i| (i * records / n as u64, (i + 1) * records / n as u64))
                .collect();
            sc.parallelize(slices, n)?
                .flat_map(|(from, to)| (from..to).map(record))
                .save_as_text_file(&output)
        }
        App::Textgen {
            lines,
            output,
            partitions,
        } => {
            let n = partitions.max(1) as u64;
            let slices: Vec<(u64, u64)> = (0..n)
                .map(|i| (i * lines / n, (i + 1) * lines / n))
                .collect();
            sc.parallelize(slices, partitions.max(1))?
                .flat_map(|(from, to)| {
                    (from..to).map(|i| {
                        let w = i * 8;
                        format!(
                            "w{:x} w{:x} w{:x} w{:x} w{:x} w{:x} w{:x} w{:x}",
                            w,
                            w + 1,
                            w + 2,
                            w + 3,
                            w + 4,
                            w + 5,
                            w + 6,
                            w + 7
                        )
                    })
                })
                .save_as_text_file(&output)
        }
        App::Sort {
            input,
            output,
            partitions,
        } => sc
            .text_file(&input)?
            .sort_by(
                |line| line.get(..10).unwrap_or(line).to_string(),
                true,
                partitions,
            )?
            .save_as_text_file(&output),
        App::Teravalidate { input } => {
            let parts = sc
                .text_file(&input)?
                .map_partitions_with_index(|i, lines| {
                    let mut first: Option<String> = None;
                    let mut last: Option<String> = None;
                    let (mut count, mut sum, mut unordered) = (0u64, 0u64, 0u64);
                    for line in lines {
                        let key = line.get(..10).unwrap_or(&line).to_string();
                        if last.as_ref().is_some_and(|l| *l > key) {
                            unordered += 1;
                        }
                        sum = sum.wrapping_add(checksum(&line));
                        count += 1;
                        if first.is_none() {
                            first = Some(key.clone());
                        }
                        last = Some(key);
                    }
                    vec![(i, first, last, count, sum, unordered)]
                })
                .collect()?;
            let mut previous: Option<String> = None;
            let (mut count, mut sum) = (0u64, 0u64);
            for (i, first, last, n, s, unordered) in parts {
                if unordered > 0 {
                    return Err(Error::Invalid {
                        what: "sort output".into(),
                        message: format!("{unordered} records out of order in partition {i}"),
                    });
                }
                if let (Some(p), Some(f)) = (&previous, &first)
                    && p > f
                {
                    return Err(Error::Invalid {
                        what: "sort output".into(),
                        message: format!(
                            "partition {i} starts with {f:?}, before the previous one's end {p:?}"
                        ),
                    });
                }
                if last.is_some() {
                    previous = last;
                }
                count += n;
                sum = sum.wrapping_add(s);
            }
            println!("records\t{count}\nchecksum\t{sum:016x}");
            Ok(())
        }
        App::Selftest {
            records,
            partitions,
        } => selftest::run(sc, records, partitions),
        App::Pagerank {
            input,
            output,
            iterations,
        } => {
            let links = sc
                .text_file(&input)?
                .flat_map(|l| {
                    let mut it = l.split_whitespace();
                    match (it.next(), it.next()) {
                        (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
                        _ => None,
                    }
                })
                .distinct(None)
                .group_by_key(None);
            let mut ranks = links.map_values(|_| 1.0f64);
            for _ in 0..iterations {
                let contributions = links.join(&ranks, None).values().flat_map(|(urls, rank)| {
                    let share = rank / urls.len() as f64;
                    urls.into_iter().map(move |u| (u, share))
                });
                ranks = contributions
                    .reduce_by_key(|a, b| a + b, None)
                    .map_values(|sum| 0.15 + 0.85 * sum);
            }
            ranks
                .map(|(page, rank)| format!("{page}\t{rank:.6}"))
                .save_as_text_file(&output)
        }
    }
}

/// Record `i` of teragen: a 10-character key from a fixed pseudo-random sequence, the
/// record number, and filler up to 99 characters (100 bytes with the newline).
fn record(i: u64) -> String {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let key: String = (0..10)
        .map(|_| char::from(rng.random_range(b' '..=b'~')))
        .collect();
    let mut line = format!("{key}{i:>20}");
    while line.len() < 99 {
        line.push(char::from(b'A' + (line.len() % 26) as u8));
    }
    line
}

/// An order-independent checksum of one record (summed over all records).
fn checksum(line: &str) -> u64 {
    line.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_100_bytes_with_a_printable_key() {
        for i in [0, 1, 99_999_999] {
            let r = record(i);
            assert_eq!(r.len(), 99, "{r}");
            assert!(r[..10].bytes().all(|b| (b' '..=b'~').contains(&b)));
        }
        assert_ne!(record(1)[..10], record(2)[..10]);
    }

    #[test]
    fn words_split_like_hadoop() {
        assert_eq!(words("a  b\tc\u{c}d\r".into()), vec!["a", "b", "c", "d"]);
    }
}
