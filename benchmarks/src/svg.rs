//! Latency-vs-rate plot (`--svg`): one panel per scenario that ran at fixed rates; x is the
//! target rate, y the latency on a log scale; per contender a solid line for p99 and a
//! dashed one for p50. Hand-written SVG: no plotting dependency to build.

use std::fmt::Write as _;

use crate::report::{Measurement, ScenarioReport};
use crate::scenario::throughput::DISTURBED_PCT;
use crate::units::{count_text, micros_text};

const PANEL_W: f64 = 720.0;
const PANEL_H: f64 = 360.0;
const MARGIN_L: f64 = 70.0;
const MARGIN_R: f64 = 130.0;
const MARGIN_T: f64 = 40.0;
const MARGIN_B: f64 = 50.0;

/// Colour per contender, stable across panels.
fn colour(contender: &str) -> &'static str {
    match contender {
        "percore" => "#d62728",
        "haproxy" => "#1f77b4",
        "nginx" => "#2ca02c",
        "direct" => "#7f7f7f",
        _ => "#9467bd",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An axis label for a power of ten of microseconds: `10µs`, `100ms`, `1s`.
fn decade_text(us: f64) -> String {
    if us < 1e3 {
        format!("{us:.0}µs")
    } else if us < 1e6 {
        format!("{:.0}ms", us / 1e3)
    } else {
        format!("{:.0}s", us / 1e6)
    }
}

/// Renders every scenario with open-loop results; `None` if there is none.
pub fn render(scenarios: &[ScenarioReport]) -> Option<String> {
    let panels: Vec<&ScenarioReport> = scenarios
        .iter()
        .filter(|s| {
            s.results
                .iter()
                .any(|m| m.rate_target.is_some() && m.latency_us.is_some())
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    let height = PANEL_H * panels.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{PANEL_W}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, s) in panels.iter().enumerate() {
        panel(&mut svg, s, PANEL_H * i as f64);
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

fn panel(svg: &mut String, s: &ScenarioReport, top: f64) {
    let points: Vec<&Measurement> = s
        .results
        .iter()
        .filter(|m| m.rate_target.is_some() && m.latency_us.is_some())
        .collect();
    let x_max = points
        .iter()
        .filter_map(|m| m.rate_target)
        .fold(0.0, f64::max)
        * 1.05;
    let lat = |m: &Measurement| m.latency_us.expect("filtered");
    let y_min_us = points.iter().map(|m| lat(m).p50.max(1)).min().unwrap_or(1) as f64;
    let y_max_us = points.iter().map(|m| lat(m).p99.max(1)).max().unwrap_or(10) as f64;
    let decade_lo = y_min_us.log10().floor();
    let decade_hi = (y_max_us.log10().ceil()).max(decade_lo + 1.0);
    let (x0, x1) = (MARGIN_L, PANEL_W - MARGIN_R);
    let (y0, y1) = (top + PANEL_H - MARGIN_B, top + MARGIN_T);
    let px = |rate: f64| x0 + (x1 - x0) * rate / x_max.max(1.0);
    let py = |us: f64| y0 - (y0 - y1) * (us.max(1.0).log10() - decade_lo) / (decade_hi - decade_lo);

    let _ = writeln!(
        svg,
        r#"<text x="{x0}" y="{}" font-size="13" font-weight="bold">{}: latency p99 (solid), p50 (dashed) vs rate; hollow = disturbed</text>"#,
        top + 22.0,
        escape(&s.name)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        x1 - x0,
        y0 - y1
    );
    // Horizontal grid: each decade, labelled.
    let mut d = decade_lo;
    while d <= decade_hi + 1e-9 {
        let us = 10f64.powf(d);
        let y = py(us);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y + 4.0,
            decade_text(us)
        );
        d += 1.0;
    }
    // Vertical ticks at each rate used.
    let mut rates: Vec<f64> = points.iter().filter_map(|m| m.rate_target).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    for r in &rates {
        let x = px(*r);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" stroke="#eee"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            y0 + 16.0,
            count_text(*r)
        );
    }
    let unit = if s.unit == "round trip" {
        "round trips/s"
    } else {
        "requests/s"
    };
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">target rate ({unit})</text>"#,
        (x0 + x1) / 2.0,
        y0 + 36.0
    );

    let mut contenders: Vec<&str> = Vec::new();
    for m in &points {
        if !contenders.contains(&m.contender.as_str()) {
            contenders.push(&m.contender);
        }
    }
    for (i, c) in contenders.iter().enumerate() {
        let colour = colour(c);
        let mut series: Vec<&&Measurement> = points.iter().filter(|m| m.contender == *c).collect();
        series.sort_by(|a, b| {
            a.rate_target
                .unwrap_or(0.0)
                .total_cmp(&b.rate_target.unwrap_or(0.0))
        });
        for (pick, dash) in [(0usize, ""), (1, r#" stroke-dasharray="5,4""#)] {
            let path: Vec<String> = series
                .iter()
                .map(|m| {
                    let l = lat(m);
                    let us = if pick == 0 { l.p99 } else { l.p50 };
                    format!(
                        "{:.1},{:.1}",
                        px(m.rate_target.unwrap_or(0.0)),
                        py(us as f64)
                    )
                })
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
        }
        for m in &series {
            let l = lat(m);
            // Hollow: other processes disturbed this measurement (see the table's notes).
            let (fill, note) = if m.others_cpu_pct > DISTURBED_PCT {
                (
                    "white",
                    format!(" (disturbed: others used {:.0}% CPU)", m.others_cpu_pct),
                )
            } else {
                (colour, String::new())
            };
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{fill}" stroke="{colour}" stroke-width="1.5"><title>{} {}/s: p50 {} p99 {}{note}</title></circle>"#,
                px(m.rate_target.unwrap_or(0.0)),
                py(l.p99 as f64),
                escape(c),
                count_text(m.rate_target.unwrap_or(0.0)),
                micros_text(l.p50),
                micros_text(l.p99)
            );
        }
        let ly = y1 + 16.0 + 18.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/>"#,
            x1 + 12.0,
            x1 + 34.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">{}</text>"#,
            x1 + 40.0,
            ly + 4.0,
            escape(c)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Percentiles;

    #[test]
    fn one_panel_per_scenario_with_rates() {
        let m = |c: &str, rate: f64, p99: u64| Measurement {
            contender: c.into(),
            load: "rate".into(),
            rate_target: Some(rate),
            latency_us: Some(Percentiles {
                p50: p99 / 2,
                p90: p99,
                p99,
                p999: p99,
                max: p99,
                mean: 1.0,
            }),
            ..Measurement::default()
        };
        let s = ScenarioReport {
            name: "tcp-echo".into(),
            unit: "round trip".into(),
            results: vec![
                m("haproxy", 1000.0, 80),
                m("haproxy", 2000.0, 120),
                m("percore", 1000.0, 3000),
            ],
            ..ScenarioReport::default()
        };
        let empty = ScenarioReport::default();
        assert_eq!(render(std::slice::from_ref(&empty)), None);
        let svg = render(&[s, empty]).expect("one panel");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("<polyline").count(),
            4,
            "p99 + p50 for each of two contenders"
        );
        assert!(svg.contains("tcp-echo") && svg.contains("percore"));
    }
}
