//! [`fan_out`]: one call to every acceptor at once, each bounded by one timeout, decided as
//! answers arrive.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::protocol::error::{Error, Result};

/// How many calls [`fan_out`] keeps inline (in the caller's future) rather than in a heap
/// allocation: clusters of up to this many acceptors allocate nothing to fan out.
const INLINE_CALLS: usize = 5;

/// Run every call at once and hand each result, with the call's index, to `on_result` as
/// it completes, until `on_result` breaks; the future's output is the break value, or
/// `None` once all completed without one.
///
/// Each call is cut off after `timeout` (it then yields [`Error::Timeout`]). Every call is
/// started in the first poll, so one timer, made by `make_timer` only when a call is still
/// pending after a poll, bounds them all: a fan-out whose calls are ready at once (in-process
/// acceptors) never creates a timer.
///
/// Every call is polled at least once, even when the outcome is decided before its turn:
/// each acceptor is asked (its request sent) although the caller returns at a majority.
/// Calls still running at the break are then dropped (their answers are not awaited).
///
/// Cheaper than `FuturesUnordered` for a handful of futures: no allocation per future, and
/// none at all for up to [`INLINE_CALLS`] of them; each wake-up polls the ones still running.
#[inline]
pub(crate) fn fan_out<Fut, T, Tm, R>(
    mut calls: impl ExactSizeIterator<Item = Fut>,
    make_timer: impl FnMut() -> Tm,
    timeout: Duration,
    on_result: impl FnMut(usize, Result<T>) -> ControlFlow<R>,
) -> impl Future<Output = Option<R>>
where
    Fut: Future<Output = Result<T>>,
    Tm: Future<Output = ()>,
{
    let calls = if calls.len() <= INLINE_CALLS {
        Calls::Inline(std::array::from_fn(|_| calls.next()))
    } else {
        Calls::Heap(calls.map(Some).collect())
    };
    FanOut { calls, timer: None, make_timer, timeout, on_result, first_pass: true }
}

/// The calls of a [`FanOut`]; a call's slot is `None` once it finished (or if there is no
/// such call).
enum Calls<Fut> {
    Inline([Option<Fut>; INLINE_CALLS]),
    Heap(Box<[Option<Fut>]>),
}

/// The future of [`fan_out`].
struct FanOut<Fut, Tm, MakeTimer, OnResult> {
    /// Pinned with the `FanOut` (structural pinning): never moved out, only dropped in place.
    calls: Calls<Fut>,
    /// Pinned with the `FanOut` too.
    timer: Option<Tm>,
    make_timer: MakeTimer,
    timeout: Duration,
    on_result: OnResult,
    first_pass: bool,
}

impl<Fut, T, Tm, R, MakeTimer, OnResult> Future for FanOut<Fut, Tm, MakeTimer, OnResult>
where
    Fut: Future<Output = Result<T>>,
    Tm: Future<Output = ()>,
    MakeTimer: FnMut() -> Tm,
    OnResult: FnMut(usize, Result<T>) -> ControlFlow<R>,
{
    type Output = Option<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<R>> {
        // SAFETY: `calls` and `timer` are structurally pinned: nothing moves a call or the
        // timer out of them (they are only polled through `Pin::new_unchecked` on their
        // place, and ended by overwriting with `None`, which drops them in place), and
        // `FanOut` implements neither `Unpin` by hand nor `Drop`. The other fields are not
        // pinned and are used by `&mut` only.
        let this = unsafe { self.get_unchecked_mut() };
        let slots: &mut [Option<Fut>] = match &mut this.calls {
            Calls::Inline(slots) => slots,
            Calls::Heap(slots) => slots,
        };
        let mut running = false;
        let mut decided = None;
        for (i, slot) in slots.iter_mut().enumerate() {
            if decided.is_some() && !this.first_pass {
                break;
            }
            let Some(call) = slot.as_mut() else { continue };
            // SAFETY: see above; the call stays in its slot until it is dropped there.
            let Poll::Ready(result) = unsafe { Pin::new_unchecked(call) }.poll(cx) else {
                running = true;
                continue;
            };
            *slot = None;
            if decided.is_none() {
                if let ControlFlow::Break(r) = (this.on_result)(i, result) {
                    decided = Some(r);
                }
            }
        }
        this.first_pass = false;
        if let Some(r) = decided {
            return Poll::Ready(Some(r));
        }
        if !running {
            return Poll::Ready(None);
        }
        let timer = this.timer.get_or_insert_with(&mut this.make_timer);
        // SAFETY: see above; the timer stays in `this.timer` until the `FanOut` is dropped.
        if unsafe { Pin::new_unchecked(timer) }.poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The deadline passed: every call still running failed.
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() {
                continue;
            }
            *slot = None;
            if let ControlFlow::Break(r) = (this.on_result)(i, Err(Error::Timeout(this.timeout))) {
                return Poll::Ready(Some(r));
            }
        }
        Poll::Ready(None)
    }
}
