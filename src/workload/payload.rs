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
//! Every spawned body calls [`announce`] at its first poll, before its first await (a call
//! there holds nothing across the await: no byte is added to the future): in a bare run
//! ([`super::RunOptions::bare`]) that is how the run knows each task has been polled.
//!
//! Spawned tasks use the `*_task` bodies, which read the sleep's duration from the run's
//! setting when they start (so they capture nothing but their payload); the unspawned
//! strategies (`join_all`, sequential, `FuturesUnordered`, `buffer_unordered`) use the
//! `hold_*` futures, which create their sleep when first polled. [`spawned`] and [`unspawned`]
//! pick the body for a case and hand its constructor to a [`Body`]: a run, a measurement or a size. Without a
//! payload a spawned task is `async { sleep(d).await }` ([`task`]), as in the published
//! programs, and an unspawned one the runtime's sleep future itself.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use std::time::Instant;

use super::{announce, record_lateness, sleep_duration};
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
    announce();
    let mut held = [0u8; P];
    fill(&mut held);
    sleep(sleep_duration()).await;
    black_box(&held);
}

/// A spawned task that fills `payload` heap bytes and drops them before its sleep, keeping
/// only their checksum.
async fn dropped_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    announce();
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
    announce();
    sleep(sleep_duration()).await;
}

/// A spawned task that also holds `payload` heap bytes across its sleep.
async fn payload_task<S: Future>(payload: usize, sleep: impl FnOnce(Duration) -> S) {
    announce();
    let held = vec![1u8; payload];
    sleep(sleep_duration()).await;
    black_box(&held);
}

/// An unspawned future that records its lateness: its deadline is noted now, with its sleep
/// (not when the future is first polled: the sequential strategy polls its k-th future only
/// after the one before it finished).
fn timed<S: Future>(d: Duration, sleep: S) -> impl Future<Output = ()> {
    let deadline = Instant::now() + d;
    async move {
        sleep.await;
        record_lateness(deadline);
    }
}

/// A spawned task that records its lateness: [`task`] with its deadline noted when it starts,
/// as its sleep is created. It holds 16 bytes more than [`task`] across its sleep (the
/// deadline), where a sleep created beforehand and awaited as an upvar would be held twice.
async fn timed_task<S: Future>(sleep: impl FnOnce(Duration) -> S) {
    announce();
    let d = sleep_duration();
    let deadline = Instant::now() + d;
    sleep(d).await;
    record_lateness(deadline);
}

/// async-std's sleep, as a function item.
pub(super) fn async_std_sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
    async_std::task::sleep(d)
}

/// Hands `body` the constructor of one spawned task of a case: `async { sleep(d).await }`, or
/// with its deadline noted for `lateness`, or holding `payload`. `Err` for an inline size not
/// compiled in.
///
/// The constructors come from functions that are not generic over `B` ([`makers`]): a closure
/// written here would be a new type for each body `B` (each action of a case), and each would
/// compile the runtime's strategies once more.
pub(super) fn spawned<S, Z, B>(
    payload: Option<Payload>,
    lateness: bool,
    sleep: Z,
    body: B,
) -> Result<B::Out, String>
where
    S: Future + Send + 'static,
    S::Output: Send + 'static,
    Z: Sleep<S>,
    B: Body,
{
    Ok(match payload {
        None if lateness => body.with(as_fn(makers::timed_task(sleep))),
        None => body.with(as_fn(makers::task(sleep))),
        Some(p) => match (p.place, p.bytes) {
            (Place::Heap, bytes) => body.with(as_fn(makers::payload_task(bytes, sleep))),
            (Place::Dropped, bytes) => body.with(as_fn(makers::dropped_task(bytes, sleep))),
            (Place::Inline, 0) => body.with(as_fn(makers::inline_task::<0, S, Z>(sleep))),
            (Place::Inline, 64) => body.with(as_fn(makers::inline_task::<64, S, Z>(sleep))),
            (Place::Inline, 1024) => body.with(as_fn(makers::inline_task::<1024, S, Z>(sleep))),
            (Place::Inline, 16_385) => body.with(as_fn(makers::inline_task::<16_385, S, Z>(sleep))),
            (Place::Inline, other) => return Err(not_compiled(other)),
        },
    })
}

/// Hands `body` the constructor of one unspawned future of a case: the runtime's sleep of `d`
/// itself, or with its deadline noted for `lateness`, or holding `payload` around it. `Err`
/// for an inline size not compiled in. Constructors as in [`spawned`].
pub(super) fn unspawned<S, Z, B>(
    payload: Option<Payload>,
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
    Ok(match payload {
        None if lateness => body.with(as_fn(makers::timed(d, sleep))),
        None => body.with(as_fn(makers::sleep(d, sleep))),
        Some(p) => match (p.place, p.bytes) {
            (Place::Heap, bytes) => body.with(as_fn(makers::hold_heap(bytes, sleep, d))),
            (Place::Dropped, bytes) => body.with(as_fn(makers::hold_dropped(bytes, sleep, d))),
            (Place::Inline, 0) => body.with(as_fn(makers::hold_inline::<0, S, Z>(sleep, d))),
            (Place::Inline, 64) => body.with(as_fn(makers::hold_inline::<64, S, Z>(sleep, d))),
            (Place::Inline, 1024) => body.with(as_fn(makers::hold_inline::<1024, S, Z>(sleep, d))),
            (Place::Inline, 16_385) => {
                body.with(as_fn(makers::hold_inline::<16_385, S, Z>(sleep, d)))
            }
            (Place::Inline, other) => return Err(not_compiled(other)),
        },
    })
}

/// A constructor of task futures, returned by [`makers`] without naming its future's type
/// (`impl Fn() -> impl Future` is not allowed as a return type; `impl Make` is).
pub(super) trait Make {
    /// The future made.
    type Fut: Future<Output: Send + 'static> + Send + 'static;
    /// Makes one.
    fn make(&self) -> Self::Fut;
}

impl<F, T> Make for T
where
    F: Future<Output: Send + 'static> + Send + 'static,
    T: Fn() -> F,
{
    type Fut = F;
    fn make(&self) -> F {
        self()
    }
}

/// `make` as a closure whose type depends on `K` alone.
fn as_fn<K: Make>(make: K) -> impl Fn() -> K::Fut {
    move || make.make()
}

/// One constructor per task body, generic over the runtime's sleep alone.
mod makers {
    use std::future::Future;
    use std::time::Duration;

    use super::{Make, Sleep};

    /// Makes [`super::timed`] futures.
    pub fn timed<S, Z>(d: Duration, sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::timed(d, sleep(d))
    }

    /// Makes [`super::timed_task`] futures.
    pub fn timed_task<S, Z>(sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::timed_task(sleep)
    }

    /// Makes [`super::task`] futures.
    pub fn task<S, Z>(sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::task(sleep)
    }

    /// Makes the runtime's sleep futures.
    pub fn sleep<S, Z>(d: Duration, sleep: Z) -> impl Make
    where
        S: Future<Output: Send + 'static> + Send + 'static,
        Z: Sleep<S>,
    {
        move || sleep(d)
    }

    /// Makes [`super::payload_task`] futures.
    pub fn payload_task<S, Z>(bytes: usize, sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::payload_task(bytes, sleep)
    }

    /// Makes [`super::dropped_task`] futures.
    pub fn dropped_task<S, Z>(bytes: usize, sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::dropped_task(bytes, sleep)
    }

    /// Makes [`super::inline_task`] futures.
    pub fn inline_task<const P: usize, S, Z>(sleep: Z) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::inline_task::<P, S>(sleep)
    }

    /// Makes [`super::hold_heap`] futures.
    pub fn hold_heap<S, Z>(bytes: usize, sleep: Z, d: Duration) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::hold_heap(bytes, sleep, d)
    }

    /// Makes [`super::hold_dropped`] futures.
    pub fn hold_dropped<S, Z>(bytes: usize, sleep: Z, d: Duration) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::hold_dropped(bytes, sleep, d)
    }

    /// Makes [`super::hold_inline`] futures.
    pub fn hold_inline<const P: usize, S, Z>(sleep: Z, d: Duration) -> impl Make
    where
        S: Future + Send + 'static,
        Z: Sleep<S>,
    {
        move || super::hold_inline::<P, S>(sleep, d)
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
