//! `spindle-examples selftest`: every transformation and action of the dataset API
//! against a plain-Rust reference, on generated data with skewed keys. Run locally it
//! checks local mode; submitted to YARN it checks the cluster (executors, fetches
//! between them, retries). Prints one line per check and fails on the first mismatch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use spindle::{Context, Dataset, Error, Result};

/// Skewed pairs: a third of the records share key 0, the rest spread over `spread` keys.
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

fn check<T: PartialEq + Debug>(what: &str, got: T, want: T) -> Result<()> {
    if got == want {
        println!("ok\t{what}");
        return Ok(());
    }
    let shown = |v: &T| {
        let s = format!("{v:?}");
        if s.len() > 300 {
            format!("{}…", &s[..300])
        } else {
            s
        }
    };
    Err(Error::Invalid {
        what: format!("selftest {what}"),
        message: format!("got {}, want {}", shown(&got), shown(&want)),
    })
}

fn group<K: Ord + Clone, V: Clone>(pairs: &[(K, V)]) -> BTreeMap<K, Vec<V>> {
    let mut m: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k.clone()).or_default().push(v.clone());
    }
    m
}

/// Runs every check with `parts` partitions per dataset.
pub fn run(sc: &Context, records: u64, parts: usize) -> Result<()> {
    let data = skewed(records, 1 + records / 20);
    let ds: Dataset<(u64, u64)> = sc.parallelize(data.clone(), parts)?;
    let nums: Vec<u64> = data.iter().map(|p| p.1).collect();
    let values = ds.values();

    // Narrow transformations and actions.
    check(
        "map",
        values.map(|x| x * 3 + 1).collect()?,
        nums.iter().map(|x| x * 3 + 1).collect(),
    )?;
    check(
        "filter",
        values.filter(|x| x % 7 == 3).collect()?,
        nums.iter().copied().filter(|x| x % 7 == 3).collect(),
    )?;
    check(
        "flat_map",
        values
            .flat_map(|x| std::iter::repeat_n(x, (x % 3) as usize))
            .count()?,
        nums.iter().map(|x| x % 3).sum::<u64>(),
    )?;
    check(
        "map_partitions",
        values
            .map_partitions(|it| vec![it.sum::<u64>()])
            .reduce(|a, b| a + b)?,
        nums.iter().sum(),
    )?;
    check("key_by", ds.keys().key_by(|k| k % 10).count()?, records)?;
    check(
        "map_values",
        ds.map_values(|v| v + 1).values().reduce(|a, b| a + b)?,
        nums.iter().map(|v| v + 1).sum(),
    )?;
    let threshold = records / 2;
    check(
        "with",
        values.with(threshold)?.filter(|t, x| x >= t).count()?,
        nums.iter().filter(|&&x| x >= threshold).count() as u64,
    )?;
    check("union", values.union(&values).count()?, 2 * records)?;
    check("coalesce", values.coalesce(2).collect()?, nums.clone())?;
    check(
        "repartition",
        sorted(values.repartition(parts + 3).collect()?),
        sorted(nums.clone()),
    )?;
    let sample = values.sample(false, 0.1, 7)?.collect()?;
    check(
        "sample is a subset",
        sample.iter().all(|x| *x < records),
        true,
    )?;
    check("count", ds.count()?, records)?;
    check("take", values.take(5)?, nums[..5.min(nums.len())].to_vec())?;
    check("first", values.first()?, nums[0])?;
    check("reduce", values.reduce(|a, b| a + b)?, nums.iter().sum())?;
    check("fold", values.fold(0, |a, b| a + b)?, nums.iter().sum())?;
    values.foreach(|x| assert!(x < u64::MAX))?;
    println!("ok\tforeach");

    // Keyed transformations.
    let mut sums: BTreeMap<u64, u64> = BTreeMap::new();
    for (k, v) in &data {
        *sums.entry(*k).or_default() += v;
    }
    check(
        "reduce_by_key",
        ds.reduce_by_key(|a, b| a + b, parts)
            .collect()?
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        sums.clone(),
    )?;
    let counts: HashMap<u64, u64> = group(&data)
        .into_iter()
        .map(|(k, v)| (k, v.len() as u64))
        .collect();
    check("count_by_key", ds.count_by_key()?, counts)?;
    check(
        "aggregate_by_key",
        ds.aggregate_by_key(0u64, |a, v| a.max(v), |a, b| a.max(b), None)?
            .collect()?
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        group(&data)
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().max().unwrap_or(0)))
            .collect(),
    )?;
    check(
        "group_by_key",
        ds.group_by_key(parts)
            .map_values(sorted)
            .collect()?
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        group(&data)
            .into_iter()
            .map(|(k, v)| (k, sorted(v)))
            .collect(),
    )?;
    check(
        "distinct",
        sorted(ds.keys().distinct(None).collect()?),
        sums.keys().copied().collect(),
    )?;

    let right_data: Vec<(u64, String)> = (0..records / 10)
        .map(|i| (i % (records / 15 + 1), format!("r{i}")))
        .collect();
    let right = sc.parallelize(right_data.clone(), parts.div_ceil(2))?;
    let rg = group(&right_data);
    let mut inner = Vec::new();
    let mut left_outer = Vec::new();
    for (k, v) in &data {
        match rg.get(k) {
            Some(ws) => {
                inner.extend(ws.iter().map(|w| (*k, (*v, w.clone()))));
                left_outer.extend(ws.iter().map(|w| (*k, (*v, Some(w.clone())))));
            }
            None => left_outer.push((*k, (*v, None))),
        }
    }
    let lg = group(&data);
    let mut right_outer = Vec::new();
    for (k, w) in &right_data {
        match lg.get(k) {
            Some(vs) => right_outer.extend(vs.iter().map(|v| (*k, (Some(*v), w.clone())))),
            None => right_outer.push((*k, (None, w.clone()))),
        }
    }
    let mut full: Vec<(u64, spindle::Outer<u64, String>)> = left_outer
        .iter()
        .map(|(k, (v, w))| (*k, (Some(*v), w.clone())))
        .collect();
    full.extend(right_outer.iter().filter_map(|(k, (v, w))| match v {
        None => Some((*k, (None, Some(w.clone())))),
        Some(_) => None,
    }));
    check(
        "join",
        sorted(ds.join(&right, parts).collect()?),
        sorted(inner),
    )?;
    check(
        "left_outer_join",
        sorted(ds.left_outer_join(&right, None).collect()?),
        sorted(left_outer),
    )?;
    check(
        "right_outer_join",
        sorted(ds.right_outer_join(&right, None).collect()?),
        sorted(right_outer),
    )?;
    check(
        "full_outer_join",
        sorted(ds.full_outer_join(&right, parts + 1).collect()?),
        sorted(full),
    )?;
    let keys: BTreeSet<u64> = lg.keys().chain(rg.keys()).copied().collect();
    check(
        "cogroup",
        ds.cogroup(&right, None).count()?,
        keys.len() as u64,
    )?;

    let by_key = ds.map(|(k, v)| (v % 1009, k)).sort_by_key(false, parts)?;
    let mut want_desc: Vec<u64> = data.iter().map(|(_, v)| v % 1009).collect();
    want_desc.sort_by(|a, b| b.cmp(a));
    check(
        "sort_by_key (descending)",
        by_key.keys().collect()?,
        want_desc,
    )?;
    let by_text = values.sort_by(|x| format!("{x:08}"), true, parts)?;
    check("sort_by", by_text.collect()?, sorted(nums))?;
    println!("selftest: every check passed");
    Ok(())
}
