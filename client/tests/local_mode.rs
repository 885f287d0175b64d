//! `spindle run --master local[N]`: the same driver and executors in-process, on local
//! files (no cluster needed).

use std::collections::BTreeMap;
use std::process::Output;

mod common;
use spindle_integration::output_text as text;

fn spindle(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .env_remove("HADOOP_CONF_DIR")
        .env("HADOOP_USER_NAME", "tester")
        .output()
        .expect("run spindle")
}

fn read_counts(dir: &std::path::Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for p in common::part_files(dir) {
        for line in std::fs::read_to_string(p).expect("part").lines() {
            let (k, v) = line.rsplit_once('\t').expect("key<TAB>count");
            out.insert(k.to_string(), v.parse().expect("count"));
        }
    }
    out
}

#[test]
fn local_wordcount_equals_the_reference_and_refuses_an_existing_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).expect("mkdir");
    let texts = [
        ("a.txt", "the quick brown fox\r\njumps over the lazy dog\n"),
        ("b.txt", "élan 東京 the\nno final newline"),
        ("sub/c.txt", "the the the\n"),
        ("empty.txt", ""),
    ];
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for (name, t) in texts {
        std::fs::write(input.join(name), t).expect("write");
        for w in t.split_whitespace() {
            *want.entry(w.to_string()).or_default() += 1;
        }
    }
    std::fs::write(input.join("_hidden.txt"), "hidden hidden\n").expect("write");
    let out = dir.path().join("out");
    let (i, o) = (input.to_string_lossy(), out.to_string_lossy());

    let run = spindle(&[
        "run",
        "--master",
        "local[2]",
        "--reducers",
        "3",
        "wordcount",
        &i,
        &o,
    ]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(out.join("_SUCCESS").is_file());
    assert!(!out.join("_temporary").exists());
    assert_eq!(read_counts(&out), want);

    let again = spindle(&["run", "wordcount", &i, &o]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}

#[test]
fn local_grep_and_bad_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "error 1\nok\nerror 22\nwarning\n").expect("write");
    let out = dir.path().join("out");
    let (i, o) = (input.to_string_lossy(), out.to_string_lossy());
    let run = spindle(&["run", "--master", "local", "grep", &i, &o, "error [0-9]+"]);
    assert!(run.status.success(), "{}", text(&run));
    let got = read_counts(&out);
    assert_eq!(got.get("error 1"), Some(&1));
    assert_eq!(got.get("error 22"), Some(&1));
    assert_eq!(got.len(), 2);

    let other = dir.path().join("other");
    let o2 = other.to_string_lossy();
    for (args, why) in [
        (
            vec!["run", "--master", "yarn", "wordcount", &*i, &*o2],
            "local[N]",
        ),
        (vec!["run", "grep", &*i, &*o2, "("], "regex"),
        (
            vec!["run", "wordcount", "/no/such/input", &*o2],
            "does not exist",
        ),
    ] {
        let r = spindle(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", text(&r));
        assert!(text(&r).contains(why), "{args:?}: {}", text(&r));
        assert!(!other.exists(), "{args:?} left an output");
    }
}
