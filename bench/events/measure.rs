//! What the events benchmark measures besides the rates: when events committed (as a watcher sees
//! it), CPU time of a process and of the whole machine, resident memory, percentiles.

use super::receivers::epoch_ms;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// When each event became visible, as a watcher polling the newest event number every 10 ms on a
/// connection of its own sees it: (time, newest number) pairs, in time order.
#[derive(Default)]
pub struct Commits(Vec<(f64, i64)>);

impl Commits {
    /// Watches database `db` until `stop` is set.
    pub async fn watch(db: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Self {
        let mut conn = super::super::Db::connect(&super::super::url(&db)).await;
        let mut seen = Self::default();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let newest = conn.number("SELECT CAST(COALESCE(max(last_seq), 0) AS BIGINT) FROM event_heads").await;
            seen.0.push((epoch_ms(SystemTime::now()), newest));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    }

    /// When event `seq` was first seen committed.
    pub fn seen(&self, seq: i64) -> Option<f64> {
        let at = self.0.partition_point(|(_, newest)| *newest < seq);
        self.0.get(at).map(|(t, _)| *t)
    }

    /// The longest time between two looks, in milliseconds: how late the watcher may see a commit.
    pub fn widest_gap(&self) -> f64 {
        self.0.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max)
    }
}

/// The CPU time a process has used (user and system), in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: fields 3 onwards; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// The whole machine's CPU time so far, busy (user, nice, system, interrupts) and idle (idle and
/// waiting for I/O), in seconds summed over the cores, from `/proc/stat`.
pub fn machine_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0.0)).collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / 100.0;
    (at(0) + at(1) + at(2) + at(5) + at(6), at(3) + at(4))
}

/// The resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
