//! Memory per idle connection: N loopback connections held open by a server on tokio
//! (raw TCP, hyper HTTP/1.1 in keep-alive, tokio-tungstenite WebSocket) and on smol (raw
//! TCP), measured on the server's side at the peak, the clients in a process of their own.
//! Ids `tokio-mt/tcp/1000`, `tokio-mt/http1/1000`, `tokio-mt/ws/1000`, `smol/tcp/1000`,
//! recorded in the summary like any `taskmem::group`. See docs/connections.md.
//!
//! Run with (as root for the kernel's share, which reads `/proc/slabinfo`):
//!
//! ```text
//! cargo bench --bench connections                          # N = 1, 1000, 10000, 100000
//! TASKMEM_CONN_N=1,1000 cargo bench --bench connections    # the sizes CI runs
//! cargo bench --bench connections -- tokio-mt/http1        # a slice: Criterion's filter, a regex
//! cargo bench --bench connections -- '^tokio-mt/tcp/10000$'  # one case
//! ```
//!
//! A size past the open-files limit (`RLIMIT_NOFILE`) is skipped with the limit named.
//! After the Rust cases, the peers in other languages (`go/tcp`, `go/http1`, `node/tcp`,
//! `node/http1`, from `peers/go-conn` and `peers/node-conn`) hold the same connections, read
//! whole-process ([`taskmem_suite::connections::peers`]); `TASKMEM_CONN_PEERS=0` leaves them out,
//! and a missing toolchain skips them with one line.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use taskmem::{Latch, Memory, Runtime, Sample, Strategy, Tasks};
use taskmem_suite::connections::breakdown::ConnBreakdown;
use taskmem_suite::connections::peers::{self, PeerServer};
use taskmem_suite::connections::record::{self, Extra};
use taskmem_suite::connections::{Kind, Server, Skip, kernel, workloads};

taskmem::use_tracked_jemalloc!();

const CLIENT: &str = env!("CARGO_BIN_EXE_taskmem-conn-client");
const SIZES: &str = "1,1000,10000,100000";
/// How long the check at the peak waits for the client to have read every response.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The Rust servers, in the order they run at each N.
const RUST: [(Runtime, Kind); 4] = [
    (Runtime::TokioMultiThread, Kind::Tcp),
    (Runtime::TokioMultiThread, Kind::Http1),
    (Runtime::TokioMultiThread, Kind::Ws),
    (Runtime::Smol, Kind::Tcp),
];

fn main() {
    let sizes = sizes();
    let peers = std::env::var("TASKMEM_CONN_PEERS").as_deref() != Ok("0");
    let selected = selected(&sizes, peers);
    let mut c = taskmem::criterion().configure_from_args();
    let mut extras = BTreeMap::new();
    let mut bench = Bench {
        c: &mut c,
        selected: &selected,
        extras: &mut extras,
        parts: BTreeMap::new(),
    };
    for &n in &sizes {
        bench.case(
            Runtime::TokioMultiThread,
            Kind::Tcp,
            n,
            workloads::tokio_tcp,
        );
        bench.case(
            Runtime::TokioMultiThread,
            Kind::Http1,
            n,
            workloads::tokio_http1,
        );
        bench.case(Runtime::TokioMultiThread, Kind::Ws, n, workloads::tokio_ws);
        bench.case(Runtime::Smol, Kind::Tcp, n, workloads::smol_tcp);
    }
    if peers {
        for peer in PeerServer::ALL {
            peer_cases(peer, &sizes, &selected, &mut extras);
        }
    }
    c.final_summary();
    match record::save(extras) {
        Ok(()) => println!(
            "taskmem: kernel shares written to {}",
            record::path().display()
        ),
        Err(e) => eprintln!("taskmem: {e}"),
    }
}

struct Bench<'a> {
    c: &'a mut Criterion<Memory>,
    /// The ids Criterion's filter selects.
    selected: &'a BTreeSet<String>,
    extras: &'a mut BTreeMap<String, Extra>,
    /// The bare task's and the registered socket's runs, by runtime and N.
    parts: BTreeMap<(&'static str, usize), (Sample, Sample)>,
}

impl Bench<'_> {
    /// One case: the check at the peak (with the kernel's share), the time to open the N
    /// connections, then Criterion's samples through `taskmem::group`.
    fn case<F, S>(&mut self, runtime: Runtime, kind: Kind, n: usize, serve: S)
    where
        S: Fn(Result<TcpStream, String>, Latch) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let id = format!("{}/{}/{n}", runtime.id(), kind.id());
        if !self.selected.contains(&id) {
            return;
        }
        let server = match Server::start(kind, n, Path::new(CLIENT)) {
            Ok(Ok(server)) => server,
            Ok(Err(Skip(why))) => {
                println!("taskmem: {id}: skipped: {why}");
                let extra = Extra {
                    skipped: Some(why),
                    ..Extra::default()
                };
                self.extras.insert(id, extra);
                return;
            }
            Err(e) => fail(&id, &e),
        };
        // The peak is read once every connection is idle, not merely pending.
        let ready = Latch::new();
        let tasks = Tasks::new(runtime, Strategy::Spawn, n).ready_latch(&ready);
        let make = || serve(server.next(), ready.clone());
        let extra = Extra {
            kernel: at_peak(&id, &tasks, &server, &make),
            open_seconds: match tasks.time_to_peak(&make) {
                Ok(t) => Some(t.as_secs_f64()),
                Err(e) => fail(&id, &e.to_string()),
            },
            skipped: None,
            breakdown: None,
            peer_runs: Vec::new(),
        };
        let (bare, registered) = self.parts(&id, runtime, n);
        let case = median_run(&id, &tasks, &make);
        let breakdown = ConnBreakdown::compute(
            n,
            &bare,
            &registered,
            &case,
            extra.kernel.as_ref().map(|k| k.per_connection),
        );
        println!(
            "{id}: per connection: resident {:.0} B = task {:.0} + I/O registration {:.0} + \
             protocol {:.0} + rounding {:.0} + unexplained {:.0}; kernel {}",
            breakdown.resident,
            breakdown.task,
            breakdown.io_registration,
            breakdown.protocol,
            breakdown.size_class_rounding,
            breakdown.unexplained,
            breakdown
                .kernel
                .map_or("not measured".to_string(), |k| format!("{k:.0} B")),
        );
        let extra = Extra {
            breakdown: Some(breakdown),
            ..extra
        };
        if let Some(k) = &extra.kernel {
            println!("{id}: {}", k.describe());
        }
        self.extras.insert(id, extra);
        let mut group = taskmem::group(self.c, runtime.id());
        group.tasks_named(kind.id(), &tasks, make);
        group.finish();
    }
}

impl Bench<'_> {
    /// The bare task's and the registered raw socket's runs on `runtime` at `n` (median of
    /// three each), for the breakdown.
    fn parts(&mut self, id: &str, runtime: Runtime, n: usize) -> (Sample, Sample) {
        if let Some(p) = self.parts.get(&(runtime.id(), n)) {
            return *p;
        }
        let ready = Latch::new();
        let tasks = Tasks::new(runtime, Strategy::Spawn, n).ready_latch(&ready);
        let bare = median_run(id, &tasks, || workloads::bare(ready.clone()));
        let server = match Server::start(Kind::Tcp, n, Path::new(CLIENT)) {
            Ok(Ok(server)) => server,
            Ok(Err(Skip(why))) => fail(id, &why),
            Err(e) => fail(id, &e),
        };
        let registered = match runtime {
            Runtime::Smol => median_run(id, &tasks, || {
                workloads::smol_registered(server.next(), ready.clone())
            }),
            _ => median_run(id, &tasks, || {
                workloads::tokio_registered(server.next(), ready.clone())
            }),
        };
        self.parts.insert((runtime.id(), n), (bare, registered));
        (bare, registered)
    }
}

/// The median (by requested bytes) of three measured runs, after one unmeasured.
fn median_run<F>(id: &str, tasks: &Tasks, make: impl Fn() -> F) -> Sample
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut runs: Vec<Sample> = (0..4)
        .map(|_| {
            tasks
                .measure(&make)
                .unwrap_or_else(|e| fail(id, &e.to_string()))
        })
        .skip(1)
        .collect();
    runs.sort_by_key(|s| s.requested);
    runs[1]
}

/// One unmeasured run that checks the peak is what the case says (every exchange done, the
/// client holding every connection) and reads the kernel's share there. `None` when the
/// kernel's counters cannot be read (one line says why).
fn at_peak<F>(
    id: &str,
    tasks: &Tasks,
    server: &Server,
    make: &impl Fn() -> F,
) -> Option<kernel::KernelShare>
where
    F: Future<Output = ()> + Send + 'static,
{
    std::thread::sleep(Duration::from_millis(200));
    let before = kernel::read()
        .inspect_err(|e| println!("taskmem: {id}: kernel share not measured: {e}"))
        .ok();
    let answered_before = workloads::answered();
    let mut answered = 0;
    let mut client = Ok(());
    let mut peak = None;
    let run = tasks.run(make, &mut || {
        answered = workloads::answered() - answered_before;
        client = server.wait_answered(ANSWER_TIMEOUT);
        peak = before.as_ref().and_then(|_| kernel::read().ok());
    });
    if let Err(e) = run.map_err(|e| e.to_string()).and(client) {
        fail(id, &e);
    }
    if server.kind() != Kind::Tcp && answered != tasks.n() {
        fail(
            id,
            &format!(
                "only {answered} of {} connections had their exchange by the peak",
                tasks.n()
            ),
        );
    }
    Some(kernel::share(&before?, &peak?, tasks.n()))
}

/// Runs to average for a peer's figure (each is a whole process: seconds, not milliseconds).
const PEER_RUNS: usize = 3;

/// One peer's cases: each kind at each size, [`PEER_RUNS`] runs each.
fn peer_cases(
    peer: PeerServer,
    sizes: &[usize],
    selected: &BTreeSet<String>,
    extras: &mut BTreeMap<String, Extra>,
) {
    let ids: Vec<(Kind, usize, String)> = sizes
        .iter()
        .flat_map(|&n| {
            peer.kinds()
                .into_iter()
                .map(move |k| (k, n, format!("{}/{}/{n}", peer.id(), k.id())))
        })
        .filter(|(_, _, id)| selected.contains(id))
        .collect();
    if ids.is_empty() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = taskmem::summary::target_dir()
        .join("taskmem")
        .join("conn-peers");
    let prepared = match peer.prepare(&root.join("peers"), &build) {
        Ok(p) => p,
        Err(why) => {
            println!("taskmem: {}: skipped: {why}", peer.id());
            for (_, _, id) in ids {
                let extra = Extra {
                    skipped: Some(why.clone()),
                    ..Extra::default()
                };
                extras.insert(id, extra);
            }
            return;
        }
    };
    for (kind, n, id) in ids {
        if let Ok((soft, hard)) = kernel::raise_open_files_limit()
            && n as u64 + 64 > soft
        {
            let why = format!(
                "{n} connections need {} file descriptors; RLIMIT_NOFILE is {soft} (hard \
                 limit {hard})",
                n + 64
            );
            println!("taskmem: {id}: skipped: {why}");
            extras.insert(
                id,
                Extra {
                    skipped: Some(why),
                    ..Extra::default()
                },
            );
            continue;
        }
        let mut runs = Vec::new();
        for _ in 0..PEER_RUNS {
            match peers::run(&prepared, kind, n, Path::new(CLIENT)) {
                Ok(run) => runs.push(run),
                Err(e) => fail(&id, &e),
            }
        }
        let per: Vec<f64> = runs.iter().map(|r| r.per_connection(n)).collect();
        let mean = per.iter().sum::<f64>() / per.len() as f64;
        let open = runs.iter().map(|r| r.open_seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{id}: {mean:.0} B RSS per connection (runs {per:.0?}), open in {:.3} s",
            open
        );
        extras.insert(
            id,
            Extra {
                open_seconds: Some(open),
                peer_runs: runs,
                ..Extra::default()
            },
        );
    }
}

fn fail(id: &str, why: &str) -> ! {
    eprintln!("taskmem: {id}: {why}");
    std::process::exit(1);
}

/// `TASKMEM_CONN_N`: comma-separated connection counts (k/m suffixes), each at least 1: a
/// bad list is one line and exit code 2, before anything starts.
fn sizes() -> Vec<usize> {
    let Ok(text) = std::env::var("TASKMEM_CONN_N") else {
        return taskmem_suite::config::parse_sizes(SIZES).unwrap_or_default();
    };
    taskmem_suite::config::parse_sizes(&text).unwrap_or_else(|e| {
        eprintln!("taskmem: TASKMEM_CONN_N: {e}");
        std::process::exit(2);
    })
}

/// Every case id of this run at `sizes` (the peers' with `peers`), in run order.
fn all_ids(sizes: &[usize], peers: bool) -> Vec<String> {
    let mut ids = Vec::new();
    for &n in sizes {
        ids.extend(
            RUST.iter()
                .map(|(rt, k)| format!("{}/{}/{n}", rt.id(), k.id())),
        );
    }
    if peers {
        for peer in PeerServer::ALL {
            for &n in sizes {
                ids.extend(
                    peer.kinds()
                        .into_iter()
                        .map(|k| format!("{}/{}/{n}", peer.id(), k.id())),
                );
            }
        }
    }
    ids
}

/// The ids Criterion's filter selects (a regular expression, or `--exact`), as Criterion
/// selects benchmarks: a filter that matches none is one line and exit code 2 before any
/// server starts; `--list` prints the selected ids and ends.
fn selected(sizes: &[usize], peers: bool) -> BTreeSet<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = taskmem_suite::config::Config::from_parts(None, None, &args).unwrap_or_else(|e| {
        eprintln!("taskmem: {e}");
        std::process::exit(2);
    });
    let all = all_ids(sizes, peers);
    let example = all
        .iter()
        .rfind(|id| id.starts_with("tokio-mt/tcp/"))
        .cloned()
        .unwrap_or_default();
    let ids = taskmem_suite::config::select_ids(
        &config.filter,
        config.mode,
        "cargo bench --features connections --bench connections",
        &all,
        &example,
    )
    .unwrap_or_else(|no| no.exit());
    if config.list_only() {
        ids.iter().for_each(|id| println!("{id}: benchmark"));
        std::process::exit(0);
    }
    ids.into_iter().collect()
}
