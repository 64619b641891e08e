//! In-process Prometheus metrics: request counts and latency histograms by route and status.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

impl Series {
    fn observe(&mut self, secs: f64) {
        self.count += 1;
        self.sum += secs;
        for (bound, slot) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if secs <= *bound {
                *slot += 1;
            }
        }
    }
}

/// One route's series, by method and status.
type RouteSeries = HashMap<(&'static str, u16), Series>;

/// The server's metrics registry, shared by every request and the dispatcher.
#[derive(Default)]
pub struct Metrics {
    /// By route, then method and status: looked up by `&str`, so a request allocates nothing here.
    http: Mutex<HashMap<String, RouteSeries>>,
    dispatch_passes: Mutex<Series>,
    claims: Mutex<Series>,
    calls_placed: AtomicU64,
    outcomes: Mutex<HashMap<&'static str, u64>>,
}

impl Metrics {
    /// Records one finished request. `route` is the matched route template (bounded cardinality).
    pub fn observe_request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.http.lock().unwrap_or_else(|e| e.into_inner());
        let by_route = match map.get_mut(route) {
            Some(m) => m,
            None => map.entry(route.to_owned()).or_default(),
        };
        by_route.entry((method, status)).or_default().observe(secs);
    }

    /// Records one dispatcher pass (claims, placements and outcomes due at one instant).
    pub fn observe_dispatch_pass(&self, elapsed: Duration) {
        let mut s = self.dispatch_passes.lock().unwrap_or_else(|e| e.into_inner());
        s.observe(elapsed.as_secs_f64());
    }

    /// Records one claim transaction (lock a campaign, claim its due contacts, write their calls).
    pub fn observe_claim(&self, elapsed: Duration) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).observe(elapsed.as_secs_f64());
    }

    /// Counts calls handed to telephony.
    pub fn add_calls_placed(&self, n: u64) {
        self.calls_placed.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts recorded outcomes by final call status.
    pub fn add_outcome(&self, status: &'static str, n: u64) {
        *self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).entry(status).or_default() += n;
    }

    /// The dispatcher's series, with the calls in flight now (read from the database by the caller).
    pub fn render_dispatch(&self, calls_in_flight: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP graine_calls_in_flight Calls placed and not yet finished, across every replica.\n");
        out.push_str("# TYPE graine_calls_in_flight gauge\n");
        let _ = writeln!(out, "graine_calls_in_flight {calls_in_flight}");
        out.push_str("# HELP graine_calls_placed_total Calls this process handed to telephony.\n");
        out.push_str("# TYPE graine_calls_placed_total counter\n");
        let _ = writeln!(out, "graine_calls_placed_total {}", self.calls_placed.load(Ordering::Relaxed));
        out.push_str("# HELP graine_call_outcomes_total Final call outcomes this process recorded, by status.\n");
        out.push_str("# TYPE graine_call_outcomes_total counter\n");
        let mut outcomes: Vec<_> =
            self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone().into_iter().collect();
        outcomes.sort();
        for (status, n) in outcomes {
            let _ = writeln!(out, "graine_call_outcomes_total{{status=\"{status}\"}} {n}");
        }
        let passes = self.dispatch_passes.lock().unwrap_or_else(|e| e.into_inner());
        histogram(
            &mut out,
            "graine_dispatch_pass_seconds",
            "Time one dispatcher pass takes: how far dispatch lags behind due work.",
            &passes,
        );
        let claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        histogram(&mut out, "graine_dispatch_claim_seconds", "Time one claim transaction takes.", &claims);
        out
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let map = self.http.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<((&str, &str, u16), &Series)> = map
            .iter()
            .flat_map(|(route, m)| m.iter().map(move |((method, status), s)| ((*method, route.as_str(), *status), s)))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::with_capacity(256 + rows.len() * 1024);
        out.push_str("# HELP graine_http_requests_total HTTP requests served, by method, route and status.\n");
        out.push_str("# TYPE graine_http_requests_total counter\n");
        for ((method, route, status), s) in &rows {
            let _ = writeln!(
                out,
                "graine_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str(
            "# HELP graine_http_request_duration_seconds HTTP request latency, by method, route and status.\n",
        );
        out.push_str("# TYPE graine_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &rows {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "graine_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "graine_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "graine_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "graine_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

/// Writes an unlabelled histogram.
fn histogram(out: &mut String, name: &str, help: &str, s: &Series) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, n) in BUCKETS.iter().zip(s.buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", s.count);
    let _ = writeln!(out, "{name}_sum {}", s.sum);
    let _ = writeln!(out, "{name}_count {}", s.count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("GET", "/api/v1/campaigns/{campaign_id}", 200, Duration::from_millis(3));
        m.observe_request("GET", "/api/v1/campaigns/{campaign_id}", 200, Duration::from_millis(30));
        let text = m.render();
        let labels = "method=\"GET\",route=\"/api/v1/campaigns/{campaign_id}\",status=\"200\"";
        assert!(text.contains(&format!("graine_http_requests_total{{{labels}}} 2")));
        assert!(text.contains(&format!("graine_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1")));
        assert!(text.contains(&format!("graine_http_request_duration_seconds_bucket{{{labels},le=\"0.05\"}} 2")));
        assert!(text.contains(&format!("graine_http_request_duration_seconds_count{{{labels}}} 2")));
    }
}
