//! Payloads: what a task holds across its await besides its sleep, and the futures that hold
//! it.
//!
//! A [`Payload`] of P bytes is kept in one of three places (see [`Place`]):
//!
//! - **inline**: a `[u8; P]` local, filled before the await and read after it, so the
//!   compiler must keep it in the future's state machine: `size_of_val` of the future grows by
//!   P (plus alignment). P must be known at compile time: the sizes of
//!   [`INLINE_SIZES`](crate::matrix::INLINE_SIZES) are compiled in.
//! - **heap**: a `Vec<u8>` of P bytes, filled (every page touched) and held across the await:
//!   the state machine holds the 24-byte `Vec`, the heap the P bytes.
//! - **dropped**: the same `Vec` is filled and summed *before* the await, in a block that
//!   drops it; only the 8-byte sum is held across the await. This is the "drop heavy values
//!   before awaiting" advice; `size_of_val` shows the state machine keeps neither the bytes
//!   nor the `Vec`.
//!
//! `std::hint::black_box` keeps every payload from being optimised away.
//!
//! Spawned tasks use the `*_task` bodies, which read the sleep's duration from the run's
//! setting when they start (so they capture nothing but their payload); the unspawned
//! strategies (`join_all`, sequential, `FuturesUnordered`, `buffer_unordered`) use the
//! `hold_*` futures, which create their sleep when first polled. [`body`] picks the body for
//! a case and hands its constructor to a [`Body`]: a run, a measurement or a size. Without a
//! payload a spawned task is `async { sleep(d).await }` ([`task`]), as in the published
//! programs, and an unspawned one the runtime's sleep future itself.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use std::time::Instant;

use super::{record_lateness, sleep_duration};
use crate::matrix::{Payload, Place};

/// Something done with a constructor of task futures: spawning N of them, polling N of them,
/// or measuring one.
pub(super) trait Body {
    /// What doing it returns.
    type Out;
    /// Does it with `make`, which builds one task's future.
    fn with<F>(self, make: impl Fn() -> F) -> Self::Out
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// Fills `bytes` so that its pages are touched and the writes cannot be elided.
fn fill(bytes: &mut [u8]) {
    bytes.fill(1);
    black_box(bytes);
}

/// The sum of a freshly allocated and filled `Vec` of `payload` bytes, dropped on return of
/// the block it is called from.
fn checksum(bytes: &[u8]) -> u64 {
    black_box(bytes).iter().map(|&b| u64::from(b)).sum()
}

/// A spawned task holding `[u8; P]` inline across its sleep.
async fn inline_task<const P: usize, S: Future>(sleep: impl FnOnce(Duration) -> S) {
    let mut held = [0u8; P];
    fill(&mut held);
    sleep(sleep_duration()).await;
    black_box(&held);
}

/// A spawned task that fills `payload` heap bytes and drops them before its sleep, keeping
/// only their checksum.
async fn dropped_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    let sum = {
        let mut buf = vec![0u8; payload];
        fill(&mut buf);
        checksum(&buf)
    };
    sleep(sleep_duration()).await;
    black_box(sum);
}

/// An unspawned future holding `[u8; P]` inline across its sleep.
async fn hold_inline<const P: usize, S: Future>(sleep: impl FnOnce(Duration) -> S, d: Duration) {
    let mut held = [0u8; P];
    fill(&mut held);
    sleep(d).await;
    black_box(&held);
}

/// An unspawned future holding `payload` heap bytes across its sleep.
async fn hold_heap<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S, d: Duration) {
    let held = vec![1u8; payload];
    sleep(d).await;
    black_box(&held);
}

/// An unspawned future that fills `payload` heap bytes and drops them before its sleep.
async fn hold_dropped<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S, d: Duration) {
    let sum = {
        let mut buf = vec![0u8; payload];
        fill(&mut buf);
        checksum(&buf)
    };
    sleep(d).await;
    black_box(sum);
}

/// A spawned task of the published programs: `async { sleep(d).await }`, its sleep created
/// when it starts.
async fn task<S: Future>(sleep: impl FnOnce(Duration) -> S) {
    sleep(sleep_duration()).await;
}

/// A spawned task that also holds `payload` heap bytes across its sleep.
async fn payload_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    let held = vec![1u8; payload];
    sleep(sleep_duration()).await;
    black_box(&held);
}

/// A task that records its lateness: its deadline is noted now, with its sleep (not when the
/// future is first polled: the sequential strategy polls its k-th future only after the one
/// before it finished).
fn timed<S: Future>(d: Duration, sleep: S) -> impl Future<Output = ()> {
    let deadline = Instant::now() + d;
    async move {
        sleep.await;
        record_lateness(deadline);
    }
}

/// async-std's sleep, as a function item.
pub(super) fn async_std_sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
    async_std::task::sleep(d)
}

/// Hands `body` the constructor of one task of a case: the runtime's sleep of `d` alone, or
/// with its deadline noted for `lateness`, or holding `payload` (spawned or not). `Err` for
/// an inline size not compiled in.
pub(super) fn body<S, Z, B>(
    payload: Option<Payload>,
    spawned: bool,
    lateness: bool,
    d: Duration,
    sleep: Z,
    body: B,
) -> Result<B::Out, String>
where
    S: Future + Send + 'static,
    S::Output: Send + 'static,
    Z: Sleep<S>,
    B: Body,
{
    match payload {
        None if lateness => Ok(body.with(move || timed(d, sleep(d)))),
        None if spawned => Ok(body.with(move || task(sleep))),
        None => Ok(body.with(move || sleep(d))),
        Some(p) if spawned => spawned_body(p, sleep, body),
        Some(p) => held_future(p, sleep, d, body),
    }
}

/// A runtime's sleep function, passed as its function item (a zero-sized type: the task
/// futures that keep it add no bytes for it, as the published workload's tasks do not).
pub(super) trait Sleep<S>: Fn(Duration) -> S + Copy + Send + Sync + 'static {}

impl<S, Z: Fn(Duration) -> S + Copy + Send + Sync + 'static> Sleep<S> for Z {}

/// The message for an inline size that is not compiled in (the matrix refuses such payloads
/// before they get here).
fn not_compiled(bytes: usize) -> String {
    format!("no inline payload of {bytes} B is compiled in")
}

/// Hands `body` the constructor of a spawned task holding `payload` and sleeping with
/// `sleep`. `Err` for an inline size not compiled in.
fn spawned_body<S, Z, B>(p: Payload, sleep: Z, body: B) -> Result<B::Out, String>
where
    S: Future + Send + 'static,
    Z: Sleep<S>,
    B: Body,
{
    Ok(match (p.place, p.bytes) {
        (Place::Heap, bytes) => body.with(move || payload_task(bytes, sleep)),
        (Place::Dropped, bytes) => body.with(move || dropped_task(bytes, sleep)),
        (Place::Inline, 0) => body.with(move || inline_task::<0, S>(sleep)),
        (Place::Inline, 64) => body.with(move || inline_task::<64, S>(sleep)),
        (Place::Inline, 1024) => body.with(move || inline_task::<1024, S>(sleep)),
        (Place::Inline, 16_385) => body.with(move || inline_task::<16_385, S>(sleep)),
        (Place::Inline, other) => return Err(not_compiled(other)),
    })
}

/// Hands `body` the constructor of an unspawned future holding `payload` around a sleep of
/// `d` made with `sleep`. `Err` for an inline size not compiled in.
fn held_future<S, Z, B>(payload: Payload, sleep: Z, d: Duration, body: B) -> Result<B::Out, String>
where
    S: Future + Send + 'static,
    Z: Sleep<S>,
    B: Body,
{
    Ok(match (payload.place, payload.bytes) {
        (Place::Heap, bytes) => body.with(move || hold_heap(bytes, sleep, d)),
        (Place::Dropped, bytes) => body.with(move || hold_dropped(bytes, sleep, d)),
        (Place::Inline, 0) => body.with(move || hold_inline::<0, S>(sleep, d)),
        (Place::Inline, 64) => body.with(move || hold_inline::<64, S>(sleep, d)),
        (Place::Inline, 1024) => body.with(move || hold_inline::<1024, S>(sleep, d)),
        (Place::Inline, 16_385) => body.with(move || hold_inline::<16_385, S>(sleep, d)),
        (Place::Inline, other) => return Err(not_compiled(other)),
    })
}
