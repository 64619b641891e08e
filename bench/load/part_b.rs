//! Part B of the load benchmark: batches at scale. Ingest of the largest batch as JSON and as CSV, one
//! contact over the limit, numbers of many countries; many batches in one campaign and reads of them;
//! a walk through one batch's contacts; and the report of it all.

use super::context::Ctx;
use super::generator::{LoadResult, get_rotating, load, load_table, truncate, verdict};
use super::ingest::{
    Ingest, Walk, batch_csv, batch_id_of, batch_json, batch_request, create_campaign, ingest, phone, valid_exchanges,
    walk_contacts,
};
use super::{DEFAULT_BODY_LIMIT, MAX_CONTACTS, TOKEN};
use std::fmt::Write as _;
use std::time::Instant;

pub(crate) struct PartB {
    exchanges: usize,
    json: Ingest,
    csv: Ingest,
    over: Ingest,
    over_body: usize,
    scale: Vec<Ingest>,
    stats_counts: String,
    reads: Vec<LoadResult>,
    walk: Walk,
    local_json_parse_s: f64,
    local_phone_parse_s: f64,
    /// (countries, numbers parsed, seconds) for numbers of several countries in turn.
    mixed: Vec<(usize, usize, f64)>,
    /// The ingest of a small batch whose numbers come from several countries in turn.
    mixed_ingest: Ingest,
}

/// Valid numbers of several countries: `per_country` variants (last three digits changed) of one valid
/// example per country, interleaved country by country, as a list of mixed customers would be.
fn mixed_numbers(per_country: usize) -> Vec<Vec<String>> {
    use graine::domain::phone::PhoneNumber;
    [
        "+14155552671",
        "+919876543210",
        "+447911123456",
        "+33612345678",
        "+4915123456789",
        "+61412345678",
        "+5511987654321",
        "+34612345678",
        "+393123456789",
        "+31612345678",
        "+819012345678",
        "+525512345678",
        "+27821234567",
        "+6591234567",
        "+8613812345678",
        "+2348031234567",
    ]
    .into_iter()
    .map(|example| {
        // Validated one country at a time, which keeps the validator's regex cache warm.
        let stem = &example[..example.len() - 3];
        (0..1000).map(|j| format!("{stem}{j:03}")).filter(|n| PhoneNumber::parse(n).is_ok()).take(per_country).collect()
    })
    .filter(|v: &Vec<String>| v.len() == per_country)
    .collect()
}

/// Interleaves the first `k` countries' numbers: one of each in turn.
fn interleave(countries: &[Vec<String>], k: usize) -> Vec<String> {
    let k = k.min(countries.len());
    let per = countries.first().map_or(0, Vec::len);
    (0..per).flat_map(|i| countries[..k].iter().map(move |c| c[i].clone())).collect()
}

/// Times `PhoneNumber::parse` over numbers of 1, 2, 4, 8 and all countries in turn: (countries, numbers, s).
fn mixed_country_parse(countries: &[Vec<String>]) -> Vec<(usize, usize, f64)> {
    use graine::domain::phone::PhoneNumber;
    let mut out: Vec<(usize, usize, f64)> = Vec::new();
    for k in [1, 2, 4, 8, countries.len()] {
        if k > countries.len() || out.iter().any(|(c, ..)| *c == k) {
            continue;
        }
        let numbers = interleave(countries, k);
        let numbers = &numbers[..numbers.len().min(1000)];
        let t = Instant::now();
        for n in numbers {
            let _ = PhoneNumber::parse(n);
        }
        out.push((k, numbers.len(), t.elapsed().as_secs_f64()));
    }
    out
}

/// A batch body with these numbers, each with a `callee_name`.
fn batch_json_of(campaign_id: &str, numbers: &[String]) -> Vec<u8> {
    let contacts: Vec<serde_json::Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| serde_json::json!({"phone_number": n, "call_variables": {"callee_name": format!("Callee {i}")}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"campaign_id": campaign_id, "contacts": contacts})).expect("JSON")
}

pub(crate) async fn part_b(ctx: &Ctx) -> PartB {
    let n = ctx.opts.batch_size;
    let exchanges = valid_exchanges();
    let needed = (3 + ctx.opts.scale_batches) * n.max(MAX_CONTACTS + 1);
    assert!(exchanges.len() * 10_000 >= needed, "not enough valid numbers for {needed} contacts");

    eprintln!("B.1 ingest: JSON on a fresh server");
    ctx.fresh_db("graine_bench_b_ingest").await;
    let server = ctx.start_graine("graine-ingest-json", "graine_bench_b_ingest", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let body = batch_json(&campaign, &exchanges, 0, n);
    // What the server's first steps cost, measured here, in-process, on the same data.
    let t = Instant::now();
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("own JSON");
    let local_json_parse_s = t.elapsed().as_secs_f64();
    drop(parsed);
    let t = Instant::now();
    for g in 0..n {
        graine::domain::phone::PhoneNumber::parse(&phone(&exchanges, g)).expect("valid bench number");
    }
    let local_phone_parse_s = t.elapsed().as_secs_f64();
    let countries = mixed_numbers(63);
    let mixed = mixed_country_parse(&countries);
    let json = ingest(ctx, &server, "POST /batches/ (JSON)", batch_request(ctx, &server, body), n).await;
    drop(server);

    eprintln!("B.1 ingest: CSV upload on a fresh server");
    let server = ctx.start_graine("graine-ingest-csv", "graine_bench_b_ingest", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let form = reqwest::multipart::Form::new().text("campaign_id", campaign.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(batch_csv(&exchanges, n, n))
            .file_name("contacts.csv")
            .mime_str("text/csv")
            .expect("mime"),
    );
    let upload = ctx.client.post(format!("{}/api/v1/batches/upload", server.base)).bearer_auth(TOKEN).multipart(form);
    let mut csv = ingest(ctx, &server, "POST /batches/upload (CSV, multipart)", upload, n).await;
    csv.body_bytes = batch_csv(&exchanges, n, n).len();

    eprintln!("B.1 one contact over the limit");
    let over_body = batch_json(&campaign, &exchanges, 2 * n, MAX_CONTACTS + 1);
    let over_len = over_body.len();
    let label = format!("POST /batches/ with {} contacts", MAX_CONTACTS + 1);
    let over = ingest(ctx, &server, &label, batch_request(ctx, &server, over_body), MAX_CONTACTS + 1).await;
    eprintln!("B.1 a small batch of numbers from several countries");
    let numbers = interleave(&countries, countries.len());
    let label = format!("POST /batches/, {} numbers of {} countries in turn", numbers.len(), countries.len());
    let body = batch_json_of(&campaign, &numbers);
    let mixed_ingest = ingest(ctx, &server, &label, batch_request(ctx, &server, body), numbers.len()).await;
    drop(server);

    eprintln!("B.2 {} batches of {n} in one campaign", ctx.opts.scale_batches);
    ctx.fresh_db("graine_bench_b_scale").await;
    let server = ctx.start_graine("graine-scale", "graine_bench_b_scale", Some("warn")).await;
    let campaign = create_campaign(ctx, &server).await;
    let mut scale = Vec::new();
    for b in 0..ctx.opts.scale_batches {
        let body = batch_json(&campaign, &exchanges, 2 * n + MAX_CONTACTS + 1 + b * n, n);
        let label = format!("batch {} of {}", b + 1, ctx.opts.scale_batches);
        let r = ingest(ctx, &server, &label, batch_request(ctx, &server, body), n).await;
        assert_eq!(r.status, 201, "{}: {}", r.label, r.answer);
        scale.push(r);
    }
    let batch_ids: Vec<String> = scale.iter().map(batch_id_of).collect();
    let stats: serde_json::Value = ctx
        .client
        .get(format!("{}/api/v1/campaigns/{campaign}/stats", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    let stats_counts = stats["contact_counts"].to_string();
    let urls: Vec<String> = batch_ids.iter().map(|id| format!("{}/api/v1/batches/{id}", server.base)).collect();
    let label = format!("GET /batches/{{id}} ({} batches of {n})", batch_ids.len());
    let mut reads = vec![load(ctx, &server, &label, 200, get_rotating(urls)).await];
    let stats_url = vec![format!("{}/api/v1/campaigns/{campaign}/stats", server.base)];
    let label = format!("GET /campaigns/{{id}}/stats ({} contacts)", batch_ids.len() * n);
    reads.push(load(ctx, &server, &label, 200, get_rotating(stats_url)).await);

    eprintln!("B.3 walking one batch's contacts");
    let walk = walk_contacts(ctx, &server, &batch_ids[batch_ids.len() - 1], n).await;
    eprintln!("    {} pages in {:.2} s, deepest {:.1} ms", walk.pages, walk.total_secs, walk.deepest_ms);
    drop(server);

    PartB {
        exchanges: exchanges.len(),
        json,
        csv,
        over,
        over_body: over_len,
        scale,
        stats_counts,
        reads,
        walk,
        local_json_parse_s,
        local_phone_parse_s,
        mixed,
        mixed_ingest,
    }
}

pub(crate) fn report_b(ctx: &Ctx, b: &PartB) -> String {
    let n = ctx.opts.batch_size;
    let mut out = String::from("## B. Batches at scale\n\n### B.1 Ingest (fresh server process for each)\n\n");
    out.push_str(
        "| request | contacts | body | status | seconds | contacts/s | RSS before MiB | peak RSS MiB | RSS after MiB | server CPU s | Postgres CPU s | other CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in [&b.json, &b.csv, &b.over, &b.mixed_ingest] {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MiB | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            r.label,
            r.contacts,
            r.body_bytes as f64 / 1048576.0,
            r.status,
            r.secs,
            r.contacts as f64 / r.secs,
            r.rss_before_mib,
            r.peak_mib,
            r.rss_after_mib,
            r.server_cpu_s,
            r.pg_cpu_s,
            r.other_cpu_s
        );
    }
    out.push('\n');
    let rate = |r: &Ingest| r.contacts as f64 / r.secs;
    let _ = writeln!(
        out,
        "| check | measured | target | verdict |\n|---|---:|---:|---|\n\
         | JSON ingest rate | {:.0} contacts/s | ≥ 50,000 | {} |\n\
         | CSV ingest rate | {:.0} contacts/s | ≥ 50,000 | {} |\n\
         | JSON ingest peak RSS | {:.1} MiB | < 300 MB | {} |\n\
         | CSV ingest peak RSS | {:.1} MiB | < 300 MB | {} |\n\
         | {} contacts refused | status {} | 422 or 413 | {} |\n",
        rate(&b.json),
        verdict(b.json.status == 201 && rate(&b.json) >= 50_000.0),
        rate(&b.csv),
        verdict(b.csv.status == 201 && rate(&b.csv) >= 50_000.0),
        b.json.peak_mib,
        verdict(b.json.peak_mib < 300.0 * 1e6 / 1048576.0),
        b.csv.peak_mib,
        verdict(b.csv.peak_mib < 300.0 * 1e6 / 1048576.0),
        MAX_CONTACTS + 1,
        b.over.status,
        verdict(matches!(b.over.status, 413 | 422)),
    );
    let _ = writeln!(
        out,
        "- JSON body of {n} contacts: {} bytes ({:.1} MiB), {:.0}% of the 32 MiB default limit; {} contacts: {} bytes.",
        b.json.body_bytes,
        b.json.body_bytes as f64 / 1048576.0,
        b.json.body_bytes as f64 / DEFAULT_BODY_LIMIT as f64 * 100.0,
        MAX_CONTACTS + 1,
        b.over_body
    );
    let _ = writeln!(out, "- Answer to {} contacts: `{}`", MAX_CONTACTS + 1, truncate(&b.over.answer, 250));
    let _ = writeln!(
        out,
        "- The same work in this process, for scale: `serde_json::from_slice::<Value>` of the {n}-contact body \
         {:.3} s; `PhoneNumber::parse` of its {n} numbers {:.3} s ({:.1} µs each).",
        b.local_json_parse_s,
        b.local_phone_parse_s,
        b.local_phone_parse_s / n as f64 * 1e6
    );
    for (countries, count, secs) in &b.mixed {
        let _ = writeln!(
            out,
            "- `PhoneNumber::parse` in this process of {count} numbers, {countries} countries in turn: {secs:.3} s \
             ({:.1} µs each).",
            secs / (*count).max(1) as f64 * 1e6
        );
    }
    let _ = writeln!(out, "- Valid `+1415XXX` exchanges in 200–999: {} of 800.\n", b.exchanges);

    let _ = writeln!(out, "### B.2 {} batches of {n} in one campaign\n", b.scale.len());
    out.push_str(
        "| batch | seconds | contacts/s | server peak RSS MiB | server RSS after MiB | server CPU s | Postgres CPU s | other CPU s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &b.scale {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            r.label,
            r.secs,
            rate(r),
            r.peak_mib,
            r.rss_after_mib,
            r.server_cpu_s,
            r.pg_cpu_s,
            r.other_cpu_s
        );
    }
    let _ = writeln!(out, "\nStats after ingest: `contact_counts` = `{}`\n", b.stats_counts);
    out.push_str(&load_table(&b.reads));
    let worst = b.reads.iter().map(|r| r.p99_ms).fold(0.0, f64::max);
    let _ = writeln!(out, "\nWorst p99 of these reads: {worst:.2} ms (target < 20 ms: {}).\n", verdict(worst < 20.0));

    let w = &b.walk;
    let _ = writeln!(
        out,
        "### B.3 Walking one {n}-contact batch, `limit=1000`, sequentially\n\n\
         | pages | contacts read | total s | p50 ms/page | p99 ms/page | first page ms | deepest page (skip={}) ms | largest page |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} KiB |\n",
        w.deepest_skip,
        w.pages,
        w.rows,
        w.total_secs,
        w.p50_ms,
        w.p99_ms,
        w.first_ms,
        w.deepest_ms,
        w.page_bytes as f64 / 1024.0
    );
    out
}
