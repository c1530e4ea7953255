//! percore's own replies: `show shards` (a per-shard table for operators: streams, rings,
//! dropped events and access-log lines, control latency, task-queue runtimes), `show version`,
//! and the one-line `show cli level`.

use std::fmt::Write as _;

use crate::level::Level;

/// One shard's line of `show shards`, as reported by its control task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShardRow {
    /// Shard index.
    pub shard: u16,
    /// CPU the shard is pinned to, if pinned.
    pub cpu: Option<u32>,
    /// Live streams.
    pub streams: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Commands waiting in the cmd ring (control → shard).
    pub cmd_ring_depth: u64,
    /// Events waiting in the evt ring (shard → control).
    pub evt_ring_depth: u64,
    /// Events the shard could not push because the evt ring was full.
    pub events_dropped: u64,
    /// Access-log lines dropped because the shard's log ring was full.
    pub logs_dropped: u64,
    /// Streams killed by admin or policy (termination flag K).
    pub killed: u64,
    /// Median command round trip control → shard → control, µs.
    pub ctl_latency_us_p50: u64,
    /// Worst command round trip, µs.
    pub ctl_latency_us_max: u64,
    /// Time spent in the data-path task queue, ms.
    pub data_runtime_ms: u64,
    /// Time spent in the control task queue, ms.
    pub control_runtime_ms: u64,
    /// Configuration generation new streams start with (0 until the first reload).
    pub generation: u64,
    /// Generations still alive on the shard: the current one plus those that streams
    /// started before a reload still hold.
    pub generations_alive: u64,
}

/// Column titles of `show shards`, the first prefixed with `# ` like HAProxy's headers.
const SHARD_COLUMNS: [&str; 15] = [
    "# shard",
    "cpu",
    "streams",
    "accepted",
    "cmd_ring",
    "evt_ring",
    "events_dropped",
    "logs_dropped",
    "killed",
    "ctl_lat_us_p50",
    "ctl_lat_us_max",
    "data_rt_ms",
    "ctl_rt_ms",
    "config_gen",
    "gens_alive",
];

/// Renders `show shards` as an aligned table: a header line, then one line per shard with
/// right-aligned numbers (`-` for an unpinned shard's cpu), columns separated by two spaces.
pub fn render_shards(rows: &[ShardRow]) -> String {
    let cells: Vec<[String; 15]> = rows
        .iter()
        .map(|r| {
            [
                r.shard.to_string(),
                r.cpu.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                r.streams.to_string(),
                r.accepted.to_string(),
                r.cmd_ring_depth.to_string(),
                r.evt_ring_depth.to_string(),
                r.events_dropped.to_string(),
                r.logs_dropped.to_string(),
                r.killed.to_string(),
                r.ctl_latency_us_p50.to_string(),
                r.ctl_latency_us_max.to_string(),
                r.data_runtime_ms.to_string(),
                r.control_runtime_ms.to_string(),
                r.generation.to_string(),
                r.generations_alive.to_string(),
            ]
        })
        .collect();
    let mut widths = SHARD_COLUMNS.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = SHARD_COLUMNS
        .iter()
        .zip(widths)
        .map(|(title, w)| format!("{title:<w$}"))
        .collect();
    out.push_str(header.join("  ").trim_end());
    out.push('\n');
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  "));
    }
    out
}

/// Renders `show version`: the version string and a newline.
pub fn render_version(version: &str) -> String {
    format!("{version}\n")
}

/// Renders `show cli level`: `admin`, `operator` or `user` and a newline.
pub fn render_cli_level(level: Level) -> String {
    format!("{level}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_table_is_aligned() {
        let rows = [
            ShardRow {
                shard: 0,
                cpu: Some(0),
                streams: 12,
                accepted: 123_456,
                ..Default::default()
            },
            ShardRow {
                shard: 1,
                cpu: None,
                ctl_latency_us_max: 9_999_999,
                ..Default::default()
            },
        ];
        let table = render_shards(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("# shard  cpu  streams  accepted"));
        assert!(lines[0].contains("  events_dropped  logs_dropped  killed  "));
        assert_eq!(lines[1].len(), lines[2].len());
        assert!(lines[2].contains("  -  "));
        // Right edges of every column line up between the two data lines.
        let ends = |l: &str| -> Vec<usize> {
            l.char_indices()
                .filter(|&(i, c)| c != ' ' && l[i + 1..].starts_with(' '))
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(ends(lines[1]), ends(lines[2]));
        let empty = render_shards(&[]);
        assert_eq!(empty.lines().count(), 1);
        assert!(empty.starts_with("# shard  cpu  streams") && empty.ends_with("gens_alive\n"));
    }

    #[test]
    fn version_and_level() {
        assert_eq!(render_version("percore 0.1.0"), "percore 0.1.0\n");
        assert_eq!(render_cli_level(Level::Operator), "operator\n");
    }
}
