//! Handing the memory a burst of lifecycle calls freed back to the kernel.
//!
//! glibc's allocator keeps freed memory inside its heaps for reuse, and gives back only what
//! lies at the top of one: the short-lived buffers of many concurrent calls (D-Bus messages,
//! decoded task configs, property lists) leave the long-lived per-task state scattered among
//! free pages. A burst of 1000 StartTask left the plugin at 58 MiB resident, 37 MiB of it in
//! use (`malloc_trim` measured it under `bench/run rss`). So when the last of a burst's
//! calls has returned, the plugin asks glibc to return its free pages (`malloc_trim`, which
//! releases whole free pages anywhere in its heaps, not only the top), at most once per
//! [`QUIET`]. musl's allocator returns freed memory by itself; there this does nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long nothing may be in flight before the free memory is returned; also the least time
/// between two returns, so a steady trickle of calls costs one trim a second at most.
pub const QUIET: Duration = Duration::from_secs(1);

/// Counts the lifecycle calls in flight and returns free memory once none is.
#[derive(Default)]
pub struct Keeper {
    in_flight: AtomicUsize,
    settled: Notify,
}

/// A call in flight; its end is counted when dropped.
pub struct Busy(Arc<Keeper>);

impl Keeper {
    /// Starts the task that returns the memory. Without a runtime (unit tests) nothing runs.
    pub fn start() -> Arc<Keeper> {
        let keeper = Arc::new(Keeper::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(keep(keeper.clone()));
        }
        keeper
    }

    /// Marks a call as in flight until the returned guard is dropped.
    pub fn busy(self: &Arc<Keeper>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.settled.notify_one();
        }
    }
}

/// Waits for a burst to end, lets it stay ended for [`QUIET`], then returns the free memory.
/// Runs as long as the runtime (the plugin's life).
async fn keep(keeper: Arc<Keeper>) {
    loop {
        // `notify_one` stores a wake-up, so an end noticed before this wait is not lost.
        keeper.settled.notified().await;
        tokio::time::sleep(QUIET).await;
        if keeper.idle() {
            release_free_memory();
        }
    }
}

/// Returns the allocator's free pages to the kernel.
#[cfg(target_env = "gnu")]
fn release_free_memory() {
    // SAFETY: malloc_trim only walks and trims the allocator's own heaps; any thread may call
    // it at any time.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn release_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_count_follows_the_guards() {
        let keeper = Keeper::start();
        assert!(keeper.idle());
        let first = keeper.busy();
        let second = keeper.busy();
        drop(first);
        assert!(!keeper.idle());
        drop(second);
        assert!(keeper.idle());
    }
}
