//! Spindle's example applications, one binary: each subcommand is an ordinary program
//! on the dataset API, run locally (`spindle-examples wordcount in out`) or on YARN
//! (`spindle submit ./spindle-examples wordcount in out`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod selftest;

/// An application picks its allocator; these examples take mimalloc: a word count
/// allocates a string per word, and glibc's malloc made it 40% slower and its peak RSS
/// a third higher on the same data. (Built with `no_thp`: see examples/Cargo.toml.)
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
        /// Reduce partitions (output files) [default: the default parallelism]
        #[arg(long)]
        partitions: Option<usize>,
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
        let summary = summary(&cli.app);
        sc.set_job_description(summary.as_deref());
        let started = std::time::Instant::now();
        run(sc, cli.app)?;
        if let Some(s) = summary {
            // On the driver's stdout: the terminal locally, the AM's log on YARN.
            println!("{s} in {:.1} s", started.elapsed().as_secs_f64());
        }
        Ok::<(), Error>(())
    })
}

/// What a run of the built-in jobs (`spindle submit wordcount|linecount|grep`) says
/// when it is done.
fn summary(app: &App) -> Option<String> {
    let (job, input, output) = match app {
        App::Wordcount { input, output, .. } => ("wordcount", input, output),
        App::Linecount { input, output } => ("linecount", input, output),
        App::Grep { input, output, .. } => ("grep", input, output),
        _ => return None,
    };
    Some(format!("{job} of {input} → {output}"))
}

/// The words of a line, borrowed from it.
/// Split on Hadoop's WordCount delimiters, " \t\n\r\f": exactly ASCII whitespace.
fn words_of(line: &str) -> impl Iterator<Item = &str> {
    line.split_ascii_whitespace()
}

/// Counts keys within a partition before the shuffle ("in-mapper combining"): a
/// key seen again costs a lookup, not an allocation. At most `LOCAL_KEYS` keys are
/// held; then they go on to `reduce_by_key`, whose combiner spills within the task's
/// memory budget, so memory stays bounded whatever the number of distinct keys.
struct LocalCounts<I, F> {
    lines: I,
    keys_of: F,
    counts: std::collections::HashMap<String, u64, foldhash::fast::RandomState>,
    out: std::vec::IntoIter<(String, u64)>,
    done: bool,
}

const LOCAL_KEYS: usize = 1 << 16;

impl<I, F> LocalCounts<I, F>
where
    I: Iterator<Item = String>,
    F: FnMut(&str, &mut dyn FnMut(&str)),
{
    fn new(lines: I, keys_of: F) -> Self {
        LocalCounts {
            lines,
            keys_of,
            counts: Default::default(),
            out: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl<I, F> Iterator for LocalCounts<I, F>
where
    I: Iterator<Item = String>,
    F: FnMut(&str, &mut dyn FnMut(&str)),
{
    type Item = (String, u64);

    fn next(&mut self) -> Option<(String, u64)> {
        loop {
            if let Some(pair) = self.out.next() {
                return Some(pair);
            }
            if self.done {
                return None;
            }
            while self.counts.len() < LOCAL_KEYS {
                let Some(line) = self.lines.next() else {
                    self.done = true;
                    break;
                };
                let counts = &mut self.counts;
                (self.keys_of)(&line, &mut |key| match counts.get_mut(key) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(key.to_string(), 1);
                    }
                });
            }
            self.out = self.counts.drain().collect::<Vec<_>>().into_iter();
        }
    }
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
            .map_partitions(|lines| {
                LocalCounts::new(lines, |line, emit| words_of(line).for_each(emit))
            })
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
            partitions,
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
                    LocalCounts::new(lines, move |line, emit| {
                        if let Some(re) = &re {
                            re.find_iter(line).for_each(|m| emit(m.as_str()));
                        }
                    })
                })
                .reduce_by_key(|a, b| a + b, partitions)
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
        let got: Vec<&str> = words_of("a  b\tc\u{c}d\r").collect();
        assert_eq!(got, ["a", "b", "c", "d"]);
    }

    #[test]
    fn local_counts_flush_at_their_bound_and_lose_nothing() {
        let lines: Vec<String> = (0..3 * LOCAL_KEYS as u64 / 2)
            .map(|i| format!("k{i} common k{i}"))
            .collect();
        let n = lines.len() as u64;
        let out: Vec<(String, u64)> =
            LocalCounts::new(lines.into_iter(), |l, emit| words_of(l).for_each(emit)).collect();
        // Two batches: the bound was reached once, so "common" comes out twice.
        let common: Vec<u64> = out
            .iter()
            .filter(|(k, _)| k == "common")
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(common.len(), 2, "{common:?}");
        assert_eq!(common.iter().sum::<u64>(), n);
        let mut total = std::collections::HashMap::new();
        for (k, c) in out {
            *total.entry(k).or_insert(0) += c;
        }
        assert_eq!(total.len() as u64, n + 1);
        assert!(total.iter().all(|(k, &c)| k == "common" || c == 2));
    }
}
