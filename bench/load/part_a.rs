//! Part A of the load benchmark: API throughput of graine (warn and info logging) against the bare
//! axum + sqlx baseline, round by round, with the server-side latencies of the info-logged server and
//! the report of it all.

use super::context::Ctx;
use super::generator::{
    LoadResult, MakeRequest, get_rotating, load, load_table, percentile, post_campaign, seed_campaigns, truncate,
    verdict,
};
use super::processes::{Server, memory_kib, mib};
use std::fmt::Write as _;

pub(crate) struct PartA {
    /// Every measured window, round by round.
    rounds: Vec<LoadResult>,
    /// Per scenario, the median over rounds.
    summary: Vec<LoadResult>,
    idle_rss: Vec<(String, f64)>,
    server_side: Vec<(String, usize, f64, f64, f64)>,
}

/// The median of each scenario's rounds (by requests/s, with that round's latencies; the worst memory).
fn medians(rows: &[LoadResult], labels: &[String]) -> Vec<LoadResult> {
    labels
        .iter()
        .filter_map(|label| {
            let mut mine: Vec<&LoadResult> = rows.iter().filter(|r| &r.label == label).collect();
            mine.sort_by(|a, b| a.rps.total_cmp(&b.rps));
            let mid = (*mine.get(mine.len() / 2)?).clone();
            let rss_mib = mine.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
            let hwm_mib = mine.iter().map(|r| r.hwm_mib).fold(0.0, f64::max);
            let errors = mine.iter().map(|r| r.errors).sum();
            Some(LoadResult { rss_mib, hwm_mib, errors, ..mid })
        })
        .collect()
}

pub(crate) async fn part_a(ctx: &Ctx) -> PartA {
    let n_ids = ctx.opts.get_ids;
    eprintln!("A. starting graine (GRAINE_LOG=warn), graine (default info logging) and the bare server");
    for db in ["graine_bench_a_ours", "graine_bench_a_info", "graine_bench_a_bare"] {
        ctx.fresh_db(db).await;
    }
    let ours = ctx.start_graine("graine-warn", "graine_bench_a_ours", Some("warn")).await;
    let info = ctx.start_graine("graine-info", "graine_bench_a_info", None).await;
    let bare = ctx.start_bare("bare", "graine_bench_a_bare", true).await;
    let no_ping = if ctx.opts.bare_no_ping {
        ctx.fresh_db("graine_bench_a_bare_np").await;
        Some(ctx.start_bare("bare-no-ping", "graine_bench_a_bare_np", false).await)
    } else {
        None
    };
    let idle_rss = vec![
        ("graine (warn), idle after start".to_owned(), mib(memory_kib(ours.pid()).0)),
        ("graine (info), idle after start".to_owned(), mib(memory_kib(info.pid()).0)),
        ("bare, idle after start".to_owned(), mib(memory_kib(bare.pid()).0)),
    ];
    eprintln!("A. seeding {n_ids} campaigns in each");
    let mut gets = Vec::new();
    for (server, api, field, path) in [
        (&ours, "/api/v1/campaigns/", "campaign_id", "/api/v1/campaigns/"),
        (&info, "/api/v1/campaigns/", "campaign_id", "/api/v1/campaigns/"),
        (&bare, "/campaigns", "id", "/campaigns/"),
    ] {
        let ids = seed_campaigns(ctx, format!("{}{api}", server.base), field, n_ids).await;
        gets.push(ids.iter().map(|id| format!("{}{path}{id}", server.base)).collect::<Vec<_>>());
    }
    let np_gets = match &no_ping {
        Some(np) => {
            let ids = seed_campaigns(ctx, format!("{}/campaigns", np.base), "id", n_ids).await;
            ids.iter().map(|id| format!("{}/campaigns/{id}", np.base)).collect()
        }
        None => Vec::new(),
    };
    let [ours_gets, info_gets, bare_gets] = <[Vec<String>; 3]>::try_from(gets).expect("three servers");
    let mut scenarios: Vec<(&str, &Server, u16, MakeRequest)> = vec![
        ("graine GET /campaigns/{id}", &ours, 200, get_rotating(ours_gets)),
        ("bare GET /campaigns/{id}", &bare, 200, get_rotating(bare_gets)),
        ("graine POST /campaigns/", &ours, 201, post_campaign(format!("{}/api/v1/campaigns/", ours.base), None)),
        ("bare POST /campaigns", &bare, 201, post_campaign(format!("{}/campaigns", bare.base), None)),
        ("graine GET /campaigns/{id}, info logs", &info, 200, get_rotating(info_gets)),
        (
            "graine POST /campaigns/, info logs",
            &info,
            201,
            post_campaign(format!("{}/api/v1/campaigns/", info.base), None),
        ),
        (
            "graine POST /campaigns/ + Idempotency-Key",
            &ours,
            201,
            post_campaign(format!("{}/api/v1/campaigns/", ours.base), Some(ctx.nonce)),
        ),
    ];
    if let Some(np) = &no_ping {
        scenarios.push(("bare GET /campaigns/{id}, no ping", np, 200, get_rotating(np_gets)));
        scenarios.push((
            "bare POST /campaigns, no ping",
            np,
            201,
            post_campaign(format!("{}/campaigns", np.base), None),
        ));
    }
    let mut rounds = Vec::new();
    for round in 1..=ctx.opts.rounds.max(1) {
        eprintln!("A. round {round} of {}", ctx.opts.rounds.max(1));
        for (label, server, expected, make) in &scenarios {
            let mut r = load(ctx, server, label, *expected, make.clone()).await;
            r.round = round;
            rounds.push(r);
        }
    }
    let labels: Vec<String> = scenarios.iter().map(|(l, ..)| (*l).to_owned()).collect();
    let summary = medians(&rounds, &labels);
    let info_log = info.log.clone();
    drop((ours, info, bare, no_ping));
    let server_side = server_side_latencies(&std::fs::read_to_string(&info_log).unwrap_or_default());
    PartA { rounds, summary, idle_rss, server_side }
}

/// Server-side latencies by method, read from the `served` lines of an info-level request log:
/// `(method, count, p50 ms, p99 ms, mean bytes per line)`.
fn server_side_latencies(log: &str) -> Vec<(String, usize, f64, f64, f64)> {
    let mut by_method: std::collections::BTreeMap<String, (Vec<u32>, usize)> = Default::default();
    for line in log.lines().filter(|l| l.contains(" served ")) {
        let plain = strip_ansi(line);
        let field = |name: &str| {
            plain
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|v| v.trim_matches(['"', '}', ':']).to_owned())
        };
        let (Some(method), Some(ms)) = (field("method="), field("latency_ms=")) else { continue };
        let Ok(ms) = ms.parse::<f64>() else { continue };
        let entry = by_method.entry(method).or_default();
        entry.0.push((ms * 1000.0) as u32);
        entry.1 += line.len() + 1;
    }
    by_method
        .into_iter()
        .map(|(m, (mut v, bytes))| {
            v.sort_unstable();
            let n = v.len();
            (m, n, percentile(&v, 0.5), percentile(&v, 0.99), bytes as f64 / n.max(1) as f64)
        })
        .collect()
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn report_a(ctx: &Ctx, a: &PartA) -> String {
    let mut out = String::from("## A. API throughput\n\n");
    let _ = writeln!(
        out,
        "{} keep-alive connections; {} rounds, each running every scenario in turn for {:.0} s after a {:.0} s \
         warm-up; graine and the bare server alternate within a round. CPU columns are % of one core over the \
         window (200% = both cores): Postgres is the sum over the backends of the server's database, client is \
         this benchmark process, other is the rest of the machine (other processes, Postgres background \
         workers, kernel). `server peak` is VmHWM since the start of the window.\n",
        ctx.opts.connections,
        ctx.opts.rounds.max(1),
        ctx.opts.duration,
        ctx.opts.warmup
    );
    out.push_str("### Median of the rounds\n\n");
    out.push_str(&load_table(&a.summary));
    out.push('\n');
    let find = |prefix: &str| a.summary.iter().find(|r| r.label == prefix).cloned();
    if let (Some(og), Some(op), Some(bg), Some(bp)) = (
        find("graine GET /campaigns/{id}"),
        find("graine POST /campaigns/"),
        find("bare GET /campaigns/{id}"),
        find("bare POST /campaigns"),
    ) {
        let get_ratio = og.rps / bg.rps;
        let post_ratio = op.rps / bp.rps;
        let ours: Vec<&LoadResult> = a.summary.iter().filter(|r| r.label.starts_with("graine")).collect();
        let worst_p99 = ours.iter().map(|r| r.p99_ms).fold(0.0, f64::max);
        let plain_p99 = og.p99_ms.max(op.p99_ms);
        let worst_rss = ours.iter().map(|r| r.hwm_mib.max(r.rss_mib)).fold(0.0, f64::max);
        out.push_str("| check | measured | target | verdict |\n|---|---:|---:|---|\n");
        let _ = writeln!(
            out,
            "| GET ours/bare (req/s) | {:.0}% ({:.0} / {:.0}) | ≥ 70% | {} |",
            get_ratio * 100.0,
            og.rps,
            bg.rps,
            verdict(get_ratio >= 0.7)
        );
        let _ = writeln!(
            out,
            "| POST ours/bare (req/s) | {:.0}% ({:.0} / {:.0}) | ≥ 50% | {} |",
            post_ratio * 100.0,
            op.rps,
            bp.rps,
            verdict(post_ratio >= 0.5)
        );
        let _ = writeln!(
            out,
            "| p99, graine GET and POST (warn) | {plain_p99:.2} ms | < 20 ms | {} |",
            verdict(plain_p99 < 20.0)
        );
        let _ = writeln!(
            out,
            "| p99, worst graine scenario | {worst_p99:.2} ms | < 20 ms | {} |",
            verdict(worst_p99 < 20.0)
        );
        let _ = writeln!(out, "| bare p99, GET / POST (for reference) | {:.2} / {:.2} ms | | |", bg.p99_ms, bp.p99_ms);
        let _ = writeln!(
            out,
            "| graine RSS (worst peak) | {worst_rss:.1} MiB | < 50 MB | {} |",
            verdict(worst_rss < 50.0 * 1e6 / 1048576.0)
        );
        out.push('\n');
        let per_request = |r: &LoadResult| {
            let us = |pct: f64| pct / 100.0 / r.rps * 1e6;
            format!(
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                r.label,
                us(r.cpu.server),
                us(r.cpu.postgres),
                us(r.cpu.client),
                us(r.cpu.server + r.cpu.postgres + r.cpu.client)
            )
        };
        out.push_str(
            "CPU per request (µs, from the medians above):\n\n\
             | scenario | server | Postgres backends | client | total |\n|---|---:|---:|---:|---:|\n",
        );
        for r in &a.summary {
            let _ = writeln!(out, "{}", per_request(r));
        }
        out.push('\n');
    }
    for (what, rss) in &a.idle_rss {
        let _ = writeln!(out, "- RSS of {what}: {rss:.1} MiB");
    }
    for (method, n, p50, p99, bytes) in &a.server_side {
        let _ = writeln!(
            out,
            "- Server-side latency of the info-logged server's {n} {method} requests (its `served` log lines, \
             seeding and warm-up included): p50 {p50:.2} ms, p99 {p99:.2} ms; {bytes:.0} bytes of log per request"
        );
    }
    out.push('\n');
    for r in &a.rounds {
        if let Some(e) = &r.first_error {
            let _ = writeln!(out, "- first error in `{}`, round {}: `{}`\n", r.label, r.round, truncate(e, 300));
        }
    }
    out.push_str("### Every round\n\n");
    let rows: Vec<LoadResult> = a
        .rounds
        .iter()
        .map(|r| LoadResult { label: format!("{} (round {})", r.label, r.round), ..r.clone() })
        .collect();
    out.push_str(&load_table(&rows));
    out.push('\n');
    out
}
