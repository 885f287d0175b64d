//! `docs/bench/chart.svg`: one panel per figure (P1 time, P2 throughput, P3 memory),
//! a horizontal bar per system at its median with a min–max whisker, written by hand.

use std::fmt::Write as _;

use super::report::{Part, Results};
use super::stats::Stats;

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Its label.
    pub label: String,
    /// Its value.
    pub stats: Stats,
}

/// One panel.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above it.
    pub title: String,
    /// Unit after the values.
    pub unit: String,
    /// Decimals of the value labels.
    pub decimals: usize,
    /// Bars, top to bottom.
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 190.0;
const BAR_H: f64 = 22.0;
const GAP: f64 = 8.0;
const TITLE_H: f64 = 34.0;
const COLORS: [&str; 6] = [
    "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color_of(label: &str) -> &'static str {
    let l = label.to_ascii_lowercase();
    let i = if l.starts_with("spindle") {
        0
    } else if l.starts_with("spark") {
        1
    } else if l.starts_with("mapreduce") {
        2
    } else if l.starts_with("yarn floor") {
        3
    } else if l.starts_with("single-machine") {
        4
    } else {
        5
    };
    COLORS[i]
}

/// Renders panels as one SVG document.
pub fn render(title: &str, panels: &[Panel]) -> String {
    let panels: Vec<&Panel> = panels.iter().filter(|p| !p.bars.is_empty()).collect();
    let height: f64 = 50.0
        + panels
            .iter()
            .map(|p| TITLE_H + p.bars.len() as f64 * (BAR_H + GAP) + 16.0)
            .sum::<f64>();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="12" y="28" font-size="17" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let mut y = 50.0;
    let plot_w = WIDTH - LABEL_W - 110.0;
    for p in panels {
        let _ = writeln!(
            s,
            r#"<text x="12" y="{:.1}" font-size="14" font-weight="bold">{}</text>"#,
            y + 20.0,
            esc(&p.title)
        );
        y += TITLE_H;
        let top = p
            .bars
            .iter()
            .map(|b| b.stats.max.max(b.stats.median))
            .fold(0.0, f64::max);
        let scale = if top > 0.0 { plot_w / top } else { 0.0 };
        let _ = writeln!(
            s,
            r##"<line x1="{LABEL_W}" y1="{:.1}" x2="{LABEL_W}" y2="{:.1}" stroke="#444"/>"##,
            y - 4.0,
            y + p.bars.len() as f64 * (BAR_H + GAP)
        );
        for b in &p.bars {
            let w = (b.stats.median * scale).max(1.0);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABEL_W - 8.0,
                y + BAR_H * 0.7,
                esc(&b.label)
            );
            let _ = writeln!(
                s,
                r#"<rect x="{LABEL_W}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{}"/>"#,
                color_of(&b.label)
            );
            if b.stats.n > 1 {
                let (x0, x1) = (LABEL_W + b.stats.min * scale, LABEL_W + b.stats.max * scale);
                let cy = y + BAR_H / 2.0;
                let _ = writeln!(
                    s,
                    r##"<path d="M{x0:.1} {cy:.1} H{x1:.1} M{x0:.1} {:.1} V{:.1} M{x1:.1} {:.1} V{:.1}" stroke="#222" fill="none"/>"##,
                    cy - 5.0,
                    cy + 5.0,
                    cy - 5.0,
                    cy + 5.0
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{:.*} {}</text>"#,
                LABEL_W + (b.stats.max.max(b.stats.median) * scale) + 6.0,
                y + BAR_H * 0.7,
                p.decimals,
                b.stats.median,
                esc(&p.unit)
            );
            y += BAR_H + GAP;
        }
        y += 16.0;
    }
    s.push_str("</svg>\n");
    s
}

fn bars(part: Option<&Part>, f: fn(&super::report::SystemResult) -> Option<Stats>) -> Vec<Bar> {
    part.map(|p| {
        p.systems
            .iter()
            .filter_map(|s| {
                f(s).map(|stats| Bar {
                    label: s.label.clone(),
                    stats,
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The chart of a run's results.
pub fn chart(r: &Results) -> String {
    let mut panels = Vec::new();
    let size = |p: Option<&Part>| {
        p.map(|p| super::size::format_size(p.input_bytes))
            .unwrap_or_default()
    };
    panels.push(Panel {
        title: format!(
            "P1 tiny job ({}): RM time, s (lower is better)",
            size(r.p1.as_ref())
        ),
        unit: "s".into(),
        decimals: 2,
        bars: bars(r.p1.as_ref(), |s| s.rm_seconds),
    });
    panels.push(Panel {
        title: format!(
            "P2 word count ({}): throughput, MB/s (higher is better)",
            size(r.p2.as_ref())
        ),
        unit: "MB/s".into(),
        decimals: 1,
        bars: bars(r.p2.as_ref(), |s| s.throughput_mb_s),
    });
    let mut mem = Vec::new();
    for (part, name) in [(r.p1.as_ref(), "P1"), (r.p2.as_ref(), "P2")] {
        for s in part.map(|p| p.systems.as_slice()).unwrap_or_default() {
            if let Some(st) = s.am_peak_mb {
                mem.push(Bar {
                    label: format!("{} AM ({name})", s.label),
                    stats: st,
                });
            }
            if let Some(st) = s.executor_peak_mb {
                mem.push(Bar {
                    label: format!("{} executor ({name})", s.label),
                    stats: st,
                });
            }
        }
    }
    panels.push(Panel {
        title: "P3 peak RSS per container, MB (lower is better)".into(),
        unit: "MB".into(),
        decimals: 1,
        bars: mem,
    });
    if let Some(p4) = r.p4.as_ref().and_then(|p| p.tasks_per_sec) {
        panels.push(Panel {
            title: "P4 driver scale: tasks launched+completed per second".into(),
            unit: "tasks/s".into(),
            decimals: 0,
            bars: vec![Bar {
                label: "Spindle driver".into(),
                stats: p4,
            }],
        });
    }
    render(
        &format!(
            "Spindle vs Spark vs MapReduce ({}, commit {})",
            r.machine.date_utc.get(..10).unwrap_or(&r.machine.date_utc),
            r.machine
                .git_commit
                .get(..10)
                .unwrap_or(&r.machine.git_commit)
        ),
        &panels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_bars_labels_and_escapes() {
        let st = |m: f64| Stats {
            median: m,
            min: m * 0.9,
            max: m * 1.2,
            n: 3,
        };
        let svg = render(
            "A <b> & c",
            &[
                Panel {
                    title: "P1".into(),
                    unit: "s".into(),
                    decimals: 2,
                    bars: vec![
                        Bar {
                            label: "Spindle".into(),
                            stats: st(2.0),
                        },
                        Bar {
                            label: "Spark on YARN".into(),
                            stats: st(25.0),
                        },
                    ],
                },
                Panel {
                    title: "empty".into(),
                    unit: "x".into(),
                    decimals: 0,
                    bars: vec![],
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("A &lt;b&gt; &amp; c"));
        assert!(svg.contains(">Spindle</text>") && svg.contains("25.00 s"));
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(!svg.contains(">empty<"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
