//! `spindle submit` end to end on the real cluster: outputs equal a local reference
//! computation on inputs that stress splitting (lines across tiny blocks, `\r\n`, empty
//! files, no final newline, multi-byte UTF-8, many small files, nested directories,
//! hidden files, one file of 200 MiB), and `spindle kill` mid-run leaves no output
//! that looks complete and no staging directory.
//!
//! Needs `spindle-examples` built beside `spindle`
//! (`cargo test --workspace` builds every binary first).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;
use common::{bin, fs_shell, part_files, rm_app, spindle};
use spindle_integration::{Cluster, ensure_cluster};
use spindle_integration::{output_text as text, unique_name as unique};
use tokio::sync::OnceCell;

/// Files in an HDFS directory (names only), empty when it does not exist.
async fn hdfs_names(cluster: &Cluster, dir: &str) -> Vec<String> {
    let out = cluster
        .hadoop_cli("org.apache.hadoop.fs.FsShell", &["-ls", "-C", dir])
        .await
        .expect("run FsShell");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.rsplit('/').next().map(str::to_string))
        .collect()
}

/// Word counts the way Hadoop's WordCount tokenizes (" \t\n\r\f").
fn reference_words(data: &[u8], into: &mut BTreeMap<Vec<u8>, u64>) {
    for w in data
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        .filter(|w| !w.is_empty())
    {
        *into.entry(w.to_vec()).or_default() += 1;
    }
}

fn parse_output(text: &[u8]) -> BTreeMap<Vec<u8>, u64> {
    let mut out = BTreeMap::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let tab = line
            .iter()
            .rposition(|b| *b == b'\t')
            .expect("key<TAB>count");
        let n: u64 = std::str::from_utf8(&line[tab + 1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("count");
        assert!(out.insert(line[..tab].to_vec(), n).is_none(), "key twice");
    }
    out
}

async fn read_output(cluster: &Cluster, out: &str) -> BTreeMap<Vec<u8>, u64> {
    let names = hdfs_names(cluster, out).await;
    assert!(
        names.contains(&"_SUCCESS".to_string()),
        "no _SUCCESS in {names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "_temporary"),
        "_temporary left: {names:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("out");
    let local_s = local.to_string_lossy().into_owned();
    fs_shell(cluster, &["-get", out, &local_s]).await;
    let mut all = Vec::new();
    let parts = part_files(&local);
    assert!(!parts.is_empty());
    for p in parts {
        all.extend(std::fs::read(p).expect("part file"));
    }
    parse_output(&all)
}

async fn submit_ok(cluster: &Cluster, args: &[&str]) -> String {
    let mut full = vec!["submit", "--timeout", "10m"];
    full.extend_from_slice(args);
    let started = Instant::now();
    let out = spindle(cluster, &full).await;
    let t = text(&out);
    assert!(out.status.success(), "spindle {full:?} failed:\n{t}");
    eprintln!(
        "spindle {args:?}: {:.1} s wall",
        started.elapsed().as_secs_f64()
    );
    let app = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(app.starts_with("application_"), "{t}");
    app
}

async fn assert_staging_gone(cluster: &Cluster, app: &str) {
    let names = hdfs_names(cluster, "/user/root/.spindle").await;
    assert!(
        !names.contains(&app.to_string()),
        "staging of {app} left: {names:?}"
    );
}

/// The binaries stay in the user's HDFS cache under their content keys, and the
/// NodeManagers localized them into the user's file cache (PRIVATE visibility), not
/// into one application's cache.
async fn assert_binaries_cached(cluster: &Cluster) {
    for name in ["spindle-examples"] {
        let bytes = std::fs::read(bin(name)).expect("read the binary");
        let key = spindle_client::submit::content_key(&bytes);
        let names = hdfs_names(cluster, &format!("/user/root/.spindle/cache/{key}")).await;
        assert_eq!(names, [name], "cache entry {key}");
        let data = cluster.settings().data_dir();
        let localized = std::fs::read_dir(&data)
            .expect("cluster data dir")
            .filter_map(|nm| nm.ok())
            .map(|nm| nm.path().join("local/usercache/root/filecache"))
            .filter_map(|cache| std::fs::read_dir(cache).ok())
            .flatten()
            .filter_map(|entry| entry.ok())
            .filter(|entry| {
                std::fs::metadata(entry.path().join(name))
                    .is_ok_and(|m| m.len() == bytes.len() as u64)
            })
            .count();
        assert!(
            localized > 0,
            "{name} is in no NodeManager's usercache/root/filecache under {}",
            data.display()
        );
    }
}

/// Writes the tricky input tree locally; returns it and the expected word counts.
fn tricky_input(root: &Path) -> BTreeMap<Vec<u8>, u64> {
    let mut want = BTreeMap::new();
    let mut add = |rel: &str, data: &[u8], counted: bool| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write");
        if counted {
            reference_words(data, &mut want);
        }
    };
    // Lines of every length across 4 KiB blocks, some with \r\n.
    let mut blocks = Vec::new();
    let mut seed = 7u64;
    for i in 0..6000u64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let words = (seed >> 33) % 17;
        for w in 0..words {
            blocks.extend_from_slice(format!("w{} ", (seed >> (w % 20)) % 97).as_bytes());
        }
        blocks.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
    }
    add("blocks.txt", &blocks, true);
    add("empty.txt", b"", true);
    add(
        "no-final-newline.txt",
        b"first line\nlast line without newline",
        true,
    );
    add(
        "utf8.txt",
        "élan naïve 東京 東京 😀 ünïcödé\nstraße ÉLAN élan\n".as_bytes(),
        true,
    );
    for i in 0..40 {
        add(
            &format!("many/small-{i:02}.txt"),
            format!("small {i} file\n").as_bytes(),
            true,
        );
    }
    add("many/nested/deeper.txt", b"deep deep\n", true);
    add("_ignored.txt", b"hidden by the underscore rule\n", false);
    add(".hidden.txt", b"hidden by the dot rule\n", false);
    want
}

#[tokio::test]
async fn wordcount_linecount_grep_match_the_reference() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let local = tempfile::tempdir().expect("tempdir");
    let root = local.path().join("in");
    let want = tricky_input(&root);
    let base = format!("/tmp/{}", unique("e2e-tricky"));
    fs_shell(cluster, &["-mkdir", "-p", &base]).await;
    let root_s = root.to_string_lossy().into_owned();
    let input = format!("{base}/in");
    // 4 KiB blocks: hundreds of lines cross block (= split) boundaries.
    fs_shell(
        cluster,
        &["-D", "dfs.blocksize=4096", "-put", &root_s, &input],
    )
    .await;

    let out = format!("{base}/wc");
    // Executors in containers (uber mode off), then below in the AM (the default for
    // small inputs): both must give the reference answers.
    let app = submit_ok(
        cluster,
        &[
            "--conf",
            "spindle.uber.max-input=0",
            "--num-executors",
            "2",
            "--reducers",
            "3",
            "wordcount",
            &input,
            &out,
        ],
    )
    .await;
    assert_eq!(read_output(cluster, &out).await, want);
    let names = hdfs_names(cluster, &out).await;
    assert_eq!(
        names.iter().filter(|n| n.starts_with("part-")).count(),
        3,
        "{names:?}"
    );
    let rm = rm_app(cluster, &app).await;
    assert_eq!(rm["finalStatus"], "SUCCEEDED", "{rm}");
    eprintln!("tricky wordcount: {}", rm["diagnostics"]);
    assert!(
        !rm["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .contains("inside the AM"),
        "{rm}"
    );
    assert_staging_gone(cluster, &app).await;
    assert_binaries_cached(cluster).await;

    // linecount: every line of every visible file, once.
    let lines: u64 = walk(&root)
        .iter()
        .map(|p| {
            let d = std::fs::read(p).expect("read");
            let mut n = d.split(|b| *b == b'\n').count() as u64;
            if d.is_empty() || d.ends_with(b"\n") {
                n -= 1;
            }
            n
        })
        .sum();
    let out = format!("{base}/lc");
    let app = submit_ok(cluster, &["linecount", &input, &out]).await;
    let got = read_output(cluster, &out).await;
    assert_eq!(got.get(&b"lines"[..]).copied(), Some(lines), "{got:?}");
    let rm = rm_app(cluster, &app).await;
    assert!(
        rm["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .contains("(inside the AM)"),
        "a small input runs inside the AM: {rm}"
    );

    // grep: counts of each match.
    let out = format!("{base}/grep");
    submit_ok(cluster, &["grep", &input, &out, "w9[0-9]|東京"]).await;
    let got = read_output(cluster, &out).await;
    let re = regex::bytes::Regex::new("w9[0-9]|東京").expect("regex");
    let mut want_grep: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for p in walk(&root) {
        let d = std::fs::read(p).expect("read");
        for line in d.split(|b| *b == b'\n') {
            for m in re.find_iter(line) {
                *want_grep.entry(m.as_bytes().to_vec()).or_default() += 1;
            }
        }
    }
    assert_eq!(got, want_grep);
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &base]).await;
}

/// Visible files (Hadoop's hidden-file rule: no `_` or `.` prefix), recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

struct BigInput {
    hdfs_path: String,
    want: BTreeMap<Vec<u8>, u64>,
}

static BIG: OnceCell<BigInput> = OnceCell::const_new();

/// One 200 MiB file in HDFS (generated once per test run), with its expected counts.
async fn big_input(cluster: &Cluster) -> &'static BigInput {
    BIG.get_or_init(|| async {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = dir.path().join("big.txt");
        let target = 200 * 1024 * 1024;
        let mut data = Vec::with_capacity(target + 1024);
        let vocab: Vec<String> = (0..5000).map(|i| format!("word{i}")).collect();
        let mut seed = 42u64;
        while data.len() < target {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = 3 + (seed >> 60) as usize;
            for k in 0..n {
                let w = &vocab[((seed >> (k * 5 % 40)) as usize) % vocab.len()];
                data.extend_from_slice(w.as_bytes());
                data.push(if k + 1 == n { b'\n' } else { b' ' });
            }
        }
        let mut want = BTreeMap::new();
        reference_words(&data, &mut want);
        std::fs::write(&local, &data).expect("write big file");
        let hdfs_path = format!("/tmp/{}.txt", unique("e2e-big"));
        let local_s = local.to_string_lossy().into_owned();
        let started = Instant::now();
        fs_shell(cluster, &["-put", &local_s, &hdfs_path]).await;
        eprintln!(
            "put {} MiB in {:.1} s",
            data.len() >> 20,
            started.elapsed().as_secs_f64()
        );
        BigInput { hdfs_path, want }
    })
    .await
}

#[tokio::test]
async fn wordcount_of_a_200_mib_file() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let big = big_input(cluster).await;
    let out = format!("/tmp/{}", unique("e2e-big-out"));
    let app = submit_ok(
        cluster,
        &["--num-executors", "2", "wordcount", &big.hdfs_path, &out],
    )
    .await;
    let rm = rm_app(cluster, &app).await;
    eprintln!(
        "200 MiB wordcount: RM elapsed {} ms; {}",
        rm["elapsedTime"], rm["diagnostics"]
    );
    assert_eq!(read_output(cluster, &out).await, big.want);
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &out]).await;
}

#[tokio::test]
async fn kill_during_a_run_leaves_nothing_that_looks_complete() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let big = big_input(cluster).await;
    let out = format!("/tmp/{}", unique("e2e-killed"));
    let detached = spindle(
        cluster,
        &[
            "submit",
            "--detach",
            "--num-executors",
            "1",
            "wordcount",
            &big.hdfs_path,
            &out,
        ],
    )
    .await;
    assert!(detached.status.success(), "{}", text(&detached));
    let app = String::from_utf8_lossy(&detached.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    // Wait until the job is running tasks (its output's _temporary exists).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = rm_app(cluster, &app).await["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !["FINISHED", "FAILED", "KILLED"].contains(&state.as_str()),
            "{app} ended {state} before it could be killed"
        );
        if state == "RUNNING"
            && hdfs_names(cluster, &out)
                .await
                .contains(&"_temporary".to_string())
        {
            break;
        }
        assert!(Instant::now() < deadline, "{app} never started running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let killed = spindle(cluster, &["kill", &app]).await;
    assert!(killed.status.success(), "{}", text(&killed));
    let rm = rm_app(cluster, &app).await;
    assert_eq!(rm["state"], "KILLED", "{rm}");
    assert_ne!(rm["finalStatus"], "SUCCEEDED", "{rm}");
    // The AM removes the partial output on SIGTERM; give it a moment, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = hdfs_names(cluster, &out).await;
        assert!(!names.contains(&"_SUCCESS".to_string()), "{names:?}");
        if names.is_empty() || Instant::now() > deadline {
            assert!(
                !names.iter().any(|n| n.starts_with("part-")),
                "killed job left part files: {names:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_staging_gone(cluster, &app).await;
}
