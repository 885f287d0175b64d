//! Every transformation and action in local mode against a plain-Rust reference, on
//! generated data with skewed keys, with a task memory small enough that shuffles,
//! aggregations and sorts spill.

use std::collections::{BTreeMap, HashMap};

use spindle::{Config, Context, Dataset, Master};

fn context(threads: usize, task_memory: u64) -> Context {
    let mut config = Config::from_env().expect("config");
    config.master = Master::Local(threads);
    config.default_parallelism = threads;
    config.task_memory = task_memory;
    Context::with_config(config).expect("context")
}

/// Skewed keys: a third of all records share key 0; the rest spread over `spread` keys.
fn skewed(n: u64, spread: u64) -> Vec<(u64, u64)> {
    (0..n)
        .map(|i| {
            let k = if i % 3 == 0 {
                0
            } else {
                1 + (i * 2_654_435_761) % spread
            };
            (k, i)
        })
        .collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn pairs(sc: &Context, data: &[(u64, u64)], parts: usize) -> Dataset<(u64, u64)> {
    sc.parallelize(data.to_vec(), parts).expect("parallelize")
}

#[test]
fn narrow_transformations_match_the_reference() {
    let sc = context(3, 64 << 20);
    let data: Vec<u64> = (0..10_000).collect();
    let ds = sc.parallelize(data.clone(), 7).expect("parallelize");
    assert_eq!(ds.partitions(), 7);

    let got = ds.map(|x| x * 3 + 1).collect().expect("map");
    assert_eq!(got, data.iter().map(|x| x * 3 + 1).collect::<Vec<_>>());

    let got = ds.filter(|x| x % 7 == 3).collect().expect("filter");
    assert_eq!(
        got,
        data.iter()
            .copied()
            .filter(|x| x % 7 == 3)
            .collect::<Vec<_>>()
    );

    let got = ds
        .flat_map(|x| std::iter::repeat_n(x, (x % 3) as usize))
        .collect()
        .expect("flat_map");
    let want: Vec<u64> = data
        .iter()
        .flat_map(|&x| std::iter::repeat_n(x, (x % 3) as usize))
        .collect();
    assert_eq!(got, want);

    let got = ds
        .map_partitions(|it| vec![it.sum::<u64>()])
        .collect()
        .expect("map_partitions");
    assert_eq!(got.len(), 7);
    assert_eq!(got.iter().sum::<u64>(), data.iter().sum::<u64>());

    let got = ds
        .map_partitions_with_index(|i, it| it.map(move |x| (i, x)))
        .collect()
        .expect("map_partitions_with_index");
    for w in got.windows(2) {
        assert!(w[0].0 <= w[1].0, "partition order kept");
    }

    let got = ds
        .key_by(|x| x % 10)
        .map_values(|x| x + 1)
        .collect()
        .expect("key_by");
    assert_eq!(
        got,
        data.iter().map(|&x| (x % 10, x + 1)).collect::<Vec<_>>()
    );
    let got = ds.key_by(|x| x % 10).keys().collect().expect("keys");
    assert_eq!(got, data.iter().map(|x| x % 10).collect::<Vec<_>>());

    let other = sc.parallelize(vec![1u64, 2, 3], 2).expect("parallelize");
    let u = ds.union(&other);
    assert_eq!(u.partitions(), 9);
    let mut want = data.clone();
    want.extend([1, 2, 3]);
    assert_eq!(u.collect().expect("union"), want);

    let c = ds.coalesce(2);
    assert_eq!(c.partitions(), 2);
    assert_eq!(c.collect().expect("coalesce"), data);
}

#[test]
fn a_value_handed_with_with_reaches_every_task() {
    let sc = context(2, 64 << 20);
    let text: Vec<String> = (0..500)
        .map(|i| format!("line {i} {}", if i % 5 == 0 { "spindle" } else { "spark" }))
        .collect();
    let lines = sc.parallelize(text.clone(), 4).expect("parallelize");
    let word = String::from("spindle");
    let min = 2usize;
    let hits = lines
        .with((word, min))
        .expect("with")
        .filter(|(word, min), line| line.contains(word.as_str()) && line.len() > *min);
    assert_eq!(hits.count().expect("count"), 100);
    let lens = lines
        .with(10usize)
        .expect("with")
        .map(|add, l| l.len() + add)
        .reduce(|a, b| a.max(b));
    let want = text.iter().map(|l| l.len() + 10).max();
    assert_eq!(lens.ok(), want);
}

#[test]
fn actions_match_the_reference() {
    let sc = context(4, 64 << 20);
    let data: Vec<u64> = (1..=1000).collect();
    let ds = sc.parallelize(data.clone(), 8).expect("parallelize");
    assert_eq!(ds.count().expect("count"), 1000);
    assert_eq!(ds.take(5).expect("take"), vec![1, 2, 3, 4, 5]);
    assert_eq!(ds.take(300).expect("take").len(), 300);
    assert_eq!(ds.take(5000).expect("take all"), data);
    assert_eq!(ds.first().expect("first"), 1);
    assert_eq!(ds.reduce(|a, b| a + b).expect("reduce"), 500_500);
    assert_eq!(ds.fold(0, |a, b| a + b).expect("fold"), 500_500);
    ds.foreach(|x| assert!(x >= 1)).expect("foreach");

    let empty = sc.parallelize(Vec::<u64>::new(), 3).expect("parallelize");
    assert_eq!(empty.count().expect("count"), 0);
    assert!(empty.first().is_err());
    assert!(empty.reduce(|a, b| a + b).is_err());
    assert_eq!(empty.fold(7, |a, b| a + b).expect("fold"), 7 * 4);

    let keyed = pairs(&sc, &skewed(5000, 50), 5);
    let got = keyed.count_by_key().expect("count_by_key");
    let mut want: HashMap<u64, u64> = HashMap::new();
    for (k, _) in skewed(5000, 50) {
        *want.entry(k).or_default() += 1;
    }
    assert_eq!(got, want);
}

#[test]
fn aggregations_match_the_reference_and_spill() {
    // 16 KiB per task: every map-side combine and reduce-side merge spills many times.
    let sc = context(3, 16 << 10);
    let data = skewed(60_000, 5_000);
    let ds = pairs(&sc, &data, 6);

    let mut want: BTreeMap<u64, u64> = BTreeMap::new();
    for &(k, v) in &data {
        *want.entry(k).or_default() += v;
    }
    let got: BTreeMap<u64, u64> = ds
        .reduce_by_key(|a, b| a + b, 4)
        .collect()
        .expect("reduce_by_key")
        .into_iter()
        .collect();
    assert_eq!(got, want);

    let got: BTreeMap<u64, (u64, u64)> = ds
        .aggregate_by_key(
            (0u64, 0u64),
            |(s, n), v| (s + v, n + 1),
            |a, b| (a.0 + b.0, a.1 + b.1),
            3,
        )
        .expect("aggregate_by_key")
        .collect()
        .expect("collect")
        .into_iter()
        .collect();
    let mut want_agg: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for &(k, v) in &data {
        let e = want_agg.entry(k).or_default();
        e.0 += v;
        e.1 += 1;
    }
    assert_eq!(got, want_agg);

    let got: BTreeMap<u64, Vec<u64>> = ds
        .group_by_key(5)
        .map_values(sorted)
        .collect()
        .expect("group_by_key")
        .into_iter()
        .collect();
    let mut want_groups: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(k, v) in &data {
        want_groups.entry(k).or_default().push(v);
    }
    let want_groups: BTreeMap<u64, Vec<u64>> = want_groups
        .into_iter()
        .map(|(k, v)| (k, sorted(v)))
        .collect();
    assert_eq!(got, want_groups);

    let got = sorted(ds.keys().distinct(3).collect().expect("distinct"));
    assert_eq!(got, want.keys().copied().collect::<Vec<_>>());

    // reduce_by_key with a value handed in.
    let got: BTreeMap<u64, u64> = ds
        .with(1000u64)
        .expect("with")
        .reduce_by_key(|m, a, b| (a + b) % m, None)
        .collect()
        .expect("collect")
        .into_iter()
        .collect();
    for (k, v) in &got {
        assert!(*v < 1000, "key {k}");
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn joins_match_the_reference() {
    let sc = context(3, 32 << 10);
    let left = skewed(3000, 200);
    let right: Vec<(u64, String)> = (0..400u64)
        .filter(|k| k % 3 != 0)
        .map(|k| (k % 250, format!("r{k}")))
        .collect();
    let l = pairs(&sc, &left, 4);
    let r = sc.parallelize(right.clone(), 3).expect("parallelize");

    let mut by_key_r: HashMap<u64, Vec<String>> = HashMap::new();
    for (k, w) in &right {
        by_key_r.entry(*k).or_default().push(w.clone());
    }
    let mut by_key_l: HashMap<u64, Vec<u64>> = HashMap::new();
    for (k, v) in &left {
        by_key_l.entry(*k).or_default().push(*v);
    }

    let mut want = Vec::new();
    for (k, v) in &left {
        for w in by_key_r.get(k).into_iter().flatten() {
            want.push((*k, (*v, w.clone())));
        }
    }
    assert_eq!(sorted(l.join(&r, 5).collect().expect("join")), sorted(want));

    let mut want = Vec::new();
    for (k, v) in &left {
        match by_key_r.get(k) {
            Some(ws) => want.extend(ws.iter().map(|w| (*k, (*v, Some(w.clone()))))),
            None => want.push((*k, (*v, None))),
        }
    }
    assert_eq!(
        sorted(l.left_outer_join(&r, None).collect().expect("left")),
        sorted(want)
    );

    let mut want = Vec::new();
    for (k, w) in &right {
        match by_key_l.get(k) {
            Some(vs) => want.extend(vs.iter().map(|v| (*k, (Some(*v), w.clone())))),
            None => want.push((*k, (None, w.clone()))),
        }
    }
    assert_eq!(
        sorted(l.right_outer_join(&r, 2).collect().expect("right")),
        sorted(want)
    );

    let full = l.full_outer_join(&r, 4).collect().expect("full");
    let only_left = full
        .iter()
        .filter(|(_, (v, w))| v.is_some() && w.is_none())
        .count();
    let only_right = full
        .iter()
        .filter(|(_, (v, w))| v.is_none() && w.is_some())
        .count();
    let both = full
        .iter()
        .filter(|(_, (v, w))| v.is_some() && w.is_some())
        .count();
    let want_only_left = left
        .iter()
        .filter(|(k, _)| !by_key_r.contains_key(k))
        .count();
    let want_only_right = right
        .iter()
        .filter(|(k, _)| !by_key_l.contains_key(k))
        .count();
    let want_both: usize = left
        .iter()
        .map(|(k, _)| by_key_r.get(k).map_or(0, Vec::len))
        .sum();
    assert_eq!(
        (only_left, only_right, both),
        (want_only_left, want_only_right, want_both)
    );

    let cg = l.cogroup(&r, 3).collect().expect("cogroup");
    let keys: std::collections::BTreeSet<u64> =
        by_key_l.keys().chain(by_key_r.keys()).copied().collect();
    assert_eq!(cg.len(), keys.len());
    for (k, (vs, ws)) in cg {
        assert_eq!(vs.len(), by_key_l.get(&k).map_or(0, Vec::len), "key {k}");
        assert_eq!(ws.len(), by_key_r.get(&k).map_or(0, Vec::len), "key {k}");
    }
}

#[test]
fn sorts_are_total_across_partitions_and_spill() {
    let sc = context(4, 16 << 10);
    let data: Vec<(u64, u64)> = (0..40_000u64).map(|i| ((i * 7919) % 10_007, i)).collect();
    let ds = pairs(&sc, &data, 6);

    let asc = ds.sort_by_key(true, 5).expect("sort_by_key");
    let got: Vec<u64> = asc.keys().collect().expect("collect");
    let want: Vec<u64> = sorted(data.iter().map(|p| p.0).collect());
    assert_eq!(got, want);
    assert!(asc.partitions() > 1, "range partitioned");

    let desc = ds.sort_by_key(false, 3).expect("sort_by_key");
    let got: Vec<u64> = desc.keys().collect().expect("collect");
    let mut want_desc = want.clone();
    want_desc.reverse();
    assert_eq!(got, want_desc);

    let words = sc
        .parallelize(
            (0..3000)
                .map(|i| format!("w{:05}", (i * 37) % 3000))
                .collect::<Vec<_>>(),
            4,
        )
        .expect("parallelize");
    let by_len_then_text = words
        .sort_by(|w| w.clone(), true, 4)
        .expect("sort_by")
        .collect()
        .expect("collect");
    let mut want_words: Vec<String> = (0..3000)
        .map(|i| format!("w{:05}", (i * 37) % 3000))
        .collect();
    want_words.sort();
    assert_eq!(by_len_then_text, want_words);
}

#[test]
fn repartition_and_sample_keep_what_they_promise() {
    let sc = context(2, 64 << 20);
    let data: Vec<u64> = (0..10_000).collect();
    let ds = sc.parallelize(data.clone(), 3).expect("parallelize");
    let re = ds.repartition(8);
    assert_eq!(re.partitions(), 8);
    let sizes = re
        .map_partitions(|it| vec![it.count()])
        .collect()
        .expect("sizes");
    assert_eq!(sizes.len(), 8);
    assert_eq!(sizes.iter().sum::<usize>(), 10_000);
    for s in &sizes {
        assert!((1_200..=1_300).contains(s), "{sizes:?}");
    }
    assert_eq!(sorted(re.collect().expect("collect")), data);

    let s1 = ds
        .sample(false, 0.1, 42)
        .expect("sample")
        .collect()
        .expect("collect");
    let s2 = ds
        .sample(false, 0.1, 42)
        .expect("sample")
        .collect()
        .expect("collect");
    assert_eq!(s1, s2, "same seed, same sample");
    assert!((800..1200).contains(&s1.len()), "{}", s1.len());
    let with = ds
        .sample(true, 2.0, 7)
        .expect("sample")
        .count()
        .expect("count");
    assert!((18_000..22_000).contains(&with), "{with}");
    assert!(ds.sample(false, 1.5, 1).is_err());
}

#[test]
fn a_later_job_reuses_shuffle_output_and_jobs_can_be_many() {
    let sc = context(2, 64 << 20);
    let ds = pairs(&sc, &skewed(2000, 30), 4);
    let reduced = ds.reduce_by_key(|a, b| a + b, 3);
    let first = sorted(reduced.collect().expect("first job"));
    // The second job finds the shuffle's map outputs and runs only the result stage:
    // the same answer, and it also holds for a job on a dataset built on top.
    let second = sorted(reduced.collect().expect("second job"));
    assert_eq!(first, second);
    assert_eq!(reduced.count().expect("count"), first.len() as u64);
    let total: u64 = reduced.values().reduce(|a, b| a + b).expect("reduce");
    assert_eq!(total, skewed(2000, 30).iter().map(|p| p.1).sum::<u64>());
}

#[test]
fn a_panicking_task_fails_the_job_with_its_message() {
    let sc = context(2, 64 << 20);
    let ds = sc
        .parallelize((0..100u64).collect(), 4)
        .expect("parallelize");
    let err = ds
        .map(|x| {
            if x == 77 {
                panic!("record {x} is cursed")
            } else {
                x
            }
        })
        .count()
        .expect_err("the job must fail");
    let msg = err.to_string();
    assert!(msg.contains("record 77 is cursed"), "{msg}");
    assert!(msg.contains("failed"), "{msg}");
}

#[test]
fn results_over_the_limit_are_refused_clearly() {
    let mut config = Config::from_env().expect("config");
    config.master = Master::Local(2);
    config.max_result_size = 10_000;
    let sc = Context::with_config(config).expect("context");
    let ds = sc
        .parallelize((0..100_000u64).collect(), 4)
        .expect("parallelize");
    let err = ds.collect().expect_err("over the limit");
    let msg = err.to_string();
    assert!(msg.contains("over the limit of 10000 bytes"), "{msg}");
    assert_eq!(ds.count().expect("count is small"), 100_000);
}

#[test]
fn text_files_are_read_and_written_with_hadoops_rules() {
    let sc = context(3, 64 << 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    let mut want_words: BTreeMap<String, u64> = BTreeMap::new();
    for f in 0..3 {
        let mut text = String::new();
        for i in 0..2000 {
            let line = format!(
                "the {} fox {}\n",
                ["quick", "lazy", "brown"][(i + f) % 3],
                i % 17
            );
            for w in line.split_whitespace() {
                *want_words.entry(w.to_string()).or_default() += 1;
            }
            text.push_str(&line);
        }
        std::fs::write(input.join(format!("part-{f}")), text).expect("write");
    }
    std::fs::write(input.join("_ignored"), "not input\n").expect("write");
    let lines = sc
        .text_file(input.to_str().expect("utf-8"))
        .expect("text_file");
    assert_eq!(lines.count().expect("count"), 6000);

    let counts = lines
        .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b, 2);
    let out = dir.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    counts
        .map(|(w, n)| format!("{w}\t{n}"))
        .save_as_text_file(out_s)
        .expect("save");
    assert!(out.join("_SUCCESS").exists());
    assert!(!out.join("_temporary").exists());
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for p in 0..2 {
        let text = std::fs::read_to_string(out.join(format!("part-{p:05}"))).expect("part file");
        for line in text.lines() {
            let (w, n) = line.split_once('\t').expect("tab");
            got.insert(w.to_string(), n.parse().expect("number"));
        }
    }
    assert_eq!(got, want_words);

    let again = counts
        .map(|(w, _)| w)
        .save_as_text_file(out_s)
        .expect_err("exists");
    assert!(again.to_string().contains("already exists"), "{again}");

    let failing = lines.map(|l| {
        if l.contains("fox 16") {
            panic!("bad line")
        } else {
            l
        }
    });
    let failed_out = dir.path().join("failed");
    let err = failing
        .save_as_text_file(failed_out.to_str().expect("utf-8"))
        .expect_err("fails");
    assert!(err.to_string().contains("bad line"), "{err}");
    assert!(
        !failed_out.exists(),
        "a failed job leaves no output directory"
    );

    let missing = sc.text_file(dir.path().join("nope").to_str().expect("utf-8"));
    assert!(missing.is_err());
}
