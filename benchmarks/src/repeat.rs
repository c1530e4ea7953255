//! `--repeat N`: the order repeated measurements run in, and how N samples of one contender
//! at one load point become the row that is printed.
//!
//! Every load point is measured N times, the contenders interleaved (A B C A B C …), so
//! that a burst of load from other processes on the machine touches every contender about
//! equally instead of ruining one contender's whole series. A row then shows the median of
//! each figure, and the min–max of throughput, CPU per request and p99 beside it; every
//! sample stays in the JSON.

use serde::Serialize;

use crate::record::Percentiles;
use crate::report::Measurement;

/// The median and the extremes of one figure over the repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Spread {
    /// Median, min and max of `values`; `None` when empty. NaNs sort last (they do not
    /// occur: every figure is a finite ratio).
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// Min–max of a row's key figures over its repeats (only for `--repeat` ≥ 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ranges {
    /// Requests (round trips) per second, or MB/s for bulk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Spread>,
    /// CPU µs per request (round trip), or per MB for bulk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Spread>,
    /// p99 latency, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<Spread>,
}

/// The run order of `rounds` repeats of `contenders` at one load point: round by round,
/// every contender once per round, in the given order (A B C A B C …). Returns (round,
/// index into `contenders`).
pub fn interleave(rounds: usize, contenders: usize) -> Vec<(usize, usize)> {
    (0..rounds)
        .flat_map(|r| (0..contenders).map(move |c| (r, c)))
        .collect()
}

fn median_of(samples: &[Measurement], f: impl Fn(&Measurement) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = samples.iter().filter_map(f).collect();
    Spread::of(&v).map(|s| s.median)
}

fn spread_of(samples: &[Measurement], f: impl Fn(&Measurement) -> Option<f64>) -> Option<Spread> {
    let v: Vec<f64> = samples.iter().filter_map(f).collect();
    Spread::of(&v)
}

/// One row from the samples of one contender at one load point: medians of every figure
/// (each percentile separately), errors summed over all samples, the worst disturbance
/// (a row is as trustworthy as its worst sample), and the samples themselves.
///
/// Refuses nothing: an empty slice gives `None`; one sample is returned as it is.
pub fn combine(samples: &[Measurement]) -> Option<Measurement> {
    let first = samples.first()?;
    if samples.len() == 1 {
        return Some(first.clone());
    }
    let med_u64 = |f: fn(&Measurement) -> Option<u64>| {
        median_of(samples, |m| f(m).map(|v| v as f64)).map(|v| v.round() as u64)
    };
    let bulk = first.mb_per_sec.is_some();
    let mut row = Measurement {
        contender: first.contender.clone(),
        load: first.load.clone(),
        connections: first.connections,
        rate_target: first.rate_target,
        duration_s: first.duration_s,
        requests: med_u64(|m| m.requests),
        requests_per_sec: median_of(samples, |m| m.requests_per_sec),
        cpu_us_per_req: median_of(samples, |m| m.cpu_us_per_req),
        cpu_user_us_per_req: median_of(samples, |m| m.cpu_user_us_per_req),
        cpu_system_us_per_req: median_of(samples, |m| m.cpu_system_us_per_req),
        proxy_user_pct: median_of(samples, |m| m.proxy_user_pct),
        bytes: med_u64(|m| m.bytes),
        mb_per_sec: median_of(samples, |m| m.mb_per_sec),
        cpu_us_per_mb: median_of(samples, |m| m.cpu_us_per_mb),
        handshakes: med_u64(|m| m.handshakes),
        handshakes_resumed: med_u64(|m| m.handshakes_resumed),
        resumed_pct: median_of(samples, |m| m.resumed_pct),
        handshakes_per_core_sec: median_of(samples, |m| m.handshakes_per_core_sec),
        latency_us: combine_percentiles(samples),
        errors: Default::default(),
        proxy_cpu_pct: median_of(samples, |m| m.proxy_cpu_pct),
        client_cpu_pct: median_of(samples, |m| Some(m.client_cpu_pct)).unwrap_or(0.0),
        rss_kib: med_u64(|m| m.rss_kib),
        others_cpu_pct: samples.iter().map(|m| m.others_cpu_pct).fold(0.0, f64::max),
        repeats: samples.len(),
        ranges: None,
        samples: Vec::new(),
    };
    for m in samples {
        row.errors.merge(&m.errors);
    }
    row.ranges = Some(Ranges {
        throughput: spread_of(samples, |m| {
            if bulk {
                m.mb_per_sec
            } else {
                m.requests_per_sec
            }
        }),
        cpu: spread_of(samples, |m| {
            if bulk {
                m.cpu_us_per_mb
            } else {
                m.cpu_us_per_req
            }
        }),
        p99_us: spread_of(samples, |m| m.latency_us.map(|p| p.p99 as f64)),
    });
    row.samples = samples
        .iter()
        .map(|m| {
            let mut s = m.clone();
            s.samples.clear();
            s
        })
        .collect();
    Some(row)
}

fn combine_percentiles(samples: &[Measurement]) -> Option<Percentiles> {
    let all: Vec<Percentiles> = samples.iter().filter_map(|m| m.latency_us).collect();
    if all.is_empty() {
        return None;
    }
    let med = |f: fn(&Percentiles) -> u64| {
        let v: Vec<f64> = all.iter().map(|p| f(p) as f64).collect();
        Spread::of(&v).map_or(0, |s| s.median.round() as u64)
    };
    let means: Vec<f64> = all.iter().map(|p| p.mean).collect();
    Some(Percentiles {
        p50: med(|p| p.p50),
        p90: med(|p| p.p90),
        p99: med(|p| p.p99),
        p999: med(|p| p.p999),
        max: med(|p| p.max),
        mean: Spread::of(&means).map_or(0.0, |s| s.median),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ErrorKind;

    #[test]
    fn median_min_max() {
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(
            Spread::of(&[5.0]),
            Some(Spread {
                median: 5.0,
                min: 5.0,
                max: 5.0
            })
        );
        assert_eq!(
            Spread::of(&[9.0, 1.0, 4.0]),
            Some(Spread {
                median: 4.0,
                min: 1.0,
                max: 9.0
            })
        );
        assert_eq!(
            Spread::of(&[4.0, 1.0, 9.0, 2.0]),
            Some(Spread {
                median: 3.0,
                min: 1.0,
                max: 9.0
            })
        );
    }

    #[test]
    fn interleaves_contenders_round_by_round() {
        assert_eq!(
            interleave(3, 2),
            vec![(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
        );
        assert_eq!(interleave(1, 3), vec![(0, 0), (0, 1), (0, 2)]);
        assert!(interleave(0, 3).is_empty());
        let names = ["a", "b", "c"];
        let order: String = interleave(2, 3).iter().map(|&(_, c)| names[c]).collect();
        assert_eq!(order, "abcabc");
    }

    fn sample(rps: f64, cpu: f64, p99: u64, others: f64) -> Measurement {
        Measurement {
            contender: "percore".into(),
            load: "saturation".into(),
            requests: Some((rps * 10.0) as u64),
            requests_per_sec: Some(rps),
            cpu_us_per_req: Some(cpu),
            latency_us: Some(Percentiles {
                p50: p99 / 4,
                p90: p99 / 2,
                p99,
                p999: p99 * 2,
                max: p99 * 10,
                mean: p99 as f64 / 3.0,
            }),
            others_cpu_pct: others,
            ..Measurement::default()
        }
    }

    #[test]
    fn rows_take_medians_sum_errors_and_keep_the_worst_disturbance() {
        let mut a = sample(100.0, 10.0, 400, 1.0);
        a.errors.add(ErrorKind::Timeout);
        let b = sample(120.0, 8.0, 300, 7.5);
        let mut c = sample(90.0, 12.0, 900, 0.5);
        c.errors.add(ErrorKind::Reset);
        let row = combine(&[a, b, c]).expect("row");
        assert_eq!(row.requests_per_sec, Some(100.0));
        assert_eq!(row.cpu_us_per_req, Some(10.0));
        assert_eq!(row.latency_us.map(|p| p.p99), Some(400));
        assert_eq!(row.latency_us.map(|p| p.max), Some(4000));
        assert_eq!(row.errors.total(), 2);
        assert_eq!(row.others_cpu_pct, 7.5);
        assert_eq!(row.repeats, 3);
        assert_eq!(row.samples.len(), 3);
        let r = row.ranges.expect("ranges");
        assert_eq!(
            r.throughput,
            Some(Spread {
                median: 100.0,
                min: 90.0,
                max: 120.0
            })
        );
        assert_eq!(r.cpu.map(|s| (s.min, s.max)), Some((8.0, 12.0)));
        assert_eq!(r.p99_us.map(|s| (s.min, s.max)), Some((300.0, 900.0)));
    }

    #[test]
    fn one_sample_is_its_own_row() {
        let a = sample(100.0, 10.0, 400, 1.0);
        let row = combine(std::slice::from_ref(&a)).expect("row");
        assert_eq!(row.requests_per_sec, a.requests_per_sec);
        assert!(row.ranges.is_none() && row.samples.is_empty());
        assert_eq!(combine(&[]).map(|m| m.repeats), None);
    }
}
