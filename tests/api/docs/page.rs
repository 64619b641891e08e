//! The docs' pages as the executed-docs test reads them: fenced blocks, the steps of each shell example
//! with the output it shows, the server the page's examples run against, and the page's links.

use std::path::{Path, PathBuf};

/// The languages of shell examples.
const SHELLS: [&str; 4] = ["sh", "bash", "shell", "console"];

/// A page of the docs.
pub struct Page {
    /// The path from the repository's root, as messages name it.
    pub name: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, PartialEq)]
pub enum Kind {
    /// A shell example: executed.
    Run,
    /// A shell example marked `no-run`: shown only.
    NoRun,
    /// The command that starts the server the page's examples run against: not executed, but the
    /// test's server gets its flags.
    Server,
    /// ```` ```json output ````: what the previous shell example prints.
    Output,
    /// Anything else (JSON shapes, Python, plain text): shown only.
    Other,
}

pub struct Block {
    /// The line of the opening fence (from 1).
    pub line: usize,
    pub kind: Kind,
    pub lines: Vec<String>,
    pub steps: Vec<Step>,
}

/// Commands with the output shown right after them, up to a blank line or the next command.
pub struct Step {
    /// The line of the first command (from 1).
    pub line: usize,
    pub code: Vec<String>,
    /// The output shown, without the `# ` marks, and the line where it starts.
    pub shown: Option<(usize, String)>,
}

impl Step {
    /// The step's first command, for messages.
    pub fn title(&self) -> String {
        let first = self.code.iter().find(|l| !l.trim().is_empty()).map(|l| l.trim()).unwrap_or_default();
        let short: String = first.chars().take(90).collect();
        if short.len() < first.len() { format!("{short}…") } else { short }
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages examples may live on: README.md and every docs/*.md.
pub fn all() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// Reads a page; the errors are every way it breaks the rules of docs/README.md ("Writing examples").
pub fn read(path: &Path) -> Result<Page, Vec<String>> {
    let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut errors = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        let ticks = fence.chars().take_while(|c| *c == '`').count();
        if ticks < 3 || fence[ticks..].contains('`') {
            i += 1;
            continue;
        }
        let indent = lines[i].len() - fence.len();
        let mut words = fence[ticks..].split_whitespace();
        let lang = words.next().unwrap_or_default();
        let flags: Vec<&str> = words.collect();
        let start = i + 1;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let t = lines[i].trim();
            if t.len() >= ticks && t.chars().all(|c| c == '`') {
                break;
            }
            body.push(lines[i].strip_prefix(&" ".repeat(indent)).unwrap_or(lines[i]));
            i += 1;
        }
        i += 1;
        let at = format!("{name}:{start}");
        let kind = match (SHELLS.contains(&lang), lang, flags.as_slice()) {
            (true, _, []) => Kind::Run,
            (true, _, ["no-run"]) => Kind::NoRun,
            (true, _, ["server"]) => Kind::Server,
            (false, "json", ["output"]) => Kind::Output,
            (true, _, _) | (_, _, [.., "output"]) => {
                errors.push(format!("{at}: unknown marker `{}` (use none, `no-run` or `server`)", flags.join(" ")));
                continue;
            }
            _ => Kind::Other,
        };
        let quotes_a_page = lang == "markdown";
        let talks_curl = body.iter().any(|l| l.split_whitespace().any(|w| w == "curl" || w.ends_with("(curl")));
        if talks_curl && kind != Kind::Run && !quotes_a_page {
            errors.push(format!("{at}: an example with curl must be executed: a plain ```sh block"));
        }
        let mut block =
            Block { line: start, kind, lines: body.iter().map(|l| (*l).to_owned()).collect(), steps: vec![] };
        match block.kind {
            Kind::Run => block.steps = steps(start + 1, &block.lines),
            Kind::Output => attach_output(&mut blocks, &block, &at, &mut errors),
            _ => {}
        }
        blocks.push(block);
    }
    if blocks.iter().filter(|b| b.kind == Kind::Server).count() > 1 {
        errors.push(format!("{name}: more than one ```sh server block: a page runs against one server"));
    }
    if errors.is_empty() { Ok(Page { name, blocks }) } else { Err(errors) }
}

/// Splits a shell example into steps: commands, then the `#` lines right after them (their output).
fn steps(first_line: usize, lines: &[String]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current = Step { line: first_line, code: vec![], shown: None };
    let finish = |current: &mut Step, steps: &mut Vec<Step>, next: usize| {
        if !current.code.is_empty() {
            steps.push(std::mem::replace(current, Step { line: next, code: vec![], shown: None }));
        }
    };
    for (n, line) in lines.iter().enumerate() {
        let number = first_line + n;
        if line.trim().is_empty() {
            finish(&mut current, &mut steps, number + 1);
        } else if let Some(comment) = line.strip_prefix('#') {
            if current.code.is_empty() {
                continue; // prose before a command
            }
            let text = comment.strip_prefix(' ').unwrap_or(comment);
            match &mut current.shown {
                Some((_, shown)) => {
                    shown.push('\n');
                    shown.push_str(text);
                }
                None => current.shown = Some((number, text.to_owned())),
            }
        } else {
            if current.shown.is_some() {
                finish(&mut current, &mut steps, number);
            }
            if current.code.is_empty() {
                current.line = number;
            }
            current.code.push(line.clone());
        }
    }
    finish(&mut current, &mut steps, 0);
    steps
}

/// A ```` ```json output ```` block is the output of the last step of the shell example before it.
fn attach_output(blocks: &mut [Block], output: &Block, at: &str, errors: &mut Vec<String>) {
    let Some(previous) = blocks.last_mut().filter(|b| b.kind == Kind::Run) else {
        return errors.push(format!("{at}: ```json output must follow an executed ```sh example"));
    };
    match previous.steps.last_mut() {
        Some(step) if step.shown.is_none() => step.shown = Some((output.line, output.lines.join("\n"))),
        _ => errors.push(format!("{at}: the last command of the example before already shows its output")),
    }
}

/// The flags of the page's ```` ```sh server ```` command (`graine serve …` or `cargo run … -- serve …`),
/// as `graine serve` reads them; `None` when the page has none.
pub fn server_flags(page: &Page) -> Result<Option<Vec<String>>, String> {
    let Some(block) = page.blocks.iter().find(|b| b.kind == Kind::Server) else { return Ok(None) };
    let words = shell_words(&block.lines.join("\n").replace("\\\n", " "));
    let serve = words.iter().position(|w| w == "serve");
    let known_prefix =
        |p: &[String]| p == ["graine"] || (p.len() >= 2 && p[..2] == ["cargo", "run"] && p.ends_with(&["--".into()]));
    match serve {
        Some(at) if known_prefix(&words[..at]) => Ok(Some(words[at + 1..].to_vec())),
        _ => Err(format!(
            "{}:{}: a server block is one `graine serve …` or `cargo run … -- serve …`",
            page.name, block.line
        )),
    }
}

/// Splits a command into words, as a shell would for plain words and quoted ones.
fn shell_words(text: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The lines of a page outside its fenced blocks, with their numbers (from 1).
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        let ticks = t.chars().take_while(|c| *c == '`').count();
        match open {
            None if ticks >= 3 && !t[ticks..].contains('`') => open = Some(ticks),
            Some(o) if ticks >= o && ticks == t.len() => open = None,
            None => out.push((n + 1, line)),
            Some(_) => {}
        }
    }
    out
}

/// The anchors GitHub gives a page's headings.
pub fn anchors(text: &str) -> Vec<String> {
    let (mut bases, mut anchors): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (_, line) in prose(text) {
        let Some(heading) = line.strip_prefix('#') else { continue };
        let title = heading.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = bases.iter().filter(|s| **s == slug).count();
        anchors.push(if n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        bases.push(slug);
    }
    anchors
}

/// Every relative link of a page, `(target, line)`, outside code blocks and code spans.
pub fn links(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let outside_code: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = outside_code.as_str();
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let end = tail.find(')').unwrap_or(tail.len());
            let target = &tail[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                out.push((target.to_owned(), n));
            }
            rest = &tail[end..];
        }
    }
    out
}
