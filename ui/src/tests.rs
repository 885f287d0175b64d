use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use spindle_core::status::{
    AttemptState, EnvSection, ExecutorInfo, JobStatus, Locality, RunState, TaskAttempt,
};

use super::*;

fn sample(state: RunState) -> AppStatus {
    let attempts: Vec<TaskAttempt> = (0..1200u64)
        .map(|i| TaskAttempt {
            task_id: i,
            partition: 0,
            attempt: 0,
            executor: "container_1_0001_01_000002".into(),
            host: "127.0.0.2".into(),
            locality: Locality::NodeLocal,
            state: if i == 5 {
                AttemptState::Failed
            } else {
                AttemptState::Succeeded
            },
            launched_ms: 1_700_000_000_000 + i,
            duration_ms: Some(40 + i % 7),
            input_bytes: 1024,
            error: if i == 5 {
                "reading <split>: boom".into()
            } else {
                String::new()
            },
        })
        .collect();
    AppStatus {
        format: 1,
        app_id: "application_1_0001".into(),
        app_name: "wordcount".into(),
        user: "alice".into(),
        state,
        started_ms: 1_700_000_000_000,
        ended_ms: (state != RunState::Running).then_some(1_700_000_002_000),
        jobs: vec![JobStatus {
            id: 0,
            description: "wordcount hdfs://nn/in → hdfs://nn/out".into(),
            state: RunState::Succeeded,
            submitted_ms: 1_700_000_000_100,
            completed_ms: Some(1_700_000_001_900),
            stage_ids: vec![0, 1],
            ..Default::default()
        }],
        stages: vec![
            StageStatus {
                id: 0,
                name: "map".into(),
                state: RunState::Succeeded,
                total: 1199,
                done: 1199,
                failed: 1,
                input_bytes: 1199 * 1024,
                attempts,
                ..Default::default()
            },
            StageStatus {
                id: 1,
                name: "reduce".into(),
                state: RunState::Succeeded,
                total: 2,
                done: 2,
                ..Default::default()
            },
        ],
        executors: vec![ExecutorInfo {
            id: "container_1_0001_01_000002".into(),
            container_id: "container_1_0001_01_000002".into(),
            host: "127.0.0.2".into(),
            cores: 2,
            rss_bytes: 9 << 20,
            tasks_done: 1201,
            alive: true,
            logs_url: "http://127.0.0.2:8042/node/containerlogs/container_1_0001_01_000002/alice"
                .into(),
            ..Default::default()
        }],
        environment: vec![EnvSection {
            title: "Spindle settings".into(),
            entries: vec![("spindle.executor.instances".into(), "<2>".into())],
        }],
        ..Default::default()
    }
}

async fn start(app: AppStatus, config: UiConfig) -> String {
    let r = router(Arc::new(History(app)), config);
    let addr = serve(SocketAddr::from(([127, 0, 0, 1], 0)), r)
        .await
        .expect("serves");
    format!("http://{addr}")
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("answers");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn pages_show_the_application_with_links_under_the_proxy_base() {
    let base = "/proxy/application_1_0001";
    let url = start(
        sample(RunState::Succeeded),
        UiConfig {
            base: base.into(),
            ..Default::default()
        },
    )
    .await;
    let (code, jobs) = get(&format!("{url}/")).await;
    assert_eq!(code, 200);
    assert!(
        jobs.contains("wordcount hdfs://nn/in → hdfs://nn/out"),
        "{jobs}"
    );
    assert!(
        jobs.contains(&format!(r#"href="{base}/stages/0""#)),
        "{jobs}"
    );
    assert!(jobs.contains(&format!(r#"href="{base}/executors/""#)));
    assert!(jobs.contains("1201 / 1201"), "tasks done/total: {jobs}");
    // A finished application's pages do not refresh themselves.
    assert!(!jobs.contains("http-equiv=\"refresh\""));

    let (_, stage) = get(&format!("{url}/stages/0")).await;
    assert!(stage.contains("Task attempts 1–500 of 1200"), "{stage}");
    assert!(stage.contains("NODE_LOCAL") && stage.contains("127.0.0.2"));
    assert!(
        stage.contains("reading &lt;split&gt;: boom"),
        "escaped error"
    );
    assert!(stage.contains(&format!("{base}/stages/0?offset=500&amp;limit=500")));
    let (_, last) = get(&format!("{url}/stages/0?offset=1000&limit=500")).await;
    assert!(last.contains("Task attempts 1001–1200 of 1200"), "{last}");
    assert!(!last.contains("next →"));

    let (_, execs) = get(&format!("{url}/executors/")).await;
    assert!(execs.contains("9.0 MiB") && execs.contains("/node/containerlogs/"));
    let (_, env) = get(&format!("{url}/environment/")).await;
    assert!(env.contains("spindle.executor.instances") && env.contains("&lt;2&gt;"));
    let (code, _) = get(&format!("{url}/stages/9")).await;
    assert_eq!(code, 404);
    let (code, _) = get(&format!("{url}/nope")).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn the_json_api_serves_the_same_data() {
    let url = start(sample(RunState::Running), UiConfig::default()).await;
    let app: AppStatus = reqwest::get(format!("{url}/api/v1/app"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("an AppStatus");
    assert_eq!(app.app_id, "application_1_0001");
    assert!(app.stages[0].attempts.is_empty(), "summary only");
    let v: Value = reqwest::get(format!("{url}/api/v1/stages/0?offset=1190&limit=50"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(v["attempts_total"], 1200);
    assert_eq!(v["stage"]["attempts"].as_array().map(Vec::len), Some(10));
    assert_eq!(v["stage"]["attempts"][0]["locality"], "NODE_LOCAL");
    let (code, body) = get(&format!("{url}/api/v1/stages/7")).await;
    assert_eq!(code, 404);
    assert!(body.contains("no stage 7"));
    let p: Value = reqwest::get(format!("{url}/api/v1/progress"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(p["state"], "SUCCEEDED");
    assert_eq!(p["stages"].as_array().map(Vec::len), Some(2));
    // A running application's pages refresh themselves.
    let (_, jobs) = get(&format!("{url}/")).await;
    assert!(jobs.contains("http-equiv=\"refresh\""));
}

#[tokio::test]
async fn visitors_other_than_the_proxy_are_sent_to_the_proxy() {
    let url = start(
        sample(RunState::Running),
        UiConfig {
            base: "/proxy/application_1_0001".into(),
            redirect: Some(ProxyRedirect {
                proxy_hosts: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                proxy_url: "http://127.0.0.1:8088/proxy/application_1_0001".into(),
            }),
            ..Default::default()
        },
    )
    .await;
    // From the proxy's address: the page.
    let (code, _) = get(&format!("{url}/stages/0")).await;
    assert_eq!(code, 200);
    // From elsewhere (another loopback address): a redirect to the same page via the proxy.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = other
        .get(format!("{url}/stages/0?offset=5"))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("http://127.0.0.1:8088/proxy/application_1_0001/stages/0?offset=5")
    );
}

#[test]
fn formats() {
    assert_eq!(pages::bytes(0), "0 B");
    assert_eq!(pages::bytes(1536), "1.5 KiB");
    assert_eq!(pages::bytes(3 << 30), "3.0 GiB");
    assert_eq!(pages::duration(850), "850 ms");
    assert_eq!(pages::duration(12_345), "12.3 s");
    assert_eq!(pages::duration(270_000), "4.5 min");
    assert_eq!(pages::time(0), "—");
    assert_eq!(pages::time(1_700_000_000_000), "2023-11-14 22:13:20");
}
