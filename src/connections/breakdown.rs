//! Where an idle connection's bytes go: the task, its socket's registration with the
//! runtime's I/O driver, the protocol's state and buffers, jemalloc's rounding and pages,
//! and the kernel's share.
//!
//! Three runs of the same N on the same runtime, each read with taskmem's exact counters
//! (`allocated`, the requested bytes), give the user-space parts by difference:
//!
//! - **task**: N spawned tasks awaiting nothing (`std::future::pending`), with the ready
//!   latch: the runtime's task cell, its `JoinHandle` kept by taskmem, the latch's clone;
//! - **I/O registration**: N accepted raw TCP sockets registered with the runtime (tokio's
//!   `TcpStream::from_std`, async-io's `Async::new`) and held, never read, minus the task;
//! - **protocol state and buffers**: the case itself minus the registered socket's run: the
//!   server's future (hyper's connection, tungstenite's stream, the read future) beyond a
//!   bare task's, and what it allocates (read buffers, hyper's and tungstenite's buffers);
//! - **size-class rounding**: jemalloc's `usable - allocated` of the case;
//! - **unexplained**: the case's `resident` minus everything above (jemalloc's pages beyond
//!   its live allocations: partly filled slabs and runs, its metadata).
//!
//! Each part is bytes per connection from one median run at that N (not a slope across N):
//! at N = 1 it carries the runtime's first-use growth and is noise; read it at 1K and 10K.

use serde::{Deserialize, Serialize};

use taskmem::Sample;

/// One case's bytes per connection, by part (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConnBreakdown {
    /// The case's `resident` bytes per connection: what the parts add up to, kernel aside.
    pub resident: f64,
    /// The case's exact requested bytes per connection.
    pub allocated: f64,
    /// A bare spawned task (with its `JoinHandle` and the ready latch's clone).
    pub task: f64,
    /// The socket's registration with the runtime's I/O driver.
    pub io_registration: f64,
    /// The protocol's state and buffers: the rest of the requested bytes.
    pub protocol: f64,
    /// jemalloc's size classes: usable - allocated.
    pub size_class_rounding: f64,
    /// resident - usable: pages and metadata beyond the live allocations.
    pub unexplained: f64,
    /// The kernel's share of the server's socket (absent without root).
    pub kernel: Option<f64>,
}

impl ConnBreakdown {
    /// The parts from the three runs at `n` connections (`bare`: pending tasks; `registered`:
    /// registered raw TCP sockets held; `case`: the case), and the kernel's share.
    pub fn compute(
        n: usize,
        bare: &Sample,
        registered: &Sample,
        case: &Sample,
        kernel: Option<f64>,
    ) -> ConnBreakdown {
        let per = |v: i64| v as f64 / n.max(1) as f64;
        let task = per(bare.requested);
        let io_registration = per(registered.requested) - task;
        let allocated = per(case.requested);
        let protocol = allocated - task - io_registration;
        let size_class_rounding = per(case.usable) - allocated;
        let resident = per(case.resident);
        ConnBreakdown {
            resident,
            allocated,
            task,
            io_registration,
            protocol,
            size_class_rounding,
            unexplained: resident - allocated - size_class_rounding,
            kernel,
        }
    }

    /// The user-space and kernel bytes together, per connection.
    pub fn total(&self) -> f64 {
        self.resident + self.kernel.unwrap_or(0.0)
    }
}
