//! Cutting input files into splits at block boundaries, each with the hosts that hold
//! most of its bytes (Hadoop's `FileInputFormat` rules, without its slop factor for now).

use crate::fs::{Block, FileInfo};

/// A byte range of one file: the input of one map task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Full URI of the file.
    pub path: String,
    /// First byte.
    pub start: u64,
    /// Number of bytes.
    pub length: u64,
    /// Hosts holding the data, best first.
    pub hosts: Vec<String>,
}

/// Cuts files into splits no larger than `min(block size, max_split_size)`, aligned to
/// block boundaries. Zero-length files give no split. Hosts: those holding the most
/// bytes of the split, best first.
///
/// A file whose block size is 0 (unknown) is cut by `max_split_size` alone; the split
/// size is never below one byte.
pub fn plan_splits(files: &[(FileInfo, Vec<Block>)], max_split_size: u64) -> Vec<Split> {
    let mut splits = Vec::new();
    for (file, blocks) in files {
        if file.length == 0 {
            continue;
        }
        let size = split_size(file.block_size, max_split_size);
        // Blocks sorted by offset let each split find its first block by binary search
        // instead of scanning the whole list (large files have thousands of blocks).
        let mut sorted: Vec<&Block> = blocks.iter().collect();
        sorted.sort_by_key(|b| b.offset);
        let mut start = 0u64;
        while start < file.length {
            let length = size.min(file.length - start);
            splits.push(Split {
                path: file.path.clone(),
                start,
                length,
                hosts: hosts_for(&sorted, start, start + length),
            });
            start += length;
        }
    }
    splits
}

fn split_size(block_size: u64, max_split_size: u64) -> u64 {
    let size = if block_size == 0 {
        max_split_size
    } else {
        block_size.min(max_split_size)
    };
    size.max(1)
}

/// Hosts of the blocks overlapping `[start, end)`, by bytes held in that range (most
/// first), ties by name.
fn hosts_for(sorted: &[&Block], start: u64, end: u64) -> Vec<String> {
    let first = sorted.partition_point(|b| b.offset.saturating_add(b.length) <= start);
    let mut held: Vec<(&str, u64)> = Vec::new();
    for block in sorted[first..].iter().take_while(|b| b.offset < end) {
        let lo = block.offset.max(start);
        let hi = block.offset.saturating_add(block.length).min(end);
        if hi <= lo {
            continue;
        }
        for host in &block.hosts {
            // Few hosts per split (replication × blocks per split): a linear search
            // beats a map here.
            match held.iter_mut().find(|(h, _)| *h == host.as_str()) {
                Some((_, bytes)) => *bytes += hi - lo,
                None => held.push((host.as_str(), hi - lo)),
            }
        }
    }
    held.sort_by(|(ha, a), (hb, b)| b.cmp(a).then_with(|| ha.cmp(hb)));
    held.into_iter().map(|(h, _)| h.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(path: &str, length: u64, block_size: u64) -> FileInfo {
        FileInfo {
            path: path.to_string(),
            length,
            is_dir: false,
            block_size,
            modification_time: 0,
        }
    }

    fn block(offset: u64, length: u64, hosts: &[&str]) -> Block {
        Block {
            offset,
            length,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    /// (start, length, hosts) of each split.
    type Expected = Vec<(u64, u64, Vec<&'static str>)>;

    #[test]
    fn table() {
        let cases: Vec<(&str, FileInfo, Vec<Block>, u64, Expected)> = vec![
            (
                "empty file gives no split",
                file("/e", 0, 128),
                vec![],
                1 << 30,
                vec![],
            ),
            (
                "one block, one split",
                file("/a", 100, 128),
                vec![block(0, 100, &["h1", "h2"])],
                1 << 30,
                vec![(0, 100, vec!["h1", "h2"])],
            ),
            (
                "split per block, last one short",
                file("/a", 250, 100),
                vec![
                    block(0, 100, &["h1", "h2"]),
                    block(100, 100, &["h2", "h3"]),
                    block(200, 50, &["h3"]),
                ],
                1 << 30,
                vec![
                    (0, 100, vec!["h1", "h2"]),
                    (100, 100, vec!["h2", "h3"]),
                    (200, 50, vec!["h3"]),
                ],
            ),
            (
                "max split size below block size cuts inside blocks",
                file("/a", 200, 100),
                vec![block(0, 100, &["a"]), block(100, 100, &["c", "b"])],
                60,
                vec![
                    (0, 60, vec!["a"]),
                    (60, 60, vec!["a", "b", "c"]),
                    (120, 60, vec!["b", "c"]),
                    (180, 20, vec!["b", "c"]),
                ],
            ),
            (
                "split across two blocks: most bytes first, ties by name",
                file("/a", 200, 1000),
                vec![block(0, 60, &["z", "y"]), block(60, 140, &["x", "z"])],
                1 << 30,
                // z holds 200, x 140, y 60.
                vec![(0, 200, vec!["z", "x", "y"])],
            ),
            (
                "unsorted blocks are fine",
                file("/a", 20, 10),
                vec![block(10, 10, &["b"]), block(0, 10, &["a"])],
                1 << 30,
                vec![(0, 10, vec!["a"]), (10, 10, vec!["b"])],
            ),
            (
                "no blocks (local file): no hosts",
                file("/l", 25, 10),
                vec![],
                1 << 30,
                vec![(0, 10, vec![]), (10, 10, vec![]), (20, 5, vec![])],
            ),
            (
                "zero block size means unknown: max split size alone",
                file("/z", 10, 0),
                vec![],
                4,
                vec![(0, 4, vec![]), (4, 4, vec![]), (8, 2, vec![])],
            ),
            (
                "zero max split size is one byte",
                file("/o", 2, 10),
                vec![block(0, 2, &["h"])],
                0,
                vec![(0, 1, vec!["h"]), (1, 1, vec!["h"])],
            ),
        ];
        for (name, info, blocks, max, want) in cases {
            let path = info.path.clone();
            let got = plan_splits(&[(info, blocks)], max);
            let want: Vec<Split> = want
                .into_iter()
                .map(|(start, length, hosts)| Split {
                    path: path.clone(),
                    start,
                    length,
                    hosts: hosts.into_iter().map(String::from).collect(),
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn several_files_in_order() {
        let files = vec![
            (file("/a", 15, 10), vec![]),
            (file("/empty", 0, 10), vec![]),
            (file("/b", 5, 10), vec![]),
        ];
        let got: Vec<(String, u64, u64)> = plan_splits(&files, 100)
            .into_iter()
            .map(|s| (s.path, s.start, s.length))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/a".to_string(), 0, 10),
                ("/a".to_string(), 10, 5),
                ("/b".to_string(), 0, 5),
            ]
        );
    }

    proptest! {
        #[test]
        fn splits_tile_each_file(
            lengths in proptest::collection::vec(0u64..5000, 1..5),
            block_size in 0u64..700,
            max in 0u64..900,
        ) {
            let files: Vec<(FileInfo, Vec<Block>)> = lengths
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let bs = block_size.max(1);
                    let blocks = (0..len.div_ceil(bs))
                        .map(|k| {
                            let off = k * bs;
                            block(off, bs.min(len - off), &[&format!("h{}", k % 3)])
                        })
                        .collect();
                    (file(&format!("/f{i}"), len, block_size), blocks)
                })
                .collect();
            let splits = plan_splits(&files, max);
            let size = split_size(block_size, max);
            for (info, _) in &files {
                let mine: Vec<&Split> =
                    splits.iter().filter(|s| s.path == info.path).collect();
                let mut next = 0;
                for s in &mine {
                    prop_assert_eq!(s.start, next);
                    prop_assert!(s.length >= 1 && s.length <= size);
                    prop_assert!(!s.hosts.is_empty());
                    next += s.length;
                }
                prop_assert_eq!(next, info.length);
                prop_assert_eq!(mine.is_empty(), info.length == 0);
            }
        }
    }
}
