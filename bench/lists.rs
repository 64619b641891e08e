//! Part L of the load benchmark: the campaign and batch listings, with their `X-Total-Count`, for an
//! organization of 100,000 campaigns with a batch each, at the run's connections (32 by default).

use super::TOKEN;
use super::context::Ctx;
use super::generator::{get_rotating, load};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Campaigns (and batches) of the one organization.
const CAMPAIGNS: usize = 100_000;

/// A campaign that never calls (every day disabled), so that its batch stays `in_progress` quietly.
const QUIET_CAMPAIGN: &str = r#"{"name":"Listed","agent_id":"agent_bench","phone_numbers":["+919876543210"],
  "working_hours_enforced":true,"working_hours":{
  "monday":{"start":"09:00","end":"10:00","enabled":false},"tuesday":{"start":"09:00","end":"10:00","enabled":false},
  "wednesday":{"start":"09:00","end":"10:00","enabled":false},"thursday":{"start":"09:00","end":"10:00","enabled":false},
  "friday":{"start":"09:00","end":"10:00","enabled":false},"saturday":{"start":"09:00","end":"10:00","enabled":false},
  "sunday":{"start":"09:00","end":"10:00","enabled":false}}}"#;

/// Creates the campaigns through the API, with a one-contact batch in every other one; returns how
/// many batches.
async fn seed(ctx: &Ctx, base: &str) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..ctx.opts.connections {
        let (client, next, base) = (ctx.client.clone(), next.clone(), base.to_owned());
        workers.spawn(async move {
            let post = |path: &str, body: String| {
                client
                    .post(format!("{base}{path}"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= CAMPAIGNS {
                    return;
                }
                let r = post("/api/v1/campaigns/", QUIET_CAMPAIGN.to_owned()).await.expect("create a campaign");
                assert_eq!(r.status().as_u16(), 201, "creating a campaign");
                if i % 2 == 0 {
                    let c: serde_json::Value = r.json().await.expect("campaign JSON");
                    let body = format!(
                        r#"{{"campaign_id":"{}","contacts":[{{"phone_number":"+1415555{:04}","call_variables":{{"callee_name":"L"}}}}]}}"#,
                        c["campaign_id"].as_str().expect("campaign id"),
                        1000 + i % 9000
                    );
                    let r = post("/api/v1/batches/", body).await.expect("create a batch");
                    assert_eq!(r.status().as_u16(), 201, "creating a batch");
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    CAMPAIGNS.div_ceil(2)
}

/// The seed copy kept by `--lists-seed-cache`.
const SEED_DB: &str = "graine_bench_lists_seed";

/// A server on the organization of `CAMPAIGNS` campaigns: seeded through the API, or copied from the seed
/// database that `--lists-seed-cache` keeps.
async fn seeded(ctx: &Ctx) -> (super::processes::Server, usize) {
    let keep = ctx.opts.lists_seed_cache && ctx.opts.store == super::StoreKind::Postgres;
    let cached = keep
        && sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(SEED_DB)
            .fetch_one(&ctx.admin)
            .await
            .expect("look for the seed database")
            == 1;
    ctx.fresh_db("graine_bench_lists").await;
    if cached {
        eprintln!("   from the seed copy {SEED_DB}");
        copy_db(ctx, SEED_DB, "graine_bench_lists").await;
        return (ctx.start_graine("graine-lists", "graine_bench_lists", Some("warn")).await, CAMPAIGNS.div_ceil(2));
    }
    let server = ctx.start_graine("graine-lists", "graine_bench_lists", Some("warn")).await;
    let batches = seed(ctx, &server.base).await;
    if !keep {
        return (server, batches);
    }
    drop(server); // a template database must have no connections
    copy_db(ctx, "graine_bench_lists", SEED_DB).await;
    (ctx.start_graine("graine-lists", "graine_bench_lists", Some("warn")).await, batches)
}

/// Replaces database `to` by a copy of `from`.
async fn copy_db(ctx: &Ctx, from: &str, to: &str) {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {to} WITH (FORCE)")).execute(&ctx.admin).await.expect("drop");
    sqlx::query(&format!("CREATE DATABASE {to} TEMPLATE {from}")).execute(&ctx.admin).await.expect("copy database");
}

/// Runs part L and returns its report section.
pub async fn part_lists(ctx: &Ctx) -> String {
    eprintln!("L. an organization of {CAMPAIGNS} campaigns");
    let (server, batches) = seeded(ctx).await;
    if ctx.opts.store == super::StoreKind::Postgres {
        // Every scenario is measured on a settled database, rather than the first one beside
        // autovacuum's pass over the rows just written.
        let pool = sqlx::PgPool::connect(&ctx.db_url("graine_bench_lists")).await.expect("bench database");
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.expect("vacuum");
        pool.close().await;
    }
    let base = &server.base;
    let scenarios = [
        ("GET /campaigns/", format!("{base}/api/v1/campaigns/")),
        ("GET /campaigns/?status=active", format!("{base}/api/v1/campaigns/?status=active")),
        ("GET /campaigns/?status=draft&skip=1000", format!("{base}/api/v1/campaigns/?status=draft&skip=1000")),
        ("GET /batches/", format!("{base}/api/v1/batches/")),
        ("GET /batches/?status=in_progress", format!("{base}/api/v1/batches/?status=in_progress")),
    ];
    let mut out = format!(
        "### L. Listings of an organization with {CAMPAIGNS} campaigns ({batches} with a batch), {} connections\n\n\
         Every answer carries `X-Total-Count`, exact.\n\n\
         | request | req/s | p50 ms | p99 ms | max ms | errors | server CPU | Postgres CPU | client CPU |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        ctx.opts.connections
    );
    for (label, url) in scenarios {
        let r = load(ctx, &server, label, 200, get_rotating(vec![url])).await;
        out.push_str(&format!(
            "| `{label}` | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0}% | {:.0}% | {:.0}% |\n",
            r.rps, r.p50_ms, r.p99_ms, r.max_ms, r.errors, r.cpu.server, r.cpu.postgres, r.cpu.client
        ));
    }
    out
}
