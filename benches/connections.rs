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
//! cargo bench --bench connections -- tokio-mt/http1        # a slice, by id substring
//! ```
//!
//! A size past the open-files limit (`RLIMIT_NOFILE`) is skipped with the limit named.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use taskmem::connections::record::{self, Extra};
use taskmem::connections::{Kind, Server, Skip, kernel, workloads};
use taskmem::{Memory, Runtime, Strategy, Tasks};

taskmem::use_tracked_jemalloc!();

const CLIENT: &str = env!("CARGO_BIN_EXE_taskmem-conn-client");
const SIZES: &str = "1,1000,10000,100000";
/// How long the check at the peak waits for the client to have read every response.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let sizes = sizes();
    let filters = filters();
    let mut c = taskmem::criterion().configure_from_args();
    let mut extras = BTreeMap::new();
    let mut bench = Bench {
        c: &mut c,
        filters: &filters,
        extras: &mut extras,
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
    filters: &'a [String],
    extras: &'a mut BTreeMap<String, Extra>,
}

impl Bench<'_> {
    /// One case: the check at the peak (with the kernel's share), the time to open the N
    /// connections, then Criterion's samples through `taskmem::group`.
    fn case<F, S>(&mut self, runtime: Runtime, kind: Kind, n: usize, serve: S)
    where
        S: Fn(Result<TcpStream, String>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let id = format!("{}/{}/{n}", runtime.id(), kind.id());
        if !self.filters.is_empty() && !self.filters.iter().any(|f| id.contains(f.as_str())) {
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
        let tasks = Tasks::new(runtime, Strategy::Spawn, n);
        let make = || serve(server.next());
        let extra = Extra {
            kernel: at_peak(&id, &tasks, &server, &make),
            open_seconds: match tasks.time_to_peak(&make) {
                Ok(t) => Some(t.as_secs_f64()),
                Err(e) => fail(&id, &e.to_string()),
            },
            skipped: None,
        };
        if let Some(k) = &extra.kernel {
            println!(
                "{id}: kernel {:.0} B per connection (slabs {:?}, buffers {:.0} B)",
                k.per_connection, k.slabs, k.buffers
            );
        }
        self.extras.insert(id, extra);
        let mut group = taskmem::group(self.c, runtime.id());
        group.tasks_named(kind.id(), &tasks, make);
        group.finish();
    }
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

fn fail(id: &str, why: &str) -> ! {
    eprintln!("taskmem: {id}: {why}");
    std::process::exit(1);
}

/// `TASKMEM_CONN_N`: comma-separated connection counts.
fn sizes() -> Vec<usize> {
    let text = std::env::var("TASKMEM_CONN_N").unwrap_or_else(|_| SIZES.to_string());
    text.split(',')
        .map(|s| {
            s.trim().parse().unwrap_or_else(|_| {
                eprintln!("taskmem: TASKMEM_CONN_N: {s:?} is not a number of connections");
                std::process::exit(2);
            })
        })
        .collect()
}

/// Criterion's positional filters, matched here as substrings of the case id (so the
/// unmeasured runs of filtered-out cases are skipped too).
fn filters() -> Vec<String> {
    const WITH_VALUE: [&str; 12] = [
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--measurement-time",
        "--warm-up-time",
        "--profile-time",
        "--output-format",
        "--color",
        "--nresamples",
        "--noise-threshold",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with('-') && (*i == 0 || !WITH_VALUE.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a.clone())
        .collect()
}
