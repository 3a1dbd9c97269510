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
//! Spawned tasks use the `*_task` bodies (report the first poll, then sleep, like the plain
//! [`task`](super::task)); the unspawned strategies (`join_all`, sequential,
//! `FuturesUnordered`, `buffer_unordered`) use the `hold_*` futures, which create their sleep
//! when first polled. [`spawned_body`] and [`held_future`] pick the body for a payload and hand
//! its constructor to a [`Body`]: the runtimes that spawn or poll it, or [`SizeOf`].

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use super::{STARTED, payload_task, sleep_duration, task};
use crate::matrix::{Payload, Place};

/// Something done with a constructor of task futures: spawning N of them, polling N of them,
/// or measuring one.
pub(super) trait Body {
    /// What doing it returns.
    type Out;
    /// Does it with `make`, which builds one task's future.
    fn with<F: Future<Output = ()> + Send + 'static>(self, make: impl Fn() -> F) -> Self::Out;
}

/// A [`Body`] that returns `size_of_val` of one future (built, never polled).
pub(super) struct SizeOf;

impl Body for SizeOf {
    type Out = usize;
    fn with<F: Future<Output = ()> + Send + 'static>(self, make: impl Fn() -> F) -> usize {
        size_of_val(&make())
    }
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
pub(super) async fn inline_task<const P: usize, S: Future>(sleep: impl FnOnce(Duration) -> S) {
    let mut held = [0u8; P];
    fill(&mut held);
    STARTED.arrive();
    sleep(sleep_duration()).await;
    black_box(&held);
}

/// A spawned task that fills `payload` heap bytes and drops them before its sleep, keeping
/// only their checksum.
pub(super) async fn dropped_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    let sum = {
        let mut buf = vec![0u8; payload];
        fill(&mut buf);
        checksum(&buf)
    };
    STARTED.arrive();
    sleep(sleep_duration()).await;
    black_box(sum);
}

/// An unspawned future holding `[u8; P]` inline across its sleep.
pub(super) async fn hold_inline<const P: usize, S: Future>(
    sleep: impl FnOnce(Duration) -> S,
    d: Duration,
) {
    let mut held = [0u8; P];
    fill(&mut held);
    sleep(d).await;
    black_box(&held);
}

/// An unspawned future holding `payload` heap bytes across its sleep.
pub(super) async fn hold_heap<S: Future>(
    payload: usize,
    sleep: impl FnOnce(Duration) -> S,
    d: Duration,
) {
    let held = vec![1u8; payload];
    sleep(d).await;
    black_box(&held);
}

/// An unspawned future that fills `payload` heap bytes and drops them before its sleep.
pub(super) async fn hold_dropped<S: Future>(
    payload: usize,
    sleep: impl FnOnce(Duration) -> S,
    d: Duration,
) {
    let sum = {
        let mut buf = vec![0u8; payload];
        fill(&mut buf);
        checksum(&buf)
    };
    sleep(d).await;
    black_box(sum);
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

/// Hands `body` the constructor of a spawned task holding `payload` (`None`: the plain task)
/// and sleeping with `sleep`. `Err` for an inline size not compiled in.
pub(super) fn spawned_body<S, Z, B>(
    payload: Option<Payload>,
    sleep: Z,
    body: B,
) -> Result<B::Out, String>
where
    S: Future + Send + 'static,
    Z: Sleep<S>,
    B: Body,
{
    let Some(p) = payload else {
        return Ok(body.with(move || task(sleep)));
    };
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
pub(super) fn held_future<S, Z, B>(
    payload: Payload,
    sleep: Z,
    d: Duration,
    body: B,
) -> Result<B::Out, String>
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
