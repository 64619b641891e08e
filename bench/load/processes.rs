//! Processes of the load benchmark: child servers with a stopping guard, `perf` profiles of them, and
//! what `/proc` says about them and about the machine.

use super::context::Ctx;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server running as a child process; stopped (SIGTERM, then SIGKILL) when dropped, also on panic.
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) db: String,
    pub(crate) log: PathBuf,
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free now.
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets a process's peak RSS (`VmHWM`) to its current RSS; false when the kernel refused.
pub(crate) fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User + system CPU time of a process (all its threads), in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Busy CPU time of the whole machine (all cores), in clock ticks, from `/proc/stat`.
pub(crate) fn machine_busy_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait
    [0, 1, 2, 5, 6, 7].iter().map(|&i| f.get(i).copied().unwrap_or(0)).sum()
}

/// Waits until the machine is quiet (busy < 30% of one core over a second), at most `max` seconds.
pub(crate) async fn wait_quiet(ticks: f64, max: f64) {
    let started = Instant::now();
    let mut busy = 0.0;
    while started.elapsed().as_secs_f64() < max {
        let before = machine_busy_ticks();
        tokio::time::sleep(Duration::from_secs(1)).await;
        busy = machine_busy_ticks().saturating_sub(before) as f64 / ticks * 100.0;
        if busy < 30.0 {
            if started.elapsed().as_secs_f64() > 1.5 {
                eprintln!("    waited {:.0} s for the machine to be quiet", started.elapsed().as_secs_f64());
            }
            return;
        }
    }
    if max > 0.0 {
        eprintln!("    the machine is still busy ({busy:.0}% of a core) after {max:.0} s; measuring anyway");
    }
}

pub(crate) fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `perf record` of a server while it lives (with `--perf`); stopped with SIGINT when dropped.
pub(crate) struct Profile(Option<Child>);

impl Profile {
    pub(crate) fn start(ctx: &Ctx, server: &Server, label: &str) -> Self {
        if !ctx.opts.perf {
            return Self(None);
        }
        let slug: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let file = ctx.logs.join(format!("{}-{slug}.perf.data", server.name));
        let child = Command::new("perf")
            .args(["record", "-q", "-F", "999", "-p", &server.pid().to_string(), "-o"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = &child {
            eprintln!("    perf record could not start: {e}");
        }
        std::thread::sleep(Duration::from_millis(300));
        Self(child.ok())
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
