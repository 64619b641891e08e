//! Executed docs: every shell example in README.md and docs/*.md runs, page by page in one shell,
//! against a live server started as the page says, and must print what the page shows (the rules are
//! in docs/README.md, "Writing examples"). Also: every relative link in the docs leads somewhere.

mod expect;
mod page;
mod pattern;
mod selftest;

use crate::common::{TOKEN, TestApp};
use clap::Parser;
use graine::config::ServeConfig;
use page::{Kind, Page, Step};
use std::collections::HashMap;

/// Starts the lines the test's shell writes between steps and after each curl.
const MARK: &str = "@@graine-docs";

/// `graine serve`'s flags, read as the binary reads them.
#[derive(Parser)]
struct Serve {
    #[command(flatten)]
    config: ServeConfig,
}

/// The page's server: `graine serve` with the flags of its ```` ```sh server ```` block (none: the
/// defaults), except that it listens on a free port, keeps its data in a fresh database of this
/// run's store, and sends an http placer's calls to a stub that accepts every call. Returns the
/// server and the token the examples get as `$TOKEN`.
async fn server_for(page: &Page) -> Result<(TestApp, String), String> {
    let flags = page::server_flags(page)?.unwrap_or_default();
    let words = std::iter::once("serve".to_owned()).chain(flags);
    let wanted =
        Serve::try_parse_from(words).map_err(|e| format!("{}: the server block does not parse: {e}", page.name))?;
    let mut wanted = wanted.config;
    if wanted.telephony_url.is_some() {
        wanted.telephony_url = Some(accepting_stub().await);
    }
    let token = wanted.bootstrap_token.get_or_insert_with(|| TOKEN.to_owned()).clone();
    let app = TestApp::start_with(move |c| {
        wanted.bind = c.bind;
        wanted.database = c.database.clone();
        *c = wanted;
    })
    .await;
    Ok((app, token))
}

/// A telephony service that accepts every call: `200 {}` to any request.
async fn accepting_stub() -> String {
    let app = axum::Router::new().fallback(|| async { axum::Json(serde_json::json!({})) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("stub binds");
    let url = format!("http://{}/calls", listener.local_addr().expect("stub address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("stub serves") });
    url
}

/// The page's executed steps, in order.
fn steps(page: &Page) -> Vec<&Step> {
    page.blocks.iter().filter(|b| b.kind == Kind::Run).flat_map(|b| &b.steps).collect()
}

/// One shell script for the page: its steps in order, a mark before each on both outputs, and
/// `curl` writing each answer's status to standard error.
fn script(steps: &[&Step]) -> String {
    let mut s = String::from("set -euo pipefail\nshopt -s inherit_errexit\n");
    s += &format!(
        "curl() {{ command curl --max-time 30 --write-out \"%{{stderr}}\\n{MARK} status %{{http_code}}\\n\" \"$@\"; }}\n"
    );
    for (k, step) in steps.iter().enumerate() {
        s += &format!("printf '\\n{MARK} step {k}\\n'; printf '\\n{MARK} step {k}\\n' >&2\n");
        s += &step.code.join("\n");
        s += "\n";
    }
    s += &format!("printf '\\n{MARK} step end\\n' >&2\n");
    s
}

/// What the script wrote between step marks, by step.
fn by_step(text: &str) -> HashMap<String, String> {
    text.split(&format!("\n{MARK} step "))
        .skip(1)
        .map(|part| {
            let (id, rest) = part.split_once('\n').unwrap_or((part, ""));
            (id.to_owned(), rest.to_owned())
        })
        .collect()
}

/// Runs a page's examples; the errors name the page, the line and the command.
async fn run(page: &Page) -> Result<usize, Vec<String>> {
    let steps = steps(page);
    if steps.is_empty() {
        return Ok(0);
    }
    let (app, token) = server_for(page).await.map_err(|e| vec![e])?;
    let dir = std::env::temp_dir().join(format!("graine-docs-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("a directory for the examples");
    let (script, base, cwd) = (script(&steps), app.base.clone(), dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(cwd)
            .env("GRAINE", base)
            .env("TOKEN", token)
            .env("NO_PROXY", "*")
            .env_remove("BASH_ENV")
            .output()
            .expect("bash runs")
    })
    .await
    .expect("the examples ran");
    let _ = std::fs::remove_dir_all(&dir);
    app.stop().await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (printed, errors) = (by_step(&stdout), by_step(&stderr));
    let mut failures = Vec::new();
    let mut bindings = expect::Bindings::default();
    for (k, step) in steps.iter().enumerate() {
        let where_ = format!("{}:{}: `{}`", page.name, step.line, step.title());
        let Some(err) = errors.get(&k.to_string()) else { break };
        let statuses: Vec<u16> = err
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{MARK} status ")))
            .map(|s| s.trim().parse().unwrap_or(0))
            .collect();
        let said: String = err.lines().filter(|l| !l.starts_with(MARK)).collect::<Vec<_>>().join("\n");
        if !errors.contains_key(&(k + 1).to_string()) && !errors.contains_key("end") {
            failures.push(format!("{where_}\n  failed with {}; it wrote:\n{}", out.status, indent(&said)));
            break;
        }
        let got = printed.get(&k.to_string()).map(String::as_str).unwrap_or_default();
        if let Err(e) = check(step, &statuses, got, &mut bindings) {
            let shown = step.shown.as_ref().map(|(_, t)| t.as_str()).unwrap_or_default();
            failures.push(format!(
                "{where_}\n  {e}\n  the page shows:\n{}\n  the example printed:\n{}{}",
                indent(shown),
                indent(got),
                if said.trim().is_empty() { String::new() } else { format!("\n  and on stderr:\n{}", indent(&said)) }
            ));
        }
    }
    if failures.is_empty() && !(out.status.success() && errors.contains_key("end")) {
        let said = stderr.lines().filter(|l| !l.starts_with(MARK)).collect::<Vec<_>>().join("\n");
        failures.push(format!(
            "{}: the examples' shell failed with {}; it wrote:\n{}",
            page.name,
            out.status,
            indent(&said)
        ));
    }
    if failures.is_empty() { Ok(steps.len()) } else { Err(failures) }
}

/// The step's answers and output against what the page shows: the status it shows (else every
/// answer `2xx`), then the output item by item.
fn check(step: &Step, statuses: &[u16], got: &str, bindings: &mut expect::Bindings) -> Result<(), String> {
    let (status, shown) = match &step.shown {
        Some((_, text)) => expect::split_status(text),
        None => (None, ""),
    };
    match status {
        Some(s) if statuses.is_empty() || statuses.iter().any(|got| *got != s) => {
            return Err(format!("the page shows status {s}, the server answered {statuses:?}"));
        }
        None if statuses.iter().any(|s| !(200..300).contains(s)) => {
            return Err(format!(
                "the server answered {statuses:?}; an output shown without a status means 2xx (show another as `# 409 {{…}}`)"
            ));
        }
        _ => {}
    }
    if step.shown.is_none() {
        return Ok(());
    }
    let shown = expect::expected(shown)?;
    expect::matches(&shown, &expect::got(got), bindings)
}

fn indent(text: &str) -> String {
    let text = text.trim_matches('\n');
    if text.trim().is_empty() {
        return "    (nothing)".into();
    }
    text.lines().map(|l| format!("    | {l}")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn every_shell_example_in_the_docs_runs_and_prints_what_the_page_shows() {
    for tool in ["bash", "curl", "jq", "openssl", "od", "base64"] {
        let found = std::process::Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output();
        assert!(found.is_ok_and(|o| o.status.success()), "the docs' examples need `{tool}` on the PATH");
    }
    let mut failures = Vec::new();
    let mut pages = Vec::new();
    for path in page::all() {
        match page::read(&path) {
            Ok(p) => pages.push(p),
            Err(errors) => failures.extend(errors),
        }
    }
    // A few pages at a time: each runs a server of its own, and all at once would take more
    // database connections than a test server may count on.
    let results: Vec<_> = futures_util::StreamExt::collect(futures_util::StreamExt::buffered(
        futures_util::stream::iter(pages.iter().map(run)),
        4,
    ))
    .await;
    let mut executed = 0;
    for result in results {
        match result {
            Ok(n) => executed += n,
            Err(errors) => failures.extend(errors),
        }
    }
    let count = |kind: Kind| pages.iter().flat_map(|p| &p.blocks).filter(|b| b.kind == kind).count();
    eprintln!(
        "executed docs: {} shell examples ({executed} steps) run on {} pages; {} marked no-run, {} server commands",
        count(Kind::Run),
        pages.len(),
        count(Kind::NoRun),
        count(Kind::Server)
    );
    assert!(failures.is_empty(), "{} example(s) in the docs went wrong:\n\n{}", failures.len(), failures.join("\n\n"));
    assert!(executed >= 50, "only {executed} steps found in the docs: does the page reader still find the examples?");
}

#[test]
fn every_relative_link_in_the_docs_leads_somewhere() {
    let mut paths = page::all();
    paths.extend(["RELIABILITY.md", "BENCHMARKS.md"].map(|p| page::root().join(p)));
    let mut broken = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("page readable");
        let name = path.strip_prefix(page::root()).unwrap_or(path).display().to_string();
        for (target, line) in page::links(&text) {
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() { path.clone() } else { path.parent().unwrap().join(file) };
            if !file.exists() {
                broken.push(format!("{name}:{line}: {target}: no such file"));
            } else if !anchor.is_empty() {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if !page::anchors(&text).iter().any(|a| a == anchor) {
                    broken.push(format!("{name}:{line}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
